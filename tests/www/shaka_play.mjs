// Plays a live HLS stream with shaka-player (www/node_modules/shaka-player) in headless Chromium
// for a while, in its default configuration or its low-latency mode, and reports as JSON on
// stdout: every shaka error event, every `buffering` change (with the wall-clock and playback
// time, milliseconds since the page's start, as firstFrameMs), the video frames decoded and dropped and the seconds elapsed from the first frame
// (getVideoPlaybackQuality), the playback position and shaka's live latency at the end.
//
// Environment: URL (the media playlist), WWW (the www/ folder, for its node_modules),
// CHROMIUM (default /usr/bin/chromium), SECONDS (how long to play after the first frame; default
// 15), LOW_LATENCY (1: `streaming.lowLatencyMode: true`; 0, the default: shaka's defaults).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, openPage } from './chromium.mjs';

const URL_ = env('URL');
const WWW = env('WWW');
const SECONDS = Number(env('SECONDS', '15'));
const LOW_LATENCY = env('LOW_LATENCY', '0') === '1';

const page = `<!doctype html><video id=v muted playsinline></video>
<script src="/shaka.js"></script>
<script>
const now = () => Math.round(performance.now());
window.report = { errors: [], buffering: [], started: 0 };
const video = document.getElementById('v');
shaka.polyfill.installAll();
const player = new shaka.Player();
window.player = player;
${LOW_LATENCY ? "player.configure({ streaming: { lowLatencyMode: true } });" : ''}
player.addEventListener('error', (e) => window.report.errors.push({ t: now(), code: e.detail?.code, detail: String(e.detail?.message ?? e.detail), data: JSON.stringify(e.detail?.data ?? null).slice(0, 300) }));
player.addEventListener('buffering', (e) => window.report.buffering.push({ t: now(), buffering: e.buffering, at: +video.currentTime.toFixed(3) }));
video.addEventListener('playing', () => {
  if (window.report.started) return;
  window.report.started = performance.now();
  window.report.startPosition = video.currentTime;
  window.report.startFrames = video.getVideoPlaybackQuality().totalVideoFrames;
});
(async () => {
  try {
    await player.attach(video);
    await player.load(${JSON.stringify(URL_)});
    await video.play();
  } catch (e) {
    window.report.errors.push({ t: now(), code: e.code, detail: String(e.message ?? e), data: JSON.stringify(e.data ?? null).slice(0, 300) });
  }
})();
</script>`;

const serveShaka = (req, res, url) => {
  if (url.pathname !== '/shaka.js') return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/javascript' })
    .end(readFileSync(join(WWW, 'node_modules/shaka-player/dist/shaka-player.compiled.js')));
};

const out = await openPage(WWW, page, async (p, loadedAt) => {
  await p.waitForFunction(() => window.report.started > 0 || window.report.errors.length > 0, null, { timeout: 30_000, polling: 100 });
  await p.waitForTimeout(SECONDS * 1000);
  const report = await p.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    const stats = window.player.getStats();
    return { ...window.report, currentTime: v.currentTime, decodedFrames: q.totalVideoFrames - (window.report.startFrames ?? 0),
      droppedFrames: q.droppedVideoFrames, playedSeconds: (performance.now() - window.report.started) / 1000,
      firstFrameMs: Math.round(window.report.started), isLive: window.player.isLive(), latency: stats.liveLatency,
      stallsDetected: stats.stallsDetected, gapsJumped: stats.gapsJumped };
  });
  return { ...report, loadedAt };
}, serveShaka);
process.stdout.write(JSON.stringify(out) + '\n');
