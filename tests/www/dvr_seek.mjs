// Plays a DVR playlist (EXT-X-PLAYLIST-TYPE:EVENT of a live stream) with hls.js in headless
// Chromium, then seeks back SEEK_BACK seconds and plays on from there; reports as JSON on stdout
// where playback started, the time sought and reached, whether the seek completed and playback
// moved on after it, and every hls.js ERROR event with the playback time it came at.
//
// Environment: URL (the media playlist), WWW (the www/ folder, for its node_modules: hls.js and
// playwright-core), CHROMIUM (the browser; default /usr/bin/chromium), SEEK_BACK (seconds;
// default 30), PLAY_AFTER (seconds to play after the seek; default 5).
import { env, openPage } from './chromium.mjs';

const URL_ = env('URL');
const WWW = env('WWW');
const SEEK_BACK = Number(env('SEEK_BACK', '30'));
const PLAY_AFTER = Number(env('PLAY_AFTER', '5'));

const page = `<!doctype html><video id=v muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.report = { errors: [], started: 0, seeked: false, playlistType: null };
const video = document.getElementById('v');
const hls = new Hls({ enableWorker: false });
window.hls = hls;
hls.on(Hls.Events.ERROR, (_, d) => window.report.errors.push({ type: d.type, details: d.details, fatal: !!d.fatal, at: video.currentTime, reason: String(d.error ?? d.reason ?? '') }));
hls.on(Hls.Events.LEVEL_LOADED, (_, d) => { window.report.playlistType = d.details.type ?? null; window.report.live = d.details.live; });
video.addEventListener('playing', () => {
  if (window.report.started) return;
  window.report.started = performance.now();
  window.report.startPosition = video.currentTime;
});
video.addEventListener('seeked', () => { window.report.seeked = true; });
hls.loadSource(${JSON.stringify(URL_)});
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
</script>`;

const out = await openPage(WWW, page, async (p, loadedAt) => {
  await p.waitForFunction(() => window.report.started > 0 || window.report.errors.some((e) => e.fatal), null, { timeout: 30_000, polling: 100 });
  await p.waitForTimeout(3000);
  const before = await p.evaluate(() => document.getElementById('v').currentTime);
  const target = Math.max(0, before - SEEK_BACK);
  await p.evaluate((t) => { document.getElementById('v').currentTime = t; }, target);
  await p.waitForFunction(() => window.report.seeked || window.report.errors.some((e) => e.fatal), null, { timeout: 30_000, polling: 100 });
  const seekedAt = await p.evaluate(() => document.getElementById('v').currentTime);
  await p.waitForTimeout(PLAY_AFTER * 1000);
  const report = await p.evaluate(() => ({ ...window.report, currentTime: document.getElementById('v').currentTime, seekable: document.getElementById('v').seekable.length ? [document.getElementById('v').seekable.start(0), document.getElementById('v').seekable.end(0)] : null }));
  return { ...report, before, target, seekedAt, loadedAt };
});
process.stdout.write(JSON.stringify(out) + '\n');
