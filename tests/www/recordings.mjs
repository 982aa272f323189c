// The page's Recordings view in headless Chromium, driven from the keyboard where a user would:
// the admin key entered in the Player view; a stream the store does not hold (the API's refusal
// shown); then STREAM's recordings listed; the first one played with hls.js; a range set from the
// playhead (paused at 1 s and at 4.5 s) and the end handle moved one step back with the arrow
// key. Reports what the page showed as JSON on stdout (tests/www.rs checks it) and keeps a
// screenshot in $OUT/recordings.png.
//
// Environment: BASE (the node's HTTP origin), ADMIN_KEY, STREAM (a stream with two recordings),
// OUT (a folder for the screenshot), WWW (the www/ folder, for its node_modules), CHROMIUM (the
// browser; default /usr/bin/chromium).
import { join } from 'node:path';
import { env, launch } from './chromium.mjs';

const BASE = env('BASE');
const STREAM = env('STREAM');
const TIMEOUT = 60_000;
/** How far playback must advance, in seconds. */
const PLAY_SECONDS = 2;
/** Where the range is set from the playhead, in seconds of the recording. */
const RANGE = [1, 4.5];

const context = await launch(env('WWW'), { viewport: { width: 1280, height: 900 } });
const result = { pageErrors: [], consoleErrors: [] };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && result.consoleErrors.push(m.text()));

  await page.goto(`${BASE}/#player`);
  await page.fill('#admin-key', env('ADMIN_KEY'));
  await page.click('#streams-refresh');
  await page.waitForSelector(`#streams button[data-stream="${STREAM}"]`);

  // The view from the navigation; a stream the store does not hold, submitted with Enter.
  await page.click('nav a[href="#recordings"]');
  await page.fill('#rec-stream', 'nosuchstream');
  await page.press('#rec-stream', 'Enter');
  await page.waitForFunction(() => document.getElementById('rec-error').textContent.length > 0);
  result.missing = await page.textContent('#rec-error');
  // The console reports the failed fetch itself; that line is the browser's, not the page's.
  result.consoleErrors = result.consoleErrors.filter((m) => !m.includes('404'));

  await page.fill('#rec-stream', STREAM);
  await page.press('#rec-stream', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#rec-list tr[data-recording]').length >= 2);
  result.error = await page.textContent('#rec-error');
  result.hash = await page.evaluate(() => location.hash);
  result.rows = await page.$$eval('#rec-list tr[data-recording]', (rows) => rows.map((r) => ({
    id: r.dataset.recording,
    durationMs: Number(r.dataset.durationMs),
    cells: [...r.querySelectorAll('td')].map((td) => td.textContent.trim()),
  })));

  // Play the first one from the keyboard: its button focused, then Enter.
  const first = result.rows[0].id;
  await page.focus(`#rec-list button[data-recording="${first}"]`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('rec-video').currentTime > 0.1);
  const start = await page.evaluate(() => document.getElementById('rec-video').currentTime);
  await page.waitForFunction((until) => document.getElementById('rec-video').currentTime >= until, start + PLAY_SECONDS);
  result.playback = await page.evaluate((start) => {
    const v = document.getElementById('rec-video');
    return { start, currentTime: v.currentTime, videoWidth: v.videoWidth, videoHeight: v.videoHeight,
      errors: window.rapidrtmp.recordings.errors, playing: document.getElementById('rec-playing').textContent };
  }, start);

  // The range from the playhead, then the end handle one step back with the keyboard.
  await page.evaluate(() => document.getElementById('rec-video').pause());
  for (const [t, button] of [[RANGE[0], '#rec-start-here'], [RANGE[1], '#rec-end-here']]) {
    await page.evaluate((t) => new Promise((resolve) => {
      const v = document.getElementById('rec-video');
      v.addEventListener('seeked', resolve, { once: true });
      v.currentTime = t;
    }), t);
    await page.click(button);
  }
  result.fromPlayhead = await range(page);
  await page.focus('#rec-end');
  await page.keyboard.press('ArrowLeft');
  await page.fill('#rec-filename', 'my clip');
  result.afterKey = await range(page);
  await page.screenshot({ path: join(env('OUT'), 'recordings.png'), fullPage: true });
} catch (e) {
  result.failure = String(e.stack ?? e);
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify(result) + '\n');

/** The range the page shows: the handles' values, the wall-clock times and the download link. */
function range(page) {
  return page.evaluate(() => ({
    start: Number(document.getElementById('rec-start').value),
    end: Number(document.getElementById('rec-end').value),
    startAt: document.getElementById('rec-start-at').textContent,
    endAt: document.getElementById('rec-end-at').textContent,
    length: document.getElementById('rec-length').textContent,
    href: document.getElementById('rec-download').href,
    path: new URL(document.getElementById('rec-download').href).pathname,
    query: Object.fromEntries(new URL(document.getElementById('rec-download').href).searchParams),
    download: document.getElementById('rec-download').getAttribute('download'),
  }));
}
