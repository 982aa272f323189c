// The player: streams listed by the node's API (or any playlist URL), played by hls.js, with
// live figures, a segment timeline and every hls.js error in a log.
import { $, fill, h } from './dom.js';
import * as fmt from './format.js';

/** The origin of the admin API: this page's, or the one named by `?api=`. */
const API = apiOrigin();
/**
 * Whether the admin key may be sent to API: always for this page's own origin; for another one
 * (`?api=`) only once the user has confirmed it on the page, on each load.
 */
let apiConfirmed = API === location.origin;
/**
 * Where the admin key of API is kept (sessionStorage: this tab only), one entry per origin: a
 * key entered for one origin is never sent to another.
 */
const KEY_ITEM = `rapidrtmp.adminKey ${API}`;
/** Where an earlier page kept one key for whatever origin it talked to; never read, removed. */
const UNSCOPED_KEY_ITEM = 'rapidrtmp.adminKey';
/** How many loaded segments the bit rate figure averages over. */
const BITRATE_SEGMENTS = 5;
/** How often the outputs of the stream playing are listed again, ms. */
const OUTPUTS_REFRESH_MS = 2000;

const video = $('video');
let hls = null;
let source = null;
let statsTimer = 0;
let outputsTimer = 0;
let loaded = []; // { bytes, duration } of the last segments loaded
const segments = new Map(); // sn → { sn, url, initUrl, duration, cc, buffered }
let playingSn = null;
const listeners = new Set();

/** Errors hls.js reported for the stream playing (also read by the tests). */
window.rapidrtmp = { errors: [] };

export function initPlayer() {
  sessionStorage.removeItem(UNSCOPED_KEY_ITEM);
  $('streams-form').addEventListener('submit', (e) => {
    e.preventDefault();
    listStreams();
  });
  $('playlist-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $('playlist-url').value.trim();
    if (url) play(url, url);
  });
  $('timeline').addEventListener('click', (e) => {
    const sn = e.target.closest('[data-sn]')?.dataset.sn;
    const s = sn && segments.get(Number(sn));
    if (s) inspectSegment(s.url);
  });
  const src = new URLSearchParams(location.hash.split('?')[1] ?? '').get('src');
  if (src) {
    $('playlist-url').value = src;
    play(src, src);
  }
  if (apiConfirmed) useApi(!src);
  else askToConfirmApi(!src);
}

/** The segments of the live window: `[{ sn, url, initUrl, chunkUrl, duration }]`, oldest first. */
export function liveSegments() {
  return [...segments.values()].map((s) => ({ ...s, chunkUrl: chunkUrl(s.url) }));
}

/** Calls `fn` whenever the live window changes. */
export function onSegments(fn) {
  listeners.add(fn);
}

/**
 * The admin API's origin and the key entered for it (`{ origin, key }`), or null while there is
 * no key or another origin (`?api=`) is not confirmed yet.
 */
export function adminApi() {
  const key = $('admin-key').value.trim();
  return apiConfirmed && key ? { origin: API, key } : null;
}

/** Opens a segment of the stream in the inspector. */
function inspectSegment(url) {
  window.dispatchEvent(new CustomEvent('rapidrtmp:inspect', { detail: { url } }));
  location.hash = '#inspector';
}

// --- Streams from the API -----------------------------------------------------------------------

/**
 * `?api=` names another origin: shows it, and sends nothing there until the user confirms it
 * (then lists its streams if `list` and a key was entered for it before).
 */
function askToConfirmApi(list) {
  $('streams-form').hidden = true;
  $('api-confirm-origin').textContent = API;
  const own = new URL(location.href);
  own.searchParams.delete('api');
  $('api-confirm-own').href = own.href;
  fill($('streams'), h('li', { class: 'empty' }, 'Confirm the origin above to list its streams.'));
  $('api-confirm-use').addEventListener('click', () => {
    apiConfirmed = true;
    $('api-confirm').hidden = true;
    $('streams-form').hidden = false;
    useApi(list);
  }, { once: true });
  $('api-confirm').hidden = false;
}

