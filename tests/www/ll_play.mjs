// Plays a live HLS stream with hls.js in headless Chromium for a while, Low-Latency mode on or
// off, and reports what happened as JSON on stdout: how far it played, the parts and segments
// hls.js loaded, whether the playlist it played was Low-Latency (parts, blocking reload), the
// latency hls.js measured (seconds behind the live edge, sampled every 250 ms), where playback
// started (startPosition) and every hls.js ERROR event with the playback time it came at.
//
// Environment: URL (the media playlist), WWW (the www/ folder, for its node_modules: hls.js and
// playwright-core), CHROMIUM (the browser; default /usr/bin/chromium), SECONDS (how long to
// play; default 8), LOW_LATENCY (1 or 0; default 1).
import { env, openPage } from './chromium.mjs';

const URL_ = env('URL');
const WWW = env('WWW');
const SECONDS = Number(env('SECONDS', '8'));
const LOW_LATENCY = env('LOW_LATENCY', '1') === '1';

const page = `<!doctype html><video id=v muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.report = { errors: [], parts: 0, fragments: 0, latency: [], lowLatency: false, blockingReload: false, started: 0 };
const video = document.getElementById('v');
const hls = new Hls({ enableWorker: false, lowLatencyMode: ${LOW_LATENCY} });
window.hls = hls;
hls.on(Hls.Events.ERROR, (_, d) => window.report.errors.push({ type: d.type, details: d.details, fatal: !!d.fatal, at: video.currentTime, reason: String(d.error ?? d.reason ?? '') }));
hls.on(Hls.Events.FRAG_LOADED, (_, d) => { if (d.part) window.report.parts++; else window.report.fragments++; });
hls.on(Hls.Events.LEVEL_LOADED, (_, d) => {
  window.report.lowLatency ||= (d.details.partList?.length ?? 0) > 0;
  window.report.blockingReload ||= !!d.details.canBlockReload;
});
video.addEventListener('playing', () => {
  if (window.report.started) return;
  window.report.started = performance.now();
  window.report.startPosition = video.currentTime;
});
setInterval(() => { if (window.report.started && Number.isFinite(hls.latency)) window.report.latency.push(hls.latency); }, 250);
hls.loadSource(${JSON.stringify(URL_)});
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
</script>`;

const out = await openPage(WWW, page, async (p, loadedAt) => {
  await p.waitForFunction(() => window.report.started > 0 || window.report.errors.some((e) => e.fatal), null, { timeout: 30_000, polling: 100 });
  await p.waitForTimeout(SECONDS * 1000);
  const report = await p.evaluate(() => {
    const v = document.getElementById('v');
    return { ...window.report, currentTime: v.currentTime, firstFrameMs: window.report.started, targetLatency: window.hls.targetLatency };
  });
  return { ...report, loadedAt };
});
process.stdout.write(JSON.stringify(out) + '\n');
