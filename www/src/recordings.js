// The recordings view (`#recordings`, `#recordings?stream=KEY` lists one at once): the publishing
// sessions of a stream that the store still holds, from the API
// (`GET /api/v1/streams/{key}/recordings`); one played with hls.js; a range chosen on its
// timeline, shown in wall-clock time (the playlist's `EXT-X-PROGRAM-DATE-TIME`); and that range
// downloaded as one MP4 (`/live/{key}/clip.mp4?start=…&end=…&filename=…`).
import { $, fill, h } from './dom.js';
import * as fmt from './format.js';
import { adminApi } from './player.js';

/** Recordings asked of the API per page (its `limit`, at most 100). */
const PAGE = 50;
/** Pages listed at most for one stream: 1,000 sessions. */
const MAX_PAGES = 20;
/** The step of the range handles and of the arrow keys on them, in seconds. */
const STEP = 0.1;

const video = $('rec-video');
let hls = null;
let stream = null; // the stream key listed
let playing = null; // the recording played: { id, start, end, … } as the API gives it
let fragments = []; // [{ start, duration, date }] of the playlist played: media time → wall clock

/** What the tests read: hls.js errors of the recording played, with the playback time of each. */
window.rapidrtmp.recordings = { errors: [] };

export function initRecordings() {
  $('rec-form').addEventListener('submit', (e) => {
    e.preventDefault();
    list($('rec-stream').value.trim());
  });
  $('rec-list').addEventListener('click', (e) => {
    const id = e.target.closest('button[data-recording]')?.dataset.recording;
    const rec = id && recordings.get(id);
    if (rec) play(rec);
  });
  for (const which of ['start', 'end']) {
    const range = $(`rec-${which}`);
    range.step = String(STEP);
    range.addEventListener('input', () => {
      order(which);
      video.currentTime = Number(range.value);
      update();
    });
    $(`rec-${which}-here`).addEventListener('click', () => {
      range.value = String(video.currentTime);
      order(which);
      update();
    });
  }
  $('rec-filename').addEventListener('input', update);
  $('rec-download').addEventListener('click', checkClip);
}

/** Shows the view; lists the stream named by `#recordings?stream=KEY`, if any. */
export function showRecordings() {
  const key = new URLSearchParams(location.hash.split('?')[1] ?? '').get('stream');
  if (key && key !== stream) {
    $('rec-stream').value = key;
    list(key);
  }
}

// --- The list -----------------------------------------------------------------------------------

const recordings = new Map(); // id → recording

