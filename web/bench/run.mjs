// Browser benchmark: the official AWS Encryption SDK for the browser against cse's wasm,
// each in headless Chromium, raw RSA-4096 keyring (OAEP-SHA256, MyAppKeys/S3RSAKey),
// frames of 4096 bytes.
//
//   npm ci --prefix web/test      (once)
//   node web/bench/run.mjs [--sizes 16,64] [--suites 0578,0478] [--impl official,ours]
//                          [--keys DIR] [--repeat N] [--headful]
//
// '--impl ours:DIR' runs ours.mjs on another wasm-bindgen output, DIR relative to web/
// (e.g. ours:bench/dist/pkg-scalar, a copy of an earlier build): several builds side by
// side in one run, each on its own page. A simd128 build to compare, for example:
//   RUSTFLAGS='-C target-feature=+simd128' CARGO_TARGET_DIR=target/wasm-simd \
//     cargo build -p cse-web --target wasm32-unknown-unknown --profile wasm
//   wasm-bindgen --target web --out-dir web/bench/dist/pkg-simd \
//     target/wasm-simd/wasm32-unknown-unknown/wasm/cse_web.wasm
//   node web/bench/run.mjs --sizes 64 --impl official,ours,ours:bench/dist/pkg-simd
//
// It bundles official.mjs with esbuild into dist/official.js, serves web/ on 127.0.0.1,
// and opens a fresh page per run. Each implementation is a page-global function
//   window.officialBench / window.cseBench ({ suite, sizeMiB, publicPem, privatePem })
//     -> { encryptMBps, decryptMBps, ... }
// cseBench comes from web/bench/ours.mjs when that file exists (an ES module that sets
// window.cseBench; it may import the wasm-bindgen output by a path relative to itself).
// '--impl ours' without that file is an error; by default ours runs only when present.
//
// Prints one JSON line per run on stdout (page console goes to stdout too, prefixed
// [page ...]; JSON lines start with '{'). Memory, three ways, and they differ:
//   peakJSHeapUsedMiB  CDP Performance.getMetrics JSHeapUsedSize, sampled every 50 ms:
//                      the V8 heap alone, without ArrayBuffer contents nor wasm memory
//   perfMemoryPeakMiB  performance.memory.usedJSHeapSize sampled in the page every 20 ms
//                      (precise: the flag is on): counts ArrayBuffer contents, not wasm
//                      memory; perfMemory is the same after the run
//   rendererPeakRssMiB VmHWM (peak resident set) of the page's renderer process, from
//                      /proc: counts everything, wasm memory included. The one to
//                      compare the two implementations by. (cseBench may add its own
//                      fields, e.g. the wasm memory size; they are printed as given.)
// DIR with public_key.pem and private_key.pem; without --keys a fresh RSA-4096 pair is made.

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.dirname(BENCH);
const TEST = path.join(WEB, 'test');
const MODULES = path.join(TEST, 'node_modules');

if (!fs.existsSync(path.join(MODULES, 'playwright-core'))) {
  console.error(`run.mjs: no ${MODULES}; run: npm ci --prefix ${path.relative(process.cwd(), TEST) || '.'}`);
  process.exit(2);
}
const { serveStatic, launchBrowser, withHeapPeak } = await import(path.join(TEST, 'browser.mjs'));
const esbuild = createRequire(path.join(TEST, 'package.json'))('esbuild');

function parseArgs(argv) {
  const opts = { sizes: [16, 64], suites: [0x0578, 0x0478], impl: null, keys: null, repeat: 1, headful: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => argv[++i];
    if (a === '--sizes') opts.sizes = v().split(',').map(Number);
    else if (a === '--suites') opts.suites = v().split(',').map((s) => parseInt(s.replace(/^0x/, ''), 16));
    else if (a === '--impl') opts.impl = v().split(',');
    else if (a === '--keys') opts.keys = v();
    else if (a === '--repeat') opts.repeat = Number(v());
    else if (a === '--headful') opts.headful = true;
    else { console.error(`run.mjs: unknown argument ${a}`); process.exit(2); }
  }
  if (opts.sizes.some((s) => !(s > 0))) throw new Error('--sizes: positive MiB counts');
  return opts;
}

