// The inspector: what is inside an init segment, a media segment, a chunk (picked from the
// stream playing) or any file dropped on the page, read by the core's own inspector (the report
// of `rapidrtmp inspect --json`): the box tree, the tracks, the samples, a GOP and bit rate chart,
// and for FLV files the tag list.
import { drawChart, extent } from './chart.js';
import { core, fileBytes, MAX_FILE_BYTES } from './core.js';
import { $, download, dropTarget, fill, h } from './dom.js';
import * as fmt from './format.js';
import { liveSegments, onSegments } from './player.js';

/** Rows of the sample and tag tables: the rest is in the JSON download. */
const MAX_ROWS = 2000;
/** Boxes drawn in the tree (a long MP4 has tens of thousands). */
const MAX_BOXES = 5000;

const pick = $('inspect-pick');
/** The init segment of each media segment offered, to read a lone segment's timescales and codecs. */
let initOf = new Map();
/** The report shown: `{ name, json }`. */
let current = null;
let loads = 0;

export function initInspector() {
  pick.addEventListener('change', () => pick.value && loadUrl(pick.value));
  $('inspect-refresh').addEventListener('click', fillPicker);
  $('inspect-url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $('inspect-url').value.trim();
    if (url) loadUrl(url);
  });
  $('inspect-file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) loadFile(file);
  });
  dropTarget($('view-inspector'), loadFile);
  $('inspect-json').addEventListener('click', () => {
    if (current) download(current.json, `${current.name}.json`, 'application/json');
  });
  // The first window of a stream fills the list; later ones wait for ↻, not to move it under the user.
  onSegments(() => pick.querySelector('option[value$=".m4s"]') || fillPicker());
  window.addEventListener('rapidrtmp:inspect', (e) => {
    fillPicker();
    pick.value = e.detail.url;
    loadUrl(e.detail.url);
  });
  window.addEventListener('resize', () => redraw?.());
}

export function showInspector() {
  fillPicker();
}

// --- Sources ------------------------------------------------------------------------------------

/** Offers the init segments, media segments and chunks of the live window. */
function fillPicker() {
  const segments = liveSegments();
  const keep = pick.value;
  initOf = new Map(segments.filter((s) => s.initUrl).map((s) => [s.url, s.initUrl]));
  const option = (value, text) => h('option', { value }, text);
  const inits = [...new Set(segments.map((s) => s.initUrl).filter(Boolean))];
  const chunks = segments.filter((s) => s.chunkUrl);
  fill(pick,
    option('', segments.length ? 'Choose a segment of the stream' : 'Play a stream to pick its segments'),
    inits.length && h('optgroup', { label: 'Init segments' }, inits.map((u) => option(u, fmt.baseName(u)))),
    segments.length && h('optgroup', { label: 'Media segments' },
      segments.map((s) => option(s.url, `#${s.sn} · ${fmt.baseName(s.url)} · ${fmt.seconds(s.duration)}`))),
    chunks.length && h('optgroup', { label: 'Chunks (FLV as published)' },
      chunks.map((s) => option(s.chunkUrl, `#${s.sn} · ${fmt.baseName(s.chunkUrl)}`))));
  if (keep && ![...pick.options].some((o) => o.value === keep)) {
    pick.append(h('optgroup', { label: 'No longer in the window' }, option(keep, fmt.baseName(keep))));
  }
  pick.value = keep;
}

async function loadUrl(url) {
  const name = fmt.baseName(url);
  await load(name, url, async () => {
    const init = initOf.get(url);
    const [bytes, initBytes] = await Promise.all([fetchBytes(url), init ? fetchBytes(init) : null]);
    return { bytes, initBytes };
  });
}

async function loadFile(file) {
  pick.value = '';
  await load(file.name, 'a local file', async () => ({ bytes: await fileBytes(file) }));
}

/** Loads and shows one file; a later load supersedes an unfinished one. */
async function load(name, origin, read) {
  const id = ++loads;
  $('inspect-error').textContent = '';
  // Not naming the file yet: the summary names it once its report is shown.
  fill($('inspect-summary'), h('p', { class: 'muted' }, 'Loading…'));
  try {
    const [{ inspect }, { bytes, initBytes }] = await Promise.all([core(), read()]);
    if (id !== loads) return;
    const json = inspect(bytes);
    const init = initBytes ? safeReport(inspect, initBytes) : null;
    current = { name, json };
    show(name, origin, JSON.parse(json), init);
  } catch (e) {
    if (id !== loads) return;
    current = null;
    $('inspect-json').disabled = true;
    $('inspect-body').hidden = true;
    $('inspect-error').textContent = `${name}: ${e.message ?? e}`;
    fill($('inspect-summary'), h('p', { class: 'muted' }, `${name} could not be read.`));
  }
}