async function list(key) {
  const out = $('rec-list');
  error('');
  if (!key) {
    fill(out, h('p', { class: 'empty' }, 'Enter a stream key.'));
    return;
  }
  const api = adminApi();
  if (!api) {
    fill(out, h('p', { class: 'empty' }, 'Enter the admin key in the ', h('a', { href: '#player' }, 'Player'), ' view first.'));
    return;
  }
  stream = key;
  history.replaceState(null, '', `#recordings?stream=${encodeURIComponent(key)}`);
  fill(out, h('p', { class: 'empty' }, 'Loading…'));
  const all = [];
  try {
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = new URL(`/api/v1/streams/${encodeURIComponent(key)}/recordings`, api.origin);
      url.searchParams.set('limit', String(PAGE));
      if (cursor) url.searchParams.set('cursor', cursor);
      const r = await fetch(url, { headers: { Authorization: `Bearer ${api.key}` } });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
      all.push(...(body.recordings ?? []));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
  } catch (e) {
    if (stream !== key) return;
    fill(out);
    error(`Could not list the recordings of ${key}: ${e.message}`);
    return;
  }
  if (stream !== key) return; // another stream was asked for meanwhile
  recordings.clear();
  for (const r of all) recordings.set(r.id, { ...r, url: new URL(r.playlistUrl, api.origin).href, origin: api.origin });
  if (!all.length) {
    fill(out, h('p', { class: 'empty' }, `The store holds no recording of ${key}.`));
    return;
  }
  fill(out, h('table', { class: 'grid' },
    h('caption', { class: 'muted' }, `${all.length} recording${all.length === 1 ? '' : 's'} of ${key}, oldest first`),
    h('thead', {}, h('tr', {}, ['Start', 'End', 'Duration', 'Size', 'Chunks', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, all.map((r) => h('tr', { dataset: { recording: r.id, durationMs: r.durationMs } },
      h('td', {}, wallClock(Date.parse(r.start))),
      h('td', {}, r.live ? h('span', { class: 'badge live' }, 'live') : wallClock(Date.parse(r.end))),
      h('td', { class: 'num duration' }, duration(r.durationMs)),
      h('td', { class: 'num' }, fmt.bytes(r.bytes)),
      h('td', { class: 'num' }, fmt.count(r.chunks)),
      h('td', {}, h('button', { type: 'button', dataset: { recording: r.id }, 'aria-label': `Play the recording of ${wallClock(Date.parse(r.start))}` }, 'Play')))))));
}

// --- Playback -----------------------------------------------------------------------------------

async function play(rec) {
  stop();
  playing = rec;
  error('');
  $('rec-playing').textContent = `${rec.live ? 'Live recording' : 'Recording'} from ${wallClock(Date.parse(rec.start))}`;
  $('rec-player').hidden = false;
  for (const tr of document.querySelectorAll('#rec-list tr[data-recording]')) tr.classList.toggle('playing', tr.dataset.recording === rec.id);
  let Hls;
  try {
    ({ default: Hls } = await import('../vendor/hls.mjs'));
  } catch (e) {
    error(`hls.js did not load: ${e.message}`);
    return;
  }
  if (playing !== rec) return;
  if (!Hls.isSupported()) {
    error('This browser has no Media Source Extensions: it cannot play the recording here.');
    return;
  }
  hls = new Hls({ backBufferLength: 30 });
  const player = hls;
  hls.on(Hls.Events.ERROR, (_, data) => {
    window.rapidrtmp.recordings.errors.push({ type: data.type, details: data.details, fatal: Boolean(data.fatal), at: video.currentTime });
    if (!data.fatal || player !== hls) return;
    const status = data.response?.code ? ` (${data.response.code}${data.response.text ? `: ${data.response.text}` : ''})` : '';
    error(`The recording did not play: ${data.details}${status}`);
    player.destroy();
    hls = null;
  });
  hls.on(Hls.Events.LEVEL_LOADED, (_, { details }) => {
    fragments = details.fragments.map((f) => ({ start: f.start, duration: f.duration, date: f.programDateTime }));
    const total = details.totalduration;
    for (const which of ['start', 'end']) $(`rec-${which}`).max = String(total);
    if (!$('rec-range').dataset.set) {
      $('rec-range').dataset.set = '1';
      $('rec-start').value = '0';
      $('rec-end').value = String(total);
    }
    update();
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.loadSource(rec.url);
  hls.attachMedia(video);
}

function stop() {
  hls?.destroy();
  hls = null;
  playing = null;
  fragments = [];
  window.rapidrtmp.recordings.errors = [];
  video.removeAttribute('src');
  video.load();
  delete $('rec-range').dataset.set;
}

// --- The range and the clip ---------------------------------------------------------------------

/** Keeps start ≤ end: the handle `moved` pushes the other one. */
function order(moved) {
  const start = $('rec-start');
  const end = $('rec-end');
  if (Number(start.value) <= Number(end.value)) return;
  if (moved === 'start') end.value = start.value;
  else start.value = end.value;
}

/** The wall-clock time (ms since the epoch) of media time `t` of the recording played, or NaN. */
function dateAt(t) {
  let f = null;
  for (const g of fragments) if (g.start <= t + 1e-6) f = g;
  f ??= fragments[0];
  return f && Number.isFinite(f.date) ? f.date + (t - f.start) * 1000 : NaN;
}

/** Shows the range in wall-clock time and points the download link at its clip. */
function update() {
  const link = $('rec-download');
  const start = dateAt(Number($('rec-start').value));
  const end = dateAt(Number($('rec-end').value));
  $('rec-start-at').textContent = wallClock(start);
  $('rec-end-at').textContent = wallClock(end);
  $('rec-length').textContent = Number.isFinite(end - start) ? duration(end - start) : '—';
  $('rec-clip-error').textContent = '';
  if (!playing || !(end > start)) {
    link.removeAttribute('href');
    link.setAttribute('aria-disabled', 'true');
    if (playing && Number.isFinite(start)) $('rec-clip-error').textContent = 'The clip ends where it starts: move a handle.';
    return;
  }
  const name = $('rec-filename').value.trim() || `${stream}-${new Date(start).toISOString().replace(/[:.]/g, '-')}.mp4`;
  const url = new URL(`/live/${encodeURIComponent(stream)}/clip.mp4`, playing.origin);
  url.searchParams.set('start', unixSeconds(start));
  url.searchParams.set('end', unixSeconds(end));
  url.searchParams.set('filename', name.endsWith('.mp4') ? name : `${name}.mp4`);
  link.href = url.href;
  link.setAttribute('download', url.searchParams.get('filename'));
  link.removeAttribute('aria-disabled');
}

/**
 * Before the browser downloads the clip, asks for its first byte: a refusal (a clip longer than
 * the node allows, over a change of codec, outside the archive) is shown with the node's reason
 * instead of being saved as a file.
 */
async function checkClip(e) {
  const link = e.currentTarget;
  if (!link.href) {
    e.preventDefault();
    return;
  }
  if (link.dataset.checked === link.href) {
    delete link.dataset.checked; // this click downloads; the next one checks again
    return;
  }
  e.preventDefault();
  const href = link.href;
  $('rec-clip-error').textContent = '';
  $('rec-clip-status').textContent = 'Checking the clip…';
  let message = null;
  try {
    const r = await fetch(href, { headers: { Range: 'bytes=0-0' } });
    if (!r.ok) {
      const text = (await r.text()).trim();
      let reason = text;
      try {
        reason = JSON.parse(text).error ?? text;
      } catch {
        // a plain-text message
      }
      message = `The node refused the clip (${r.status}): ${reason || r.statusText}`;
    } else {
      await r.body?.cancel();
    }
  } catch (err) {
    message = `Could not reach the node for the clip: ${err.message}`;
  }
  $('rec-clip-status').textContent = '';
  if (message) {
    $('rec-clip-error').textContent = message;
    return;
  }
  if (link.href !== href) return; // the range changed meanwhile
  link.dataset.checked = href;
  link.click();
}

// --- Helpers ------------------------------------------------------------------------------------

function error(text) {
  $('rec-error').textContent = text;
}

/** Milliseconds since the epoch → "2026-12-06 15:20:00.500 UTC". */
function wallClock(ms) {
  if (!Number.isFinite(ms)) return '—';
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** Milliseconds since the epoch → Unix seconds with milliseconds, as the clip URL takes them. */
function unixSeconds(ms) {
  return (Math.round(ms) / 1000).toFixed(3);
}

/** Milliseconds → "6.0 s", "12:03.4", "1:02:03.4". */
export function duration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const tenths = Math.round(ms / 100);
  const s = (tenths % 600) / 10;
  const m = Math.floor(tenths / 600);
  if (m === 0) return `${s.toFixed(1)} s`;
  const ss = s.toFixed(1).padStart(4, '0');
  return m < 60 ? `${m}:${ss}` : `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${ss}`;
}