async function loadKeys(dir) {
  if (dir) {
    return {
      publicPem: await fsp.readFile(path.join(dir, 'public_key.pem'), 'utf8'),
      privatePem: await fsp.readFile(path.join(dir, 'private_key.pem'), 'utf8'),
    };
  }
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 4096,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

async function bundleOfficial() {
  await esbuild.build({
    entryPoints: [path.join(BENCH, 'official.mjs')],
    outfile: path.join(BENCH, 'dist', 'official.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    nodePaths: [MODULES],
    inject: [path.join(BENCH, 'node-globals.mjs')],
    logLevel: 'warning',
  });
}

// Chromium renderer processes on this machine: pid -> VmHWM (peak resident set, KiB).
async function renderers() {
  const out = new Map();
  for (const pid of await fsp.readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      out.set(Number(pid), hwm ? Number(hwm[1]) : 0);
    } catch { /* gone */ }
  }
  return out;
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cse benchmark</title>
<script src="/bench/dist/official.js"></script>
<script>window.csePkg = new URLSearchParams(location.search).get('pkg');</script>
__OURS__
<p>cse benchmark page: window.officialBench, window.cseBench</p>
`;

const opts = parseArgs(process.argv.slice(2));
const oursPresent = fs.existsSync(path.join(BENCH, 'ours.mjs'));
const impls = opts.impl || (oursPresent ? ['official', 'ours'] : ['official']);
const pkgOf = (impl) => (impl.startsWith('ours:') ? impl.slice(5) : null);
for (const impl of impls) {
  const dir = pkgOf(impl);
  if (impl !== 'official' && impl !== 'ours' && !dir) { console.error(`run.mjs: unknown --impl ${impl}`); process.exit(2); }
  if (dir && !fs.existsSync(path.join(WEB, dir, 'cse_web.js'))) { console.error(`run.mjs: no ${path.join(WEB, dir, 'cse_web.js')}`); process.exit(2); }
}
if (impls.some((i) => i !== 'official') && !oursPresent) {
  console.error('run.mjs: --impl ours needs web/bench/ours.mjs (an ES module that sets window.cseBench)');
  process.exit(2);
}
const fnOf = (impl) => (impl === 'official' ? 'officialBench' : 'cseBench');

await bundleOfficial();
const keys = await loadKeys(opts.keys);
const site = await serveStatic({
  mounts: { '/': WEB },
  pages: {
    '/bench/run.html': PAGE.replace('__OURS__', oursPresent ? '<script type="module" src="/bench/ours.mjs"></script>' : ''),
  },
});
const browser = await launchBrowser({ headless: !opts.headful, args: ['--enable-precise-memory-info'] });

let failures = 0;
try {
  for (const impl of impls) {
    for (const suite of opts.suites) {
      for (const sizeMiB of opts.sizes) {
        for (let rep = 0; rep < opts.repeat; rep++) {
          const page = await browser.context.newPage();
          const dir = pkgOf(impl);
          await page.goto(site.url + 'bench/run.html' + (dir ? '?pkg=' + encodeURIComponent(dir) : ''));
          // module scripts have run by the load event; give a slow wasm start a moment more
          await page.waitForFunction((fn) => typeof window[fn] === 'function', fnOf(impl), { timeout: 30000 });
          const cdp = await browser.cdp(page);
          let heavyPid = null;
          const line = { impl, suite: '0x' + suite.toString(16).padStart(4, '0'), sizeMiB };
          try {
            const { result, peakJSHeapUsedSize } = await withHeapPeak(cdp, () =>
              page.evaluate(async ({ fn, args }) => {
                // performance.memory sampled in the page between the bench's awaits
                let peak = 0;
                const probe = () => { peak = Math.max(peak, performance.memory.usedJSHeapSize); };
                const timer = setInterval(probe, 20);
                try {
                  const r = await window[fn](args);
                  probe();
                  return { ...r, perfMemoryPeakMiB: +(peak / 1048576).toFixed(1) };
                } finally {
                  clearInterval(timer);
                }
              }, { fn: fnOf(impl), args: { suite, sizeMiB, ...keys } }));
            Object.assign(line, result, { impl: line.impl, suite: line.suite, sizeMiB });
            line.peakJSHeapUsedMiB = +(peakJSHeapUsedSize / 1048576).toFixed(1);
            line.perfMemory = await page.evaluate(() => ({
              usedJSHeapMiB: +(performance.memory.usedJSHeapSize / 1048576).toFixed(1),
              totalJSHeapMiB: +(performance.memory.totalJSHeapSize / 1048576).toFixed(1),
              limitMiB: Math.round(performance.memory.jsHeapSizeLimit / 1048576),
            }));
            // The page's renderer is the largest one alive: the runs before it waited for
            // theirs to exit, and the rest are blank tabs or a spare process.
            const peak = [...(await renderers())].sort((a, b) => b[1] - a[1])[0];
            if (peak) { line.rendererPeakRssMiB = Math.round(peak[1] / 1024); heavyPid = peak[0]; }
          } catch (e) {
            failures++;
            line.error = String(e.message || e).split('\n')[0];
          }
          line.browser = await page.evaluate(() => /Chrom(e|ium)\/[\d.]+/.exec(navigator.userAgent)?.[0] ?? navigator.userAgent);
          console.log(JSON.stringify(line));
          await cdp.detach().catch(() => {});
          await page.close();
          for (let i = 0; heavyPid && i < 50 && fs.existsSync(`/proc/${heavyPid}`); i++) await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
} finally {
  await browser.close();
  await site.close();
}
process.exit(failures ? 1 : 0);
