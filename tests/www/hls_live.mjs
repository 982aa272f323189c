// Plays a live HLS stream with hls.js in its default configuration (Low-Latency mode on) in
// headless Chromium for a while, and reports as JSON on stdout what a viewer would have seen:
// every hls.js ERROR event (fatal or not) with the wall-clock time and the playback time it came
// at, the buffered ranges of each SourceBuffer (audio and video apart) at that instant, hls.js's
// latency estimate every second and its target latency at the end, the frames decoded and dropped, and the time
// from page load to the first frame. With TRACE=1, also every part and segment hls.js loaded
// (when asked, when loaded, its start and duration) and every playlist it loaded.
//
// Environment: URL (the media playlist), WWW (the www/ folder, for its node_modules: hls.js and
// playwright-core), CHROMIUM (default /usr/bin/chromium), SECONDS (how long to play after the
// first frame; default 60), TRACE (1 or 0; default 0).
import { env, openPage } from './chromium.mjs';

const URL_ = env('URL');
const WWW = env('WWW');
const SECONDS = Number(env('SECONDS', '60'));
const TRACE = env('TRACE', '0') === '1';

const page = `<!doctype html><video id=v muted playsinline></video>
<script>
// The SourceBuffers hls.js makes, to tell the audio from the video buffer.
window.sourceBuffers = [];
const addSourceBuffer = MediaSource.prototype.addSourceBuffer;
MediaSource.prototype.addSourceBuffer = function (type) {
  const sb = addSourceBuffer.call(this, type);
  window.sourceBuffers.push({ type, sb });
  return sb;
};
</script>
<script src="/hls.js"></script>
<script>
const TRACE = ${TRACE};
const t0 = performance.now();
const now = () => Math.round(performance.now() - t0);
const ranges = (r) => Array.from({ length: r.length }, (_, i) => [+r.start(i).toFixed(3), +r.end(i).toFixed(3)]);
const buffers = () => Object.fromEntries(window.sourceBuffers.map(({ type, sb }) => {
  let b = []; try { b = ranges(sb.buffered); } catch (e) {}
  return [type.split('/')[0] + (type.includes('mp4a') && type.startsWith('video') ? '+audio' : ''), b];
}));
window.report = { errors: [], trace: [], latencies: [], playlists: 0, parts: 0, fragments: 0, started: 0, waiting: 0 };
const video = document.getElementById('v');
const hls = new Hls();
window.hls = hls;
hls.on(Hls.Events.ERROR, (_, d) => window.report.errors.push({
  t: now(), type: d.type, details: d.details, fatal: !!d.fatal, at: +video.currentTime.toFixed(3),
  buffered: ranges(video.buffered), buffers: buffers(), reason: String(d.error ?? d.reason ?? ''),
}));
hls.on(Hls.Events.LEVEL_LOADED, (_, d) => {
  window.report.playlists++;
  if (TRACE) window.report.trace.push({ t: now(), ev: 'playlist', url: d.details.url.replace(/^.*index/, 'index'),
    load: Math.round(d.stats.loading.end - d.stats.loading.start), hint: d.details.preloadHint?.URI ?? null });
});
hls.on(Hls.Events.FRAG_LOADED, (_, d) => {
  if (d.part) window.report.parts++; else window.report.fragments++;
  const f = d.part ?? d.frag;
  if (TRACE) window.report.trace.push({ t: now(), ev: d.part ? 'part' : 'frag', url: f.url.replace(/^.*\\/live\\/[^/]*\\//, ''),
    asked: Math.round(f.stats.loading.start - t0), start: +f.start.toFixed(3), duration: +f.duration.toFixed(3) });
});
if (TRACE) hls.on(Hls.Events.BUFFER_APPENDED, (_, d) => window.report.trace.push({ t: now(), ev: 'appended', type: d.type,
  at: +video.currentTime.toFixed(3), buffers: buffers() }));
video.addEventListener('waiting', () => {
  window.report.waiting++;
  if (TRACE) window.report.trace.push({ t: now(), ev: 'waiting', at: +video.currentTime.toFixed(3), buffers: buffers() });
});
video.addEventListener('playing', () => {
  if (window.report.started) return;
  window.report.started = performance.now();
  window.report.startPosition = video.currentTime;
});
// hls.js's latency estimate and the playback position, every second from the first frame.
setInterval(() => { if (window.report.started && Number.isFinite(hls.latency)) window.report.latencies.push([now(), +hls.latency.toFixed(3), +video.currentTime.toFixed(3)]); }, 1000);
hls.loadSource(${JSON.stringify(URL_)});
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
</script>`;

const out = await openPage(WWW, page, async (p, loadedAt) => {
  await p.waitForFunction(() => window.report.started > 0 || window.report.errors.some((e) => e.fatal), null, { timeout: 30_000, polling: 100 });
  await p.waitForTimeout(SECONDS * 1000);
  const report = await p.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    return { ...window.report, currentTime: v.currentTime, firstFrameMs: Math.round(window.report.started),
      latency: window.hls.latency, targetLatency: window.hls.targetLatency, decodedFrames: q.totalVideoFrames,
      droppedFrames: q.droppedVideoFrames, playedSeconds: (performance.now() - window.report.started) / 1000 };
  });
  return { ...report, loadedAt };
});
process.stdout.write(JSON.stringify(out) + '\n');
