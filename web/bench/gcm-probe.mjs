// The ceiling of frame AES-GCM in the browser's WebCrypto: AES-256-GCM over 4 KiB frames
// (12-byte IV, 72-byte AAD, as the regular frames of suites 0x0478/0x0578 have), in dedicated Workers,
// BATCH frames in flight at once through Promise.all, in 1 and in 2 workers running at the
// same time (aggregate MB/s of plaintext). Nothing of cse runs here.
//
//   node web/bench/gcm-probe.mjs [--mib 64] [--batches 1,16,64,256] [--workers 1,2] [--decrypt]
//
// Prints one JSON line per (workers, batch) on stdout.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const { serveStatic, launchBrowser } = await import(path.join(BENCH, '..', 'test', 'browser.mjs'));

const opts = { mib: 64, batches: [1, 16, 64, 256], workers: [1, 2], decrypt: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], v = () => argv[++i];
  if (a === '--mib') opts.mib = Number(v());
  else if (a === '--batches') opts.batches = v().split(',').map(Number);
  else if (a === '--workers') opts.workers = v().split(',').map(Number);
  else if (a === '--decrypt') opts.decrypt = true;
  else { console.error(`gcm-probe.mjs: unknown argument ${a}`); process.exit(2); }
}

const WORKER = `
self.onmessage = async ({ data: { mib, batch, decrypt } }) => {
  const FRAME = 4096;
  const frames = (mib * 1048576) / FRAME;
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const plain = new Uint8Array(mib * 1048576);
  for (let at = 0; at < plain.length; at += 65536) crypto.getRandomValues(plain.subarray(at, at + 65536));
  const aad = crypto.getRandomValues(new Uint8Array(72));
  const ivOf = (i) => { const iv = new Uint8Array(12); new DataView(iv.buffer).setUint32(8, i + 1); return iv; };
  const out = new Uint8Array(frames * (FRAME + 16));
  const run = async (op, src, per) => {
    for (let i = 0; i < frames; i += batch) {
      const n = Math.min(batch, frames - i);
      const done = await Promise.all(Array.from({ length: n }, (_, j) =>
        crypto.subtle[op]({ name: 'AES-GCM', iv: ivOf(i + j), additionalData: aad, tagLength: 128 }, key,
          src.subarray((i + j) * per, (i + j + 1) * per))));
      if (op === 'encrypt') done.forEach((b, j) => out.set(new Uint8Array(b), (i + j) * (FRAME + 16)));
    }
  };
  let t0 = performance.now();
  await run('encrypt', plain, FRAME);
  const encMs = performance.now() - t0;
  let decMs = null;
  if (decrypt) {
    t0 = performance.now();
    await run('decrypt', out, FRAME + 16);
    decMs = performance.now() - t0;
  }
  self.postMessage({ encMs, decMs, bytes: plain.length });
};`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>gcm probe</title><p>gcm probe</p>`;

const site = await serveStatic({ pages: { '/probe.html': PAGE, '/probe-worker.js': WORKER } });
const browser = await launchBrowser();
try {
  for (const workers of opts.workers) {
    for (const batch of opts.batches) {
      const page = await browser.open(site.url + 'probe.html');
      const r = await page.evaluate(async ({ workers, mib, batch, decrypt }) => {
        const ws = Array.from({ length: workers }, () => new Worker('/probe-worker.js'));
        const t0 = performance.now();
        const results = await Promise.all(ws.map((w) => new Promise((resolve, reject) => {
          w.onmessage = (e) => resolve(e.data);
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage({ mib, batch, decrypt });
        })));
        ws.forEach((w) => w.terminate());
        return { wallMs: performance.now() - t0, results, ua: navigator.userAgent };
      }, { workers, mib: opts.mib, batch, decrypt: opts.decrypt });
      const mbps = (bytes, ms) => Math.round((bytes / 1e6 / (ms / 1e3)) * 10) / 10;
      // Aggregate: all workers' bytes over the slowest worker's encrypt time.
      const bytes = r.results.reduce((s, x) => s + x.bytes, 0);
      const enc = Math.max(...r.results.map((x) => x.encMs));
      const line = {
        workers, batch, mibPerWorker: opts.mib,
        encryptMBpsEach: r.results.map((x) => mbps(x.bytes, x.encMs)),
        encryptMBpsAggregate: mbps(bytes, enc),
        browser: /Chrom(e|ium)\/[\d.]+/.exec(r.ua)?.[0],
      };
      if (opts.decrypt) {
        line.decryptMBpsEach = r.results.map((x) => mbps(x.bytes, x.decMs));
        line.decryptMBpsAggregate = mbps(bytes, Math.max(...r.results.map((x) => x.decMs)));
      }
      console.log(JSON.stringify(line));
      await page.close();
    }
  }
} finally {
  await browser.close();
  await site.close();
}
