// Browser test helpers for the cse web page: headless Chromium driven by playwright-core,
// and a static file server on 127.0.0.1.
//
// The page is served from one port and talks to S3 through the CORS proxy on another, so
// every S3 request is cross-origin, as it is for a person using the page.
//
//   import { serveStatic, launchBrowser } from './browser.mjs';
//   const site = await serveStatic({ mounts: { '/': wwwDir } });
//   const browser = await launchBrowser();
//   const page = await browser.open(site.url + 'index.html');
//   ...
//   await browser.close(); await site.close();
//
// As a command: node browser.mjs serve DIR [PORT]   (serves DIR until interrupted)

import http from 'node:http';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.pem': 'application/x-pem-file',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Serves files over HTTP on 127.0.0.1.
 *
 * mounts: URL prefix -> directory, e.g. { '/': 'web/www', '/bench/': 'web/bench/dist' };
 *   the longest matching prefix wins.
 * pages: URL path -> string or Buffer served as is (type from the path's extension),
 *   for small generated pages.
 * port: 0 picks a free port.
 * isolated: adds the two headers that make the page cross-origin isolated (needed for
 *   SharedArrayBuffer and a precise performance.measureUserAgentSpecificMemory()).
 *
 * Returns { url, port, close() }; url ends with '/'.
 */
export async function serveStatic({ mounts = {}, pages = {}, port = 0, host = '127.0.0.1', isolated = false, log = false } = {}) {
  const prefixes = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : prefix + '/', path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);

  const server = http.createServer(async (req, res) => {
    const send = (status, body, type = 'text/plain; charset=utf-8', extra = {}) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Cache-Control': 'no-store',
        ...(isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {}),
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
      let urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (log) console.log(`[static] ${req.method} ${urlPath}`);
      if (Object.hasOwn(pages, urlPath)) {
        return send(200, pages[urlPath], MIME[path.extname(urlPath)] || 'application/octet-stream');
      }
      const hit = prefixes.find(([prefix]) => urlPath.startsWith(prefix) || urlPath + '/' === prefix);
      if (!hit && urlPath === '/favicon.ico') return send(204, '');
      if (!hit) return send(404, 'not found\n');
      const [prefix, dir] = hit;
      let file = path.resolve(dir, '.' + path.posix.sep + urlPath.slice(prefix.length));
      if (file !== dir && !file.startsWith(dir + path.sep)) return send(403, 'forbidden\n');
      let st = await fsp.stat(file).catch(() => null);
      if (st && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = await fsp.stat(file).catch(() => null);
      }
      if ((!st || !st.isFile()) && urlPath === '/favicon.ico') return send(204, '');
      if (!st || !st.isFile()) return send(404, 'not found\n');
      res.writeHead(200, {
        'Content-Type': MIME[path.extname(file)] || 'application/octet-stream',
        'Content-Length': st.size,
        'Cache-Control': 'no-store',
        ...(isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {}),
      });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    } catch (e) {
      send(500, String(e) + '\n');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/**
 * Launches Chromium with a fresh profile directory (removed on close).
 *
 * Console messages, page errors and failed requests of every page are printed to stdout,
 * prefixed with [page ...]; pass onConsole to receive them as well (e.g. to collect results).
 *
 * Returns { context, open(url) -> page, cdp(page) -> CDPSession, close() }.
 */
export async function launchBrowser({ headless = true, args = [], onConsole = null, quiet = false, viewport = { width: 1280, height: 900 } } = {}) {
  const userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cse-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless,
    args: [...CHROMIUM_ARGS, ...args],
    viewport,
    acceptDownloads: true,
  });
  const watch = (page) => {
    page.on('console', (msg) => {
      const text = msg.text();
      if (!quiet) console.log(`[page console.${msg.type()}] ${text}`);
      onConsole?.(msg.type(), text);
    });
    page.on('pageerror', (err) => console.log(`[page exception] ${err.stack || err}`));
    page.on('requestfailed', (req) => {
      // ERR_ABORTED is routine (a response body left unread, a cancelled request)
      const why = req.failure()?.errorText;
      if (!quiet && why !== 'net::ERR_ABORTED') console.log(`[page request failed] ${req.method()} ${req.url()}: ${why}`);
    });
    page.on('crash', () => console.log('[page crashed]'));
  };
  context.pages().forEach(watch);
  context.on('page', watch);

  return {
    context,
    async open(url) {
      const page = context.pages().find((p) => p.url() === 'about:blank') || (await context.newPage());
      await page.goto(url);
      return page;
    },
    cdp: (page) => context.newCDPSession(page),
    async close() {
      await context.close().catch(() => {});
      await fsp.rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Samples CDP Performance.getMetrics every `everyMs` while `fn` runs and returns
 * { result, peakJSHeapUsedSize, peakJSHeapTotalSize } (bytes). Catches JS heap only;
 * wasm linear memory and ArrayBuffer backing stores are not part of JSHeapUsedSize.
 */
export async function withHeapPeak(cdp, fn, everyMs = 50) {
  await cdp.send('Performance.enable');
  let peakUsed = 0, peakTotal = 0, stop = false;
  const sample = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    for (const m of metrics) {
      if (m.name === 'JSHeapUsedSize') peakUsed = Math.max(peakUsed, m.value);
      if (m.name === 'JSHeapTotalSize') peakTotal = Math.max(peakTotal, m.value);
    }
  };
  const loop = (async () => {
    while (!stop) {
      await sample().catch(() => {});
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  let result;
  try {
    result = await fn();
  } finally {
    stop = true;
    await loop;
  }
  await sample().catch(() => {});
  return { result, peakJSHeapUsedSize: peakUsed, peakJSHeapTotalSize: peakTotal };
}

// node browser.mjs serve DIR [PORT]
if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const [cmd, dir, port] = process.argv.slice(2);
  if (cmd !== 'serve' || !dir) {
    console.error('usage: node browser.mjs serve DIR [PORT]');
    process.exit(2);
  }
  const site = await serveStatic({ mounts: { '/': dir }, port: Number(port || 0), log: true });
  console.log(`serving ${path.resolve(dir)} at ${site.url}`);
}

export const HERE = path.dirname(fileURLToPath(import.meta.url));