/** Shows API's own key (if one was entered for it in this tab), and lists its streams if `list`. */
function useApi(list) {
  if (API !== location.origin) {
    $('api-origin').textContent = `of ${API}`;
    $('admin-key').placeholder = `Admin key for ${new URL(API).host}`;
  }
  $('admin-key').value = sessionStorage.getItem(KEY_ITEM) ?? '';
  if (list && $('admin-key').value) listStreams();
  else fill($('streams'), h('li', { class: 'empty' }, 'Enter the admin key to list the streams.'));
}

async function listStreams() {
  const key = $('admin-key').value.trim();
  const list = $('streams');
  if (!apiConfirmed) return;
  if (!key) {
    fill(list, h('li', { class: 'empty' }, 'Enter the admin key to list the streams.'));
    return;
  }
  sessionStorage.setItem(KEY_ITEM, key);
  fill(list, h('li', { class: 'empty' }, 'Loading…'));
  let body;
  try {
    const r = await fetch(new URL('/api/v1/streams', API), { headers: { Authorization: `Bearer ${key}` } });
    body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
  } catch (e) {
    fill(list, h('li', { class: 'error' }, `Could not list the streams: ${e.message}`));
    return;
  }
  const streams = body.streams ?? [];
  if (!streams.length) {
    fill(list, h('li', { class: 'empty' }, 'No streams yet: publish one over RTMP.'));
    return;
  }
  fill(list, streams.map(streamItem));
}

function streamItem(s) {
  const url = new URL(s.playbackUrl, API).href;
  const meta = [
    s.codecs,
    s.width && s.height ? `${s.width}×${s.height}` : null,
    s.frameRate ? `${Math.round(s.frameRate * 100) / 100} fps` : null,
    s.bitrate ? fmt.bitrate(s.bitrate) : null,
    `${s.recentViewers ?? 0} watching`,
  ].filter(Boolean);
  return h('li', {},
    h('button', { type: 'button', dataset: { stream: s.streamKey }, onclick: () => playStream(url, s.streamKey) },
      h('span', { class: `badge ${s.state}` }, s.state),
      h('strong', {}, s.streamKey)),
    h('span', { class: 'muted' }, meta.join(' · ')));
}

/** Plays a stream listed by the API, and shows its outputs (restream destinations). */
function playStream(url, key) {
  play(url, key);
  $('outputs-panel').hidden = false;
  $('outputs-stream').textContent = key;
  listOutputs(key);
  outputsTimer = setInterval(() => listOutputs(key), OUTPUTS_REFRESH_MS);
}

/** Lists the outputs of `key`, with their state, errors and figures. */
async function listOutputs(key) {
  const list = $('outputs');
  const admin = sessionStorage.getItem(KEY_ITEM);
  if (!apiConfirmed || !admin) return;
  let body;
  try {
    const path = `/api/v1/streams/${encodeURIComponent(key)}/outputs`;
    const r = await fetch(new URL(path, API), { headers: { Authorization: `Bearer ${admin}` } });
    body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error ?? `${r.status} ${r.statusText}`);
  } catch (e) {
    fill(list, h('li', { class: 'error' }, `Could not list the outputs: ${e.message}`));
    return;
  }
  const outputs = body.outputs ?? [];
  if (!outputs.length) {
    fill(list, h('li', { class: 'empty' }, 'No outputs: POST /api/v1/streams/{key}/outputs adds one.'));
    return;
  }
  fill(list, outputs.map(outputItem));
}

function outputItem(o) {
  const meta = [
    o.fromFlag ? '--restream-url' : null,
    o.bytesSent != null ? `${fmt.bytes(o.bytesSent)} sent` : null,
    o.tagsDropped ? `${fmt.count(o.tagsDropped)} tags dropped` : null,
  ].filter(Boolean);
  const notes = [o.state === 'retrying' ? o.lastError : null, ...(o.notForwarded ?? [])].filter(Boolean);
  return h('li', { dataset: { output: o.id } },
    h('span', {},
      h('span', { class: `badge ${o.state}` }, o.state), ' ',
      h('code', {}, o.url)),
    h('span', { class: 'muted' }, meta.join(' · ')),
    ...notes.map((n) => h('span', { class: 'outputs-error' }, n)));
}

