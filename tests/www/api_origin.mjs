// The page's admin key stays with the origin it was entered for. In one tab of headless Chromium:
// the node's page lists its streams with the admin key; the same page is then opened with `?api=`
// naming another origin (a listener on 127.0.0.1 that records every request's headers, answers
// CORS preflights and lists a stream of its own); it is looked at before the origin is confirmed,
// after, once a key is entered for it, on a reload, and back on the page's own origin. Reports
// what the page showed at each step and every request the listener received, as JSON on stdout
// (tests/www.rs checks it).
//
// Environment: BASE (the node's HTTP origin), ADMIN_KEY (the node's), STREAM (a live stream of
// the node), LISTENER_KEY (the key to enter for the listener), WWW (the www/ folder, for its
// node_modules), CHROMIUM (the browser; default /usr/bin/chromium).
import { createServer } from 'node:http';
import { env, launch } from './chromium.mjs';

const BASE = env('BASE');
const TIMEOUT = 30_000;
/** How long the page is left alone to show whether it sends anything unasked. */
const SETTLE_MS = 2_000;
/** The stream the listener lists. */
const LISTENER_STREAM = 'elsewhere';

// The other origin: records every request, answers preflights and the stream list.
const received = [];
const listener = createServer((req, res) => {
  received.push({ method: req.method, path: req.url, headers: req.headers });
  const cors = {
    'access-control-allow-origin': req.headers.origin ?? '*',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'authorization, content-type',
  };
  if (req.method === 'OPTIONS') {
    res.writeHead(204, cors).end();
  } else if (req.method === 'GET' && req.url === '/api/v1/streams') {
    const streams = [{ streamKey: LISTENER_STREAM, state: 'live', playbackUrl: `/live/${LISTENER_STREAM}/index.m3u8` }];
    res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ streams }));
  } else {
    res.writeHead(404, cors).end();
  }
});
await new Promise((r) => listener.listen(0, '127.0.0.1', r));
const API = `http://127.0.0.1:${listener.address().port}`;

const context = await launch(env('WWW'));
const result = { api: API, pageErrors: [] };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  const listed = (stream) => page.waitForSelector(`#streams button[data-stream="${stream}"]`).then(() => true);
  // What the page shows now, and the listener's requests since `from`.
  const seen = async (from) => ({
    ...(await page.evaluate(() => ({
      keyField: document.getElementById('admin-key').value,
      formHidden: document.getElementById('streams-form').hidden,
      confirmHidden: document.getElementById('api-confirm').hidden,
      confirmText: document.getElementById('api-confirm').textContent.replace(/\s+/g, ' ').trim(),
      streams: [...document.querySelectorAll('#streams [data-stream]')].map((b) => b.dataset.stream),
    }))),
    requests: received.slice(from),
  });

  // 1. The node's own page: the key entered once lists the node's streams.
  await page.goto(`${BASE}/#player`);
  await page.fill('#admin-key', env('ADMIN_KEY'));
  await page.click('#streams-refresh');
  result.own = { listed: await listed(env('STREAM')) };

  // 2. The same tab, `?api=` naming the listener: the page waits for a confirmation.
  const other = `${BASE}/?api=${encodeURIComponent(API)}#player`;
  await page.goto(other);
  await page.waitForSelector('#api-confirm', { state: 'visible' });
  await page.waitForTimeout(SETTLE_MS);
  result.beforeConfirm = await seen(0);

  // 3. Confirmed: no key has been entered for the listener, so nothing is sent with one.
  let from = received.length;
  await page.click('#api-confirm-use');
  await page.waitForTimeout(SETTLE_MS);
  result.confirmed = await seen(from);

  // 4. A key entered for the listener lists its streams.
  from = received.length;
  await page.fill('#admin-key', env('LISTENER_KEY'));
  await page.click('#streams-refresh');
  await listed(LISTENER_STREAM);
  result.enteredForIt = await seen(from);

  // 5. Reloaded: asks again; once confirmed, the listener's own key lists its streams.
  from = received.length;
  await page.goto('about:blank');
  await page.goto(other);
  await page.waitForSelector('#api-confirm', { state: 'visible' });
  await page.waitForTimeout(SETTLE_MS);
  result.reloaded = await seen(from);
  from = received.length;
  await page.click('#api-confirm-use');
  await listed(LISTENER_STREAM);
  result.reconfirmed = await seen(from);

  // 6. Back on the page's own origin: its own key, its own streams, listed at once.
  from = received.length;
  await page.goto(`${BASE}/#player`);
  await listed(env('STREAM'));
  result.backHome = await seen(from);
} catch (e) {
  result.failure = String(e?.stack ?? e);
} finally {
  await context.close();
  listener.close();
  result.received = received;
  process.stdout.write(JSON.stringify(result) + '\n');
}
