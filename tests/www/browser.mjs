// Drives the web page in headless Chromium through Playwright, as a user would: plays a live
// stream, inspects its init segment, a media segment and a chunk, packages an FLV both ways,
// inspects the packaged MP4, feeds both views a file that is not media, and keeps a screenshot of
// each view. Writes what it saw to $OUT/result.json (tests/www.rs checks it against ffmpeg and
// `rapidrtmp`) and exits non-zero, saying why, when the page misbehaves.
//
// Environment: BASE (the node's HTTP origin), ADMIN_KEY, STREAM (a live stream key), FLV (a file
// to package), OUT (a folder for downloads and screenshots), WWW (the www/ folder, for its
// node_modules), CHROMIUM (the browser; default /usr/bin/chromium).
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { env, launch } from './chromium.mjs';

const BASE = env('BASE');
const OUT = env('OUT');

const PLAY_SECONDS = 5;
const TIMEOUT = 60_000;

const context = await launch(env('WWW'), { viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const result = { requests: [], pageErrors: [], consoleErrors: [], inspected: [], packaged: {} };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on('request', (r) => result.requests.push(r.url()));
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && result.consoleErrors.push(m.text()));

  // --- Player: the stream list from the API, then playback --------------------------------
  await page.goto(`${BASE}/#player`);
  await page.fill('#admin-key', env('ADMIN_KEY'));
  await page.click('#streams-refresh');
  await page.click(`#streams button[data-stream="${env('STREAM')}"]`);
  await page.waitForFunction(() => document.querySelector('#video').currentTime > 0.1);
  const start = await page.evaluate(() => document.querySelector('#video').currentTime);
  await page.waitForFunction(
    (until) => document.querySelector('#video').currentTime >= until,
    start + PLAY_SECONDS,
    { timeout: (PLAY_SECONDS + 30) * 1000 },
  );
  await page.waitForFunction(() => document.querySelectorAll('#timeline [data-sn]').length >= 2);
  result.playback = await page.evaluate((start) => {
    const v = document.querySelector('#video');
    const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
    return {
      start,
      currentTime: v.currentTime,
      videoWidth: v.videoWidth,
      videoHeight: v.videoHeight,
      hlsErrors: window.rapidrtmp.errors.map((e) => ({ type: e.type, details: e.details, fatal: e.fatal })),
      errorLog: document.querySelectorAll('#player-errors li').length,
      stats: Object.fromEntries(
        ['latency', 'll', 'buffer', 'bitrate', 'resolution', 'dropped'].map((s) => [s, text(`stat-${s}`)]),
      ),
      timeline: document.querySelectorAll('#timeline [data-sn]').length,
    };
  }, start);
  // The stream's outputs, listed beside the player: one to a destination that is down.
  await page.waitForFunction(() => document.querySelector('#outputs .badge.retrying'), null, { timeout: 20000 });
  result.outputs = await page.$$eval('#outputs li', (lis) => lis.map((li) => li.textContent));
  await page.screenshot({ path: join(OUT, 'player.png') });

  // --- Inspector: init, segment and chunk picked from the live playlist ------------------------
  await page.click('a[href="#inspector"]');
  await page.waitForFunction(() => document.querySelectorAll('#inspect-pick option[value$=".m4s"]').length >= 2);
  const options = await page.$$eval('#inspect-pick option', (os) => os.map((o) => o.value));
  const init = options.find((u) => /\/init-\d+\.mp4$/.test(u));
  const segment = options.filter((u) => u.endsWith('.m4s')).at(-2);
  const chunk = options.find((u) => u === segment.replace(/\.m4s$/, '.flv'));
  if (!init || !segment || !chunk) throw new Error(`the inspector does not offer init, segment and chunk: ${options}`);
  for (const [name, url] of [['init', init], ['segment', segment], ['chunk', chunk]]) {
    await page.selectOption('#inspect-pick', url);
    result.inspected.push(await inspected(page, name, url));
  }

  // --- Packager: an FLV → a ZIP of the HLS set, and one MP4 ----------------------------------
  await page.click('a[href="#packager"]');
  const flv = env('FLV');
  await page.setInputFiles('#package-file', flv);
  await page.fill('#package-seconds', '2');
  for (const [kind, button] of [['zip', '#package-zip'], ['mp4', '#package-mp4']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    const path = join(OUT, `packaged.${kind}`);
    await download.saveAs(path);
    result.packaged[kind] = { path, suggested: download.suggestedFilename() };
  }
  await page.waitForFunction(() => document.querySelectorAll('#package-files li, #package-files tr').length > 0);
  const packageError = await page.textContent('#package-error');
  if (packageError.trim()) throw new Error(`the packager reports: ${packageError}`);
  await page.screenshot({ path: join(OUT, 'packager.png') });

  // --- Inspector: a dropped file (the packaged MP4) -------------------------------------------
  await page.click('a[href="#inspector"]');
  await page.setInputFiles('#inspect-file', result.packaged.mp4.path);
  result.inspected.push(await inspected(page, 'file', basename(result.packaged.mp4.path)));

  // --- Bad input: a clear error in each view, no exception ------------------------------------
  const bad = join(OUT, 'not-media.txt');
  writeFileSync(bad, 'this is not a media file\n'.repeat(100));
  await page.setInputFiles('#inspect-file', bad);
  await page.waitForFunction(() => document.querySelector('#inspect-summary').textContent.includes('not-media.txt'));
  result.badInput = { inspector: await page.$$eval('#inspect-warnings li', (lis) => lis.map((li) => li.textContent)) };
  await page.click('a[href="#packager"]');
  await page.setInputFiles('#package-file', bad);
  await page.click('#package-zip');
  await page.waitForFunction(() => document.querySelector('#package-error').textContent.trim());
  result.badInput.packager = (await page.textContent('#package-error')).trim();
} finally {
  await context.close();
  writeFileSync(join(OUT, 'result.json'), JSON.stringify(result, null, 2));
}

// What the inspector shows once `name` (a URL or file name) is loaded: the box types, the sample
// count per track, the FLV tag rows; its JSON download and a screenshot are kept in OUT.
async function inspected(page, label, name) {
  const file = basename(new URL(name, BASE).pathname);
  await page.waitForFunction((f) => document.querySelector('#inspect-summary')?.textContent.includes(f), file);
  const error = (await page.textContent('#inspect-error')).trim();
  if (error) throw new Error(`the inspector failed on ${name}: ${error}`);
  const seen = await page.evaluate(() => ({
    boxes: [...document.querySelectorAll('#box-tree [data-box]')].map((d) => d.dataset.box),
    sampleCounts: Object.fromEntries(
      [...document.querySelectorAll('#tracks tr[data-track-id]')].map((tr) => [
        tr.dataset.trackId,
        Number(tr.querySelector('td[data-sample-count]')?.textContent.replace(/\D/g, '')),
      ]),
    ),
    sampleRows: document.querySelectorAll('#samples tbody tr').length,
    flvTags: document.querySelectorAll('#flv-tags tbody tr').length,
  }));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#inspect-json')]);
  const json = join(OUT, `inspect-${label}.json`);
  await download.saveAs(json);
  await page.screenshot({ path: join(OUT, `inspector-${label}.png`) });
  return { label, url: name, file, json, ...seen };
}