// --- Playback -----------------------------------------------------------------------------------

async function play(url, label) {
  stop();
  source = url;
  $('now-playing').textContent = `Playing ${label}`;
  history.replaceState(null, '', `#player?src=${encodeURIComponent(url)}`);
  let Hls;
  try {
    ({ default: Hls } = await import('../vendor/hls.mjs'));
  } catch (e) {
    logError({ type: 'load', details: `hls.js did not load: ${e.message}`, fatal: true });
    return;
  }
  if (source !== url) return; // another play() started meanwhile
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url; // Safari plays HLS itself
      startStats(null);
      video.play().catch(() => {});
    } else {
      logError({ type: 'unsupported', details: 'this browser has neither Media Source Extensions nor HLS', fatal: true });
    }
    return;
  }
  hls = new Hls({ backBufferLength: 30 });
  const player = hls;
  hls.on(Hls.Events.ERROR, (_, data) => onError(Hls, player, data));
  hls.on(Hls.Events.LEVEL_LOADED, (_, { details }) => onLevel(details));
  hls.on(Hls.Events.FRAG_LOADED, (_, { frag, payload }) => {
    loaded.push({ bytes: payload?.byteLength ?? frag.stats?.total ?? 0, duration: frag.duration });
    loaded = loaded.slice(-BITRATE_SEGMENTS);
  });
  hls.on(Hls.Events.FRAG_BUFFERED, (_, { frag }) => mark(frag.sn, 'buffered'));
  hls.on(Hls.Events.FRAG_CHANGED, (_, { frag }) => {
    playingSn = frag.sn;
    renderTimeline();
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.loadSource(url);
  hls.attachMedia(video);
  startStats(hls);
}

function stop() {
  clearInterval(statsTimer);
  clearInterval(outputsTimer);
  $('outputs-panel').hidden = true;
  hls?.destroy();
  hls = null;
  source = null;
  video.removeAttribute('src');
  video.load();
  loaded = [];
  segments.clear();
  playingSn = null;
  window.rapidrtmp.errors = [];
  $('stat-ll').textContent = '—';
  fill($('player-errors'));
  $('player-log-empty').hidden = false;
  renderTimeline();
}

function onError(Hls, player, data) {
  logError(data);
  if (!data.fatal || player !== hls) return;
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    setTimeout(() => player === hls && player.startLoad(), 2000);
  } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
    player.recoverMediaError();
  } else {
    player.destroy();
    hls = null;
  }
}

function logError(data) {
  const entry = {
    type: data.type,
    details: data.details,
    fatal: Boolean(data.fatal),
    reason: data.reason ?? data.error?.message ?? data.response?.text ?? '',
    url: data.frag?.url ?? data.url ?? data.context?.url ?? '',
  };
  window.rapidrtmp.errors.push(entry);
  const time = new Date().toLocaleTimeString();
  $('player-errors').append(h('li', { class: entry.fatal ? 'error' : '' },
    h('time', {}, time), ` ${entry.fatal ? 'fatal ' : ''}${entry.type} · ${entry.details}`,
    entry.reason ? h('span', { class: 'muted' }, ` — ${entry.reason}`) : null,
    entry.url ? h('span', { class: 'muted' }, ` (${fmt.baseName(entry.url)})`) : null));
  $('player-log-empty').hidden = true;
}

// --- Live figures -------------------------------------------------------------------------------