/** The report of a file that only lends context (a segment's init): `null` when unreadable. */
function safeReport(inspect, bytes) {
  try {
    const r = JSON.parse(inspect(bytes));
    return r.format === 'mp4' ? r : null;
  } catch {
    return null;
  }
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) {
    const text = (await r.text().catch(() => '')).trim().slice(0, 200);
    throw new Error(`GET ${fmt.baseName(url)}: ${r.status} ${r.statusText}${text ? ` — ${text}` : ''}`);
  }
  if (Number(r.headers.get('content-length')) > MAX_FILE_BYTES) throw new Error(`${fmt.baseName(url)} is over 1 GB`);
  return new Uint8Array(await r.arrayBuffer());
}

// --- Views --------------------------------------------------------------------------------------

let redraw = null;

function show(name, origin, report, init) {
  $('inspect-json').disabled = false;
  $('inspect-body').hidden = false;
  const isFlv = report.format === 'flv';
  $('mp4-details').hidden = isFlv;
  $('flv-details').hidden = !isFlv;
  for (const table of ['tracks', 'samples', 'flv-tags']) fill($(table).tBodies[0]);
  fill($('box-tree'));
  const view = isFlv ? flvView(report) : mp4View(report, init);
  const warnings = [...boxErrors(report.boxes ?? []), ...(report.warnings ?? []), ...(report.error ? [report.error] : [])];
  $('inspect-warnings').hidden = !warnings.length;
  fill($('inspect-warnings').querySelector('ul'), warnings.map((w) => h('li', {}, w)));

  const chart = view.chart;
  $('gop-panel').hidden = chart.empty;
  $('gop-note').textContent = chart.note;
  redraw = () => chart.empty || drawChart($('gop-chart'), chart);
  redraw();
  // The summary comes last: once it names the file, everything else is in place.
  fill($('inspect-summary'),
    card('File', name, origin),
    card('Format', view.format, fmt.bytes(report.fileSize)),
    ...view.cards);
}

/** The errors of boxes that did not decode, as `path @offset: error`, in file order. */
function boxErrors(boxes, path = '') {
  return boxes.flatMap((b) => {
    const at = `${path}${path ? '/' : ''}${b.type}`;
    return [...(b.error ? [`${at} @${b.offset}: ${b.error}`] : []), ...boxErrors(b.children, at)];
  });
}

function card(label, value, detail) {
  return h('div', { class: 'card' }, h('span', { class: 'label' }, label), h('strong', {}, value),
    detail ? h('span', { class: 'muted' }, detail) : null);
}

// --- MP4 ----------------------------------------------------------------------------------------

