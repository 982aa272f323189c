// Plays a folder of HLS output (`rapidrtmp package`) with hls.js in headless Chromium, to the
// end, and reports what happened as JSON on stdout: the frames the video element decoded and
// dropped, how far it played, whether it ended, and every hls.js ERROR event (fatal or not, with
// the playback time it came at).
//
// Environment: DIR (the folder, with index.m3u8), WWW (the www/ folder, for its node_modules:
// hls.js and playwright-core), CHROMIUM (the browser; default /usr/bin/chromium), RATE (the
// playback rate; default 2).
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const DIR = env('DIR');
const WWW = env('WWW');
const RATE = Number(env('RATE', '2'));
const TIMEOUT_MS = 120_000;
const types = { '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4', '.m4s': 'video/iso.segment', '.js': 'text/javascript' };

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

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let body;
  let type = 'text/html';
  if (url.pathname === '/') body = page;
  else if (url.pathname === '/hls.js') { body = readFileSync(join(WWW, 'node_modules/hls.js/dist/hls.js')); type = types['.js']; }
  else if (url.pathname.startsWith('/media/')) {
    const rel = normalize(decodeURIComponent(url.pathname.slice(7)));
    if (rel.startsWith('..')) { res.writeHead(403).end(); return; }
    try { body = readFileSync(join(DIR, rel)); type = types[extname(rel)] ?? 'application/octet-stream'; } catch { res.writeHead(404).end(); return; }
  } else { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': type }).end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

const { chromium } = await import(pathToFileURL(join(WWW, 'node_modules/playwright-core/index.mjs')).href);
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'rapidrtmp-chromium-')), {
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
let out;
try {
  const p = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  await p.goto(base);
  await p.waitForFunction(() => window.report.ended || window.report.errors.some((e) => e.fatal), null, { timeout: TIMEOUT_MS, polling: 250 });
  out = await p.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    return { ...window.report, currentTime: v.currentTime, duration: v.duration, totalVideoFrames: q.totalVideoFrames, droppedVideoFrames: q.droppedVideoFrames };
  });
  out.pageErrors = pageErrors;
} finally {
  await context.close();
  server.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
