// The GOP and bit rate chart: one bar per video frame (its size; keyframes stand out), and the
// bit rate of all media as a line, over time (or frame index when no timescale is known).
import * as fmt from './format.js';

const PAD = { left: 64, right: 72, top: 12, bottom: 26 };

/**
 * Draws `{ frames: [{t, size, key}], all: [{t, size}], timed }` on `canvas`: with `timed`, `all`
 * is not empty; without, `frames` is not.
 */
export function drawChart(canvas, { frames, all, timed }) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  const height = canvas.clientHeight || 180;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  g.font = `11px ${css.getPropertyValue('--mono').trim() || 'monospace'}`;
  g.textBaseline = 'middle';

  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;

  // X: seconds when every sample has a time, else the frame index.
  const xs = timed ? all.map((s) => s.t) : frames.map((_, i) => i);
  const [t0, last] = extent(xs);
  const t1 = Math.max(last, t0 + (timed ? 0.04 : 1));
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * plotW;
  const xOf = (f, i) => (timed ? f.t : i);

  // Axes and grid.
  g.strokeStyle = color('--line');
  g.lineWidth = 1;
  g.strokeRect(PAD.left + 0.5, PAD.top + 0.5, plotW, plotH);
  g.fillStyle = color('--muted');
  for (const t of ticks(t0, t1, Math.max(2, Math.floor(plotW / 90)))) {
    const px = Math.round(x(t)) + 0.5;
    g.beginPath();
    g.moveTo(px, PAD.top + plotH);
    g.lineTo(px, PAD.top + plotH + 4);
    g.stroke();
    g.textAlign = 'center';
    g.fillText(timed ? `${+t.toFixed(2)} s` : `#${t}`, px, height - PAD.bottom / 2 + 2);
  }

  // Frame sizes.
  const maxSize = Math.max(1, extent(frames.map((f) => f.size))[1]);
  const barW = Math.max(1, Math.min(12, (plotW / Math.max(frames.length, 1)) * 0.7));
  frames.forEach((f, i) => {
    const barH = (f.size / maxSize) * plotH;
    g.fillStyle = f.key ? color('--key') : color('--frame');
    g.fillRect(x(xOf(f, i)) - barW / 2, PAD.top + plotH - barH, barW, barH);
  });
  g.textAlign = 'right';
  g.fillStyle = color('--frame');
  g.fillText(fmt.bytes(maxSize), PAD.left - 6, PAD.top + 6);
  g.fillText('0', PAD.left - 6, PAD.top + plotH - 4);

  // Bit rate of everything, in buckets.
  if (timed && all.length >= 2 && t1 > t0) {
    const span = t1 - t0;
    const bucket = span <= 10 ? 0.5 : span <= 300 ? 1 : span / 300;
    const sums = new Array(Math.floor(span / bucket) + 1).fill(0);
    for (const s of all) sums[Math.floor((s.t - t0) / bucket)] += s.size * 8;
    // The last bucket is partial: leave it out unless it is the only one.
    const rates = (sums.length > 1 ? sums.slice(0, -1) : sums).map((bits) => bits / bucket);
    const maxRate = Math.max(1, extent(rates)[1]);
    g.strokeStyle = color('--rate');
    g.lineWidth = 2;
    g.beginPath();
    rates.forEach((r, i) => {
      const px = x(t0 + (i + 0.5) * bucket);
      const py = PAD.top + plotH - (r / maxRate) * plotH;
      if (i === 0) g.moveTo(px, py);
      else g.lineTo(px, py);
    });
    g.stroke();
    g.textAlign = 'left';
    g.fillStyle = color('--rate');
    g.fillText(fmt.bitrate(maxRate), PAD.left + plotW + 6, PAD.top + 6);
  }
}

/** `[min, max]` of numbers (without spreading them: a report may hold a million). */
export function extent(values) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** About `n` round values between `a` and `b`. */
function ticks(a, b, n) {
  const raw = (b - a) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let t = Math.ceil(a / step) * step; t <= b + 1e-9; t += step) out.push(+t.toFixed(6));
  return out;
}