function mp4View(report, init) {
  // A lone media segment names its tracks only by id: its init segment says what they are.
  const tracks = report.tracks.map((t) => {
    const known = init?.tracks.find((i) => i.trackId === t.trackId) ?? {};
    const merged = { ...t };
    for (const k of ['handler', 'codec', 'sampleEntry', 'width', 'height', 'sampleRate', 'channels', 'timescale']) {
      merged[k] ??= known[k] ?? null;
    }
    return merged;
  });
  const byId = new Map(tracks.map((t) => [t.trackId, t]));
  /** `ticks` of sample `s`'s track in seconds; `null` when its timescale is unknown. */
  const inSeconds = (s, ticks) => {
    const ts = byId.get(s.trackId)?.timescale;
    return ts ? ticks / ts : null;
  };

  fill($('tracks').tBodies[0], tracks.map((t) => h('tr', { dataset: { trackId: t.trackId } },
    h('td', {}, t.trackId),
    h('td', {}, t.handler ?? '—'),
    h('td', { class: 'mono' }, t.codec ?? t.sampleEntry ?? '—'),
    h('td', {}, trackDetails(t)),
    h('td', { class: 'num' }, t.timescale ?? '—'),
    h('td', { class: 'num' }, fmt.seconds(trackSeconds(t) ?? NaN, 3)),
    h('td', { class: 'num', dataset: { sampleCount: '' } }, fmt.count(t.sampleCount)))));

  const shown = report.samples.slice(0, MAX_ROWS);
  const time = (s, ticks) => {
    const seconds = inSeconds(s, ticks);
    return h('td', { class: 'num', title: `${ticks} ticks` }, seconds === null ? ticks : seconds.toFixed(3));
  };
  fill($('samples').tBodies[0], shown.map((s) => h('tr', { class: s.keyframe ? 'key' : '' },
    h('td', { class: 'num' }, s.index),
    h('td', { class: 'num' }, s.trackId),
    h('td', { class: 'num' }, s.fragment ?? '—'),
    time(s, s.decodeTime),
    time(s, s.presentationTime),
    h('td', { class: 'num' }, s.compositionOffset),
    h('td', { class: 'num' }, s.duration),
    h('td', { class: 'num' }, fmt.count(s.size)),
    h('td', { class: 'num' }, fmt.count(s.offset)),
    h('td', {}, s.flags === null ? '—' : fmt.hex32(s.flags)),
    h('td', { class: 'flag' }, s.keyframe ? 'key' : ''))));
  const total = report.samples.length;
  const unknownTimescale = tracks.some((t) => !t.timescale);
  $('samples-note').textContent = [
    total > MAX_ROWS ? `the first ${fmt.count(MAX_ROWS)} of ${fmt.count(total)}` : `${fmt.count(total)}`,
    report.samplesTruncated ? 'the file has more than the report lists' : null,
    unknownTimescale ? 'times in track ticks' : 'times in seconds (ticks on hover); CTS, duration in ticks',
  ].filter(Boolean).join(' · ');

  const boxes = { left: MAX_BOXES };
  fill($('box-tree'), report.boxes.map((b) => boxNode(b, 0, boxes)),
    boxes.left < 0 ? h('p', { class: 'muted' }, `${fmt.count(-boxes.left)} more boxes are in the JSON download.`) : null);

  const video = tracks.find(isVideo);
  const points = report.samples.map((s) => ({ t: inSeconds(s, s.decodeTime), size: s.size, key: s.keyframe, trackId: s.trackId }));
  const frames = video ? points.filter((p) => p.trackId === video.trackId) : [];
  const chart = chartData(frames, points);

  const duration = Math.max(0, extent(tracks.map((t) => trackSeconds(t) ?? 0))[1]);
  return {
    format: report.fragmented ? 'fragmented MP4' : 'MP4',
    chart,
    cards: [
      ...tracks.map((t) => card(`Track ${t.trackId}${t.handler ? ` · ${t.handler}` : ''}`, t.codec ?? t.sampleEntry ?? 'unknown codec', trackDetails(t))),
      card('Samples', fmt.count(total), `${fmt.count(frames.filter((f) => f.key).length)} keyframes`),
      duration ? card('Duration', fmt.seconds(duration, 3), 'from the track headers') : null,
      card('Boxes', fmt.count(report.boxes.length), 'at the top level'),
    ].filter(Boolean),
  };
}

/** A track's duration in seconds, when its header and timescale say. */
function trackSeconds(t) {
  return t.duration && t.timescale ? t.duration / t.timescale : null;
}

function isVideo(t) {
  return t.handler === 'vide' || /^(avc|hev|hvc|av01|vp0)/.test(t.codec ?? t.sampleEntry ?? '');
}

function trackDetails(t) {
  if (t.width && t.height) return `${t.width}×${t.height}`;
  if (t.sampleRate) return `${t.sampleRate} Hz${t.channels ? `, ${t.channels} ch` : ''}`;
  return '';
}

/** One box as a collapsible `<details data-box>`: its header, its decoded fields, its children. */
function boxNode(b, depth, budget) {
  budget.left -= 1;
  if (budget.left < 0) return null;
  const fields = Object.entries(b.fields ?? {});
  return h('details', { dataset: { box: b.type }, open: depth < 2 || b.error ? true : null },
    h('summary', {},
      h('code', {}, b.type),
      h('span', { class: 'muted' }, ` ${fmt.count(b.size)} B @ ${fmt.count(b.offset)}`),
      b.error ? h('span', { class: 'error' }, ` ${b.error}`) : null),
    fields.length ? h('dl', { class: 'fields' }, fields.flatMap(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, /flags$/i.test(k) && typeof v === 'number' ? fmt.hex32(v) : fmt.field(v)),
    ])) : null,
    b.children.map((c) => boxNode(c, depth + 1, budget)));
}

