// Plays a multivariant HLS playlist with hls.js in headless Chromium and switches it through
// every level (forced with `hls.currentLevel`, lowest bit rate first), then reports as JSON on
// stdout: the levels hls.js parsed (size, bit rate, codecs), the levels it switched to and loaded
// fragments of, how far it played, and every hls.js ERROR event with the playback time it came at
// (`abortedBySwitch`: the loads a forced switch aborted, within a second of it; `errors`: the rest).
//
// Environment: URL (the multivariant playlist), WWW (the www/ folder, for its node_modules:
// hls.js and playwright-core), CHROMIUM (the browser; default /usr/bin/chromium), DWELL_MS (time
// on each level; default 2500).
import { env, openPage } from './chromium.mjs';

const URL_ = env('URL');
const WWW = env('WWW');
const DWELL_MS = Number(env('DWELL_MS', '2500'));

const page = `<!doctype html><video id=v muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.report = { errors: [], abortedBySwitch: [], levels: [], switched: [], fragmentLevels: [], started: 0 };
const video = document.getElementById('v');
const hls = new Hls({ enableWorker: false });
window.hls = hls;
window.forcedAt = -1e9;
hls.on(Hls.Events.ERROR, (_, d) => {
  const e = { type: d.type, details: d.details, fatal: !!d.fatal, at: video.currentTime, reason: String(d.error ?? d.reason ?? '') };
  // A forced switch aborts the load in flight: hls.js says so, and it is no fault of the stream.
  const bySwitch = d.details === 'aborted' && !d.fatal && performance.now() - window.forcedAt < 1000;
  (bySwitch ? window.report.abortedBySwitch : window.report.errors).push(e);
});
hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
  window.report.levels = d.levels.map((l) => ({ width: l.width, height: l.height, bitrate: l.bitrate, codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(',') }));
  video.play();
});
hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => window.report.switched.push(d.level));
hls.on(Hls.Events.FRAG_BUFFERED, (_, d) => { if (d.frag.type === 'main') window.report.fragmentLevels.push(d.frag.level); });
video.addEventListener('playing', () => { window.report.started ||= performance.now(); });
hls.loadSource(${JSON.stringify(URL_)});
hls.attachMedia(video);
</script>`;

const out = await openPage(WWW, page, async (p) => {
  await p.waitForFunction(() => window.report.started > 0 || window.report.errors.some((e) => e.fatal), null, { timeout: 30_000, polling: 100 });
  const levels = await p.evaluate(() => window.hls.levels.length);
  const order = await p.evaluate(() => window.hls.levels.map((l, i) => [l.bitrate, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i));
  for (const level of order) {
    await p.evaluate((l) => { window.forcedAt = performance.now(); window.hls.currentLevel = l; }, level);
    await p.waitForTimeout(DWELL_MS);
  }
  const report = await p.evaluate(() => ({ ...window.report, currentTime: document.getElementById('v').currentTime }));
  return { ...report, levelCount: levels };
});
process.stdout.write(JSON.stringify(out) + '\n');
