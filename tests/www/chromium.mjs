// What the browser scripts share: their environment, headless Chromium (through playwright-core
// from www/node_modules) and a local server for the page that drives hls.js.
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The environment variable `name`, or `fallback`; throws when neither is there. */
export const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

/** Headless Chromium ($CHROMIUM, default /usr/bin/chromium) in a fresh profile, with `options` added. */
export async function launch(www, options = {}) {
  const { chromium } = await import(pathToFileURL(join(www, 'node_modules/playwright-core/index.mjs')).href);
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'rapidrtmp-chromium-')), {
    executablePath: env('CHROMIUM', '/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    ...options,
  });
}

/**
 * Serves `page` at / and hls.js at /hls.js on 127.0.0.1; `other(req, res, url)` answers the rest
 * (404 without it). Resolves to the server and its base URL.
 */
export async function servePage(www, page, other) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else if (url.pathname === '/hls.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(www, 'node_modules/hls.js/dist/hls.js')));
    } else if (other) other(req, res, url);
    else res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${server.address().port}/` };
}

/**
 * Serves `page` (as servePage, with `other`), opens it in headless Chromium and resolves to what
 * `drive(p, loadedAt)` returns for the Playwright page `p` (`loadedAt`: Date.now() just before
 * the page was asked for), with `pageErrors` (the page's uncaught errors) added; the browser and
 * the server are closed however it ends.
 */
export async function openPage(www, page, drive, other) {
  const { server, base } = await servePage(www, page, other);
  const context = await launch(www);
  try {
    const p = context.pages()[0] ?? (await context.newPage());
    const pageErrors = [];
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    const loadedAt = Date.now();
    await p.goto(base);
    const out = await drive(p, loadedAt);
    out.pageErrors = pageErrors;
    return out;
  } finally {
    await context.close();
    server.close();
  }
}
