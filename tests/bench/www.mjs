// Times the page's WASM core (packageMp4, packageHls, inspect) on an FLV file against the
// native `rapidrtmp package --mp4` and ffmpeg's remux to fragmented MP4; see www.sh.
//
//   node tests/bench/www.mjs INPUT.flv RAPIDRTMP_BIN [ROUNDS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [input, bin, rounds = '5'] = process.argv.slice(2);
if (!input || !bin) throw new Error('usage: node tests/bench/www.mjs INPUT.flv RAPIDRTMP_BIN [ROUNDS]');
const pkg = join(dirname(fileURLToPath(import.meta.url)), '../../www/dist/pkg');
const core = await import(pathToFileURL(join(pkg, 'rapidrtmp_www.js')).href);
await core.default({ module_or_path: readFileSync(join(pkg, 'rapidrtmp_www_bg.wasm')) });

const bytes = new Uint8Array(readFileSync(input));
const work = mkdtempSync(join(tmpdir(), 'rapidrtmp-bench-'));

/** Best wall time of `rounds` runs of `fn`, in seconds. */
function best(fn) {
  let min = Infinity;
  for (let i = 0; i < Number(rounds); i++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

const out = join(work, 'out.mp4');
const times = {
  'wasm packageMp4': best(() => core.packageMp4(bytes, 2)),
  'wasm packageHls (zip)': best(() => core.packageHls(bytes, 2, 0)),
  'wasm inspect (json)': best(() => core.inspect(bytes)),
  'native package --mp4': best(() => execFileSync(bin, ['package', input, '--mp4', out], { stdio: 'ignore' })),
  'ffmpeg -c copy fmp4': best(() => execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', input, '-c', 'copy',
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', out], { stdio: 'ignore' })),
};
rmSync(work, { recursive: true, force: true });

console.log(`input  ${input} (${(bytes.length / 1e6).toFixed(0)} MB), best of ${rounds}`);
for (const [name, s] of Object.entries(times)) {
  console.log(`${name.padEnd(24)} ${s.toFixed(3).padStart(8)} s  ${(bytes.length / 1e6 / s).toFixed(0).padStart(6)} MB/s`);
}
const ratio = (a, b) => (times[a] / times[b]).toFixed(2);
console.log(`wasm packageMp4 / native        ${ratio('wasm packageMp4', 'native package --mp4')}x`);
console.log(`ffmpeg / wasm packageMp4        ${ratio('ffmpeg -c copy fmp4', 'wasm packageMp4')}x`);
