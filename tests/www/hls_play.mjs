// Plays a folder of HLS output (`rapidrtmp package`) with hls.js in headless Chromium, to the
// end, and reports what happened as JSON on stdout: the frames the video element decoded and
// dropped, how far it played, whether it ended, and every hls.js ERROR event (fatal or not, with
// the playback time it came at).
//
// Environment: DIR (the folder, with index.m3u8), WWW (the www/ folder, for its node_modules:
// hls.js and playwright-core), CHROMIUM (the browser; default /usr/bin/chromium), RATE (the
// playback rate; default 2).
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { env, openPage } from './chromium.mjs';

const DIR = env('DIR');
const WWW = env('WWW');
const RATE = Number(env('RATE', '2'));
const TIMEOUT_MS = 120_000;
const types = { '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4', '.m4s': 'video/iso.segment' };

const page = `<!doctype html><video id=v muted playsinline></video>
<script src="/hls.js"></script>
<script>
window.report = { errors: [], ended: false };
const video = document.getElementById('v');
const hls = new Hls({ enableWorker: false });
hls.on(Hls.Events.ERROR, (_, d) => window.report.errors.push({ type: d.type, details: d.details, fatal: !!d.fatal, at: video.currentTime }));
hls.loadSource('/media/index.m3u8');
hls.attachMedia(video);
video.playbackRate = ${RATE};
hls.on(Hls.Events.MANIFEST_PARSED, () => { video.playbackRate = ${RATE}; video.play(); });
video.addEventListener('ended', () => { window.report.ended = true; });
</script>`;

const media = (req, res, url) => {
  if (!url.pathname.startsWith('/media/')) { res.writeHead(404).end(); return; }
  const rel = normalize(decodeURIComponent(url.pathname.slice(7)));
  if (rel.startsWith('..')) { res.writeHead(403).end(); return; }
  let body;
  try { body = readFileSync(join(DIR, rel)); } catch { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': types[extname(rel)] ?? 'application/octet-stream' }).end(body);
};

const out = await openPage(WWW, page, async (p) => {
  await p.waitForFunction(() => window.report.ended || window.report.errors.some((e) => e.fatal), null, { timeout: TIMEOUT_MS, polling: 250 });
  return p.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    return { ...window.report, currentTime: v.currentTime, duration: v.duration, totalVideoFrames: q.totalVideoFrames, droppedVideoFrames: q.droppedVideoFrames };
  });
}, media);
process.stdout.write(JSON.stringify(out) + '\n');