// --- FLV ----------------------------------------------------------------------------------------

function flvView(report) {
  const shown = report.tags.slice(0, MAX_ROWS);
  fill($('flv-tags').tBodies[0], shown.map((t) => h('tr', { class: t.keyframe ? 'key' : '' },
    h('td', { class: 'num' }, t.index),
    h('td', { class: 'num' }, fmt.count(t.offset)),
    h('td', {}, t.type),
    h('td', { class: 'num' }, t.timestamp),
    h('td', { class: 'num' }, fmt.count(t.size)),
    h('td', {}, t.codec ?? ''),
    h('td', {}, t.packetType ?? ''),
    h('td', { class: 'flag' }, t.keyframe ? 'key' : ''),
    h('td', { class: 'num' }, t.compositionTime ?? ''),
    h('td', { class: 'detail' }, t.detail ?? ''))));
  const listed = report.tags.length;
  $('flv-note').textContent = [
    listed > MAX_ROWS ? `the first ${fmt.count(MAX_ROWS)} of ${fmt.count(listed)}` : fmt.count(listed),
    report.tagsNotListed ? `${fmt.count(report.tagsNotListed)} more not listed` : null,
    'times in milliseconds',
  ].filter(Boolean).join(' · ');

  const media = report.tags.filter((t) => t.type === 'video' || t.type === 'audio');
  const frames = media.filter((t) => t.type === 'video' && t.packetType !== 'sequence-start' && t.keyframe !== null);
  const chart = chartData(
    frames.map((t) => ({ t: t.timestamp / 1000, size: t.size, key: t.keyframe })),
    media.map((t) => ({ t: t.timestamp / 1000, size: t.size })),
  );
  const codecs = report.tags.filter((t) => t.packetType === 'sequence-start' || t.type === 'script');
  const header = report.header;
  return {
    format: `FLV v${header.version}`,
    chart,
    cards: [
      card('Tags', fmt.count(listed + (report.tagsNotListed ?? 0)),
        `${[header.hasVideo && 'video', header.hasAudio && 'audio'].filter(Boolean).join(' + ') || 'no media'} flagged`),
      ...codecs.slice(0, 4).map((t) => card(t.type === 'script' ? 'Metadata' : `${t.type} config`,
        t.codec ?? t.type, t.detail ?? '')),
      card('Keyframes', fmt.count(frames.filter((t) => t.keyframe).length), `of ${fmt.count(frames.length)} video frames`),
    ],
  };
}

// --- Chart data ---------------------------------------------------------------------------------

/**
 * What the GOP and bit rate chart draws: video frames (time in seconds, size, keyframe) and
 * every media sample, for the bit rate; with a note that sums it up.
 */
function chartData(frames, all) {
  const timed = frames.every((f) => f.t !== null) && all.every((s) => s.t !== null);
  const keys = frames.map((f, i) => ({ ...f, i })).filter((f) => f.key);
  const notes = [];
  if (keys.length >= 2) {
    const gopFrames = (keys.at(-1).i - keys[0].i) / (keys.length - 1);
    const gop = timed ? ` (${fmt.seconds((keys.at(-1).t - keys[0].t) / (keys.length - 1))})` : '';
    notes.push(`a keyframe every ${gopFrames.toFixed(1)} frames${gop}`);
  } else if (frames.length) {
    notes.push(keys.length ? `one keyframe in ${fmt.count(frames.length)} frames` : `no keyframe in ${fmt.count(frames.length)} frames`);
  }
  if (timed && frames.length >= 2) {
    const span = frames.at(-1).t - frames[0].t;
    if (span > 0) notes.push(`${((frames.length - 1) / span).toFixed(2)} fps`);
  }
  if (timed && all.length >= 2) {
    const [first, last] = extent(all.map((s) => s.t));
    const span = last - first;
    if (span > 0) notes.push(`${fmt.bitrate((all.reduce((a, s) => a + s.size, 0) * 8) / span)} on average`);
  }
  if (!timed) notes.push('no timescale known: frames by index');
  // Without times, frames are drawn by index, and there is no bit rate.
  const empty = timed ? !all.length : !frames.length;
  return { frames, all, timed, empty, note: notes.join(' · ') };
}
