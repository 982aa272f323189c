// Glass-to-glass latency of a live HLS stream in hls.js (headless Chromium): the source
// (tests/bench/clock_source.py) writes the wall clock into every frame as a barcode; for each
// frame Chromium presents (requestVideoFrameCallback), this page draws it to a canvas, reads the
// barcode back and records now − the frame's time. Prints JSON: the samples' p50 and p95 (ms),
// the time from page load to the first frame, the parts hls.js loaded, its errors.
//
// Environment: URL (the media playlist), WWW (the www/ folder, for its node_modules), CHROMIUM
// (default /usr/bin/chromium), MEASURE (seconds measured, default 30), WARMUP (seconds of playback before
// measuring, default 5), LOW_LATENCY (1 or 0, default 1).
import { env, openPage } from '../www/chromium.mjs';

const WWW = env('WWW');
const SECONDS = Number(env('MEASURE', '30'));
const WARMUP = Number(env('WARMUP', '5'));

// Must match clock_source.py.
const page = `<!doctype html><video id=v muted playsinline></video><canvas id=c></canvas>
<script src="/hls.js"></script>
<script>
const BITS = 44, WIDTH = 640, BLOCK = Math.floor(WIDTH / (BITS + 2)), BAND = 64;
window.report = { samples: [], unreadable: 0, parts: 0, errors: [], firstFrameMs: null };
const video = document.getElementById('v');
const canvas = document.getElementById('c');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
const hls = new Hls({ enableWorker: false, lowLatencyMode: ${env('LOW_LATENCY', '1') === '1'} });
hls.on(Hls.Events.ERROR, (_, d) => window.report.errors.push({ details: d.details, fatal: !!d.fatal }));
hls.on(Hls.Events.FRAG_LOADED, (_, d) => { if (d.part) window.report.parts++; });
let playingSince = null;
function read(now, meta) {
  if (window.report.firstFrameMs === null) window.report.firstFrameMs = performance.now();
  playingSince ??= performance.now();
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  ctx.drawImage(video, 0, 0);
  const row = ctx.getImageData(0, BAND >> 1, canvas.width, 1).data;
  const scale = canvas.width / WIDTH;
  const bit = (i) => row[4 * Math.floor((i * BLOCK + BLOCK / 2) * scale)] > 128 ? 1 : 0;
  if (bit(0) === 1 && bit(BITS + 1) === 0) {
    let ms = 0;
    for (let i = 1; i <= BITS; i++) ms = ms * 2 + bit(i);
    const latency = Date.now() - ms;
    if (performance.now() - playingSince > ${WARMUP * 1000} && latency > -1000 && latency < 60000) window.report.samples.push(latency);
  } else window.report.unreadable++;
  video.requestVideoFrameCallback(read);
}
video.requestVideoFrameCallback(read);
hls.loadSource(${JSON.stringify(env('URL'))});
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
</script>`;

const out = await openPage(WWW, page, async (p) => {
  await p.waitForFunction(() => window.report.firstFrameMs !== null, null, { timeout: 60_000, polling: 100 });
  await p.waitForTimeout((WARMUP + SECONDS) * 1000);
  return p.evaluate(() => window.report);
});
const sorted = [...out.samples].sort((a, b) => a - b);
const q = (f) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] : null;
process.stdout.write(JSON.stringify({ p50: q(0.5), p95: q(0.95), samples: sorted.length, unreadable: out.unreadable,
  firstFrameMs: Math.round(out.firstFrameMs), parts: out.parts, errors: out.errors }) + '\n');
