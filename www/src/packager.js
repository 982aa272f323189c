// The packager: an FLV file into the HLS set `rapidrtmp package --out` writes (as a ZIP), or
// into the one fragmented MP4 of `rapidrtmp package --mp4`, by the core in this page.
import { core, fileBytes } from './core.js';
import { $, download, dropTarget, fill, h } from './dom.js';
import * as fmt from './format.js';

let file = null;

export function initPackager() {
  $('package-file').addEventListener('change', (e) => choose(e.target.files[0] ?? null));
  dropTarget($('view-packager'), choose);
  $('package-zip').addEventListener('click', () => run('zip'));
  $('package-mp4').addEventListener('click', () => run('mp4'));
}

function choose(f) {
  file = f;
  $('package-file-name').textContent = f ? `${f.name} · ${fmt.bytes(f.size)}` : 'Drop an .flv file here, or choose one';
  $('package-zip').disabled = !f;
  $('package-mp4').disabled = !f;
  $('package-error').textContent = '';
  $('package-status').textContent = '';
}

async function run(kind) {
  if (!file) return;
  const name = file.name;
  const seconds = Number($('package-seconds').value);
  const buttons = [$('package-zip'), $('package-mp4')];
  buttons.forEach((b) => (b.disabled = true));
  $('package-error').textContent = '';
  $('package-status').textContent = `Packaging ${name}…`;
  const started = performance.now();
  try {
    if (!(seconds >= 0.1 && seconds <= 3600)) throw new Error('the segment duration must be between 0.1 and 3600 seconds');
    const [{ packageHls, packageMp4 }, bytes] = await Promise.all([core(), fileBytes(file)]);
    const ms = () => `${Math.round(performance.now() - started)} ms`;
    if (kind === 'zip') {
      const out = packageHls(bytes, seconds, Date.now() / 1000);
      download(out.zip, `${fmt.stem(name)}.zip`, 'application/zip');
      $('package-status').textContent =
        `${out.segments} segments in ${out.sessions} session(s), ${fmt.bytes(out.zip.length)} zipped, in ${ms()}.`;
      showResult(out.files, out.warnings);
    } else {
      const out = packageMp4(bytes, seconds);
      download(out.mp4, `${fmt.stem(name)}.mp4`, 'video/mp4');
      $('package-status').textContent = `${out.segments} fragments in one MP4, in ${ms()}.`;
      showResult([{ name: `${fmt.stem(name)}.mp4`, size: out.mp4.length }], out.warnings);
    }
  } catch (e) {
    $('package-status').textContent = '';
    $('package-error').textContent = `${name}: ${e.message ?? e}`;
  } finally {
    buttons.forEach((b) => (b.disabled = !file));
  }
}

function showResult(files, warnings) {
  fill($('package-files'), files.map((f) => h('tr', {}, h('td', { class: 'mono' }, f.name), h('td', { class: 'num' }, fmt.bytes(f.size)))));
  fill($('package-warnings'), warnings.map((w) => h('li', {}, w)));
}
