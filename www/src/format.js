// How figures read on the page.

const dash = '—';

/** 1536 → "1.5 KB" (powers of 1024, as file managers show sizes). */
export function bytes(n) {
  if (!Number.isFinite(n)) return dash;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Bits per second → "2.45 Mb/s", "860 kb/s". */
export function bitrate(bps) {
  if (!Number.isFinite(bps) || bps <= 0) return dash;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  return `${Math.round(bps / 1e3)} kb/s`;
}

/** Seconds → "2.35 s". */
export function seconds(s, digits = 2) {
  return Number.isFinite(s) ? `${s.toFixed(digits)} s` : dash;
}

/** 1234567 → "1 234 567" (thin spaces group the digits of large counts and offsets). */
export function count(n) {
  return Number.isFinite(n) ? n.toLocaleString('en-US').replaceAll(',', '\u2009') : dash;
}

/** A 32-bit flags value → "0x01010000". */
export function hex32(n) {
  return Number.isFinite(n) ? `0x${(n >>> 0).toString(16).padStart(8, '0')}` : dash;
}

/** Any value of a box field, as text. */
export function field(v) {
  if (v === null || v === undefined) return dash;
  if (Array.isArray(v)) return v.map(field).join(', ');
  return String(v);
}

/** The last path segment of a URL or path: "…/170/12.m4s" → "12.m4s". */
export function baseName(url) {
  try {
    return decodeURIComponent(new URL(url, location.href).pathname.split('/').pop());
  } catch {
    return String(url).split('/').pop();
  }
}

/** "clip.flv" → "clip". */
export function stem(name) {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}