function startStats(player) {
  const tick = () => {
    $('stat-latency').textContent = fmt.seconds(latency(player), 1);
    $('stat-buffer').textContent = fmt.seconds(bufferAhead(), 1);
    const bytes = loaded.reduce((a, s) => a + s.bytes, 0);
    const duration = loaded.reduce((a, s) => a + s.duration, 0);
    $('stat-bitrate').textContent = fmt.bitrate(duration > 0 ? (bytes * 8) / duration : NaN);
    $('stat-resolution').textContent = video.videoWidth ? `${video.videoWidth} × ${video.videoHeight}` : '—';
    const q = video.getVideoPlaybackQuality?.();
    $('stat-dropped').textContent = q ? `${q.droppedVideoFrames} of ${fmt.count(q.totalVideoFrames)}` : '—';
  };
  tick();
  statsTimer = setInterval(tick, 500);
}

/**
 * Seconds behind the live edge. hls.js says 0 until it knows; below 0, the player holds media
 * past the edge its playlist gives (LL-HLS: the hinted part), so it is at the edge.
 */
function latency(player) {
  if (player) return player.latency === 0 ? NaN : Math.max(player.latency, 0);
  const seekable = video.seekable;
  return seekable.length ? seekable.end(seekable.length - 1) - video.currentTime : NaN;
}

/** Seconds buffered ahead of the playhead. */
function bufferAhead() {
  const t = video.currentTime;
  const b = video.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i) - t;
  }
  return b.length ? 0 : NaN;
}

// --- Segment timeline ---------------------------------------------------------------------------

function onLevel(details) {
  // LL-HLS is on when the playlist has parts and hls.js uses them (its lowLatencyMode).
  const ll = details.partTarget > 0 && hls?.lowLatencyMode;
  $('stat-ll').textContent = details.partTarget > 0
    ? `${ll ? 'on' : 'off'} · parts of ${fmt.seconds(details.partTarget, 3)}${details.canBlockReload ? ', blocking reload' : ''}`
    : 'off · no parts';
  const buffered = new Set([...segments.values()].filter((s) => s.buffered).map((s) => s.sn));
  segments.clear();
  for (const f of details.fragments) {
    segments.set(f.sn, {
      sn: f.sn,
      url: f.url,
      initUrl: f.initSegment?.url ?? null,
      duration: f.duration,
      cc: f.cc,
      buffered: buffered.has(f.sn),
    });
  }
  renderTimeline();
  for (const fn of listeners) fn();
}

function mark(sn, state) {
  const s = segments.get(sn);
  if (!s) return;
  s[state] = true;
  renderTimeline();
}

function renderTimeline() {
  const timeline = $('timeline');
  if (!segments.size) {
    fill(timeline, h('p', { class: 'empty' }, source ? 'Waiting for the playlist…' : 'Play a stream to see its segments.'));
    return;
  }
  let cc = null;
  fill(timeline, [...segments.values()].map((s) => {
    const discontinuity = cc !== null && s.cc !== cc;
    cc = s.cc;
    const classes = ['segment', s.buffered && 'buffered', s.sn === playingSn && 'playing', discontinuity && 'discontinuity'];
    return h('button', {
      type: 'button',
      class: classes.filter(Boolean).join(' '),
      dataset: { sn: s.sn },
      style: { flexGrow: String(Math.max(s.duration, 0.1)) },
      title: `${fmt.baseName(s.url)} · ${fmt.seconds(s.duration)}${discontinuity ? ' · after a discontinuity' : ''} · click to inspect`,
    }, h('span', {}, `#${s.sn}`), h('small', {}, fmt.seconds(s.duration, 1)));
  }));
}

// --- Helpers ------------------------------------------------------------------------------------

/** The chunk a RapidRTMP segment is built from: `…/live/{key}/{session}/{seq}.m4s` → `.flv`. */
function chunkUrl(url) {
  const u = new URL(url);
  if (!/^\/live\/[^/]+\/[^/]+\/\d+\.m4s$/.test(u.pathname)) return null;
  u.pathname = u.pathname.replace(/\.m4s$/, '.flv');
  return u.href;
}

function apiOrigin() {
  const given = new URLSearchParams(location.search).get('api');
  if (given) {
    try {
      const u = new URL(given, location.href);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.origin;
    } catch {
      // fall through to this page's origin
    }
  }
  return location.origin;
}
