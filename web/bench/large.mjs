// One large file through the page, with the renderer's memory measured (make bench-web):
// a file of --size-mib MiB (default 2048) of random bytes is uploaded through the page (its
// Worker reads it with File.slice and sends a multipart upload), read back by cse to check what
// was stored, then downloaded and verified in the page into a save dialog that writes to the
// origin-private file system (as a real save dialog streams to disk), and compared with the
// original slice by slice. The renderer's peak resident set (the page, its Worker and the
// wasm memory together; VmHWM and VmRSS from /proc read every 200 ms, since Chromium resets
// VmHWM now and then) is taken after the upload and after the download, and
// the page's main thread must run no task over 50 ms during the upload (PerformanceObserver
// "longtask").
//
//   make web build s3-server        (once: the page, cse, s3s-fs)
//   npm ci --prefix web/test        (once)
//   node web/bench/large.mjs [--size-mib 2048] [--part-mib 8] [--concurrency 4] [--max-rss-mib 400]
//                            [--trace-ms 1000]
//
// --trace-ms samples the renderer's resident set and the page's and the Worker's JS heaps and
// ArrayBuffer backing stores that often (lines on stderr), and adds each phase's maxima and
// the Worker's wasm memory to the JSON line (under "trace").
//
// Exits 1 when a step fails or the renderer's peak RSS passes --max-rss-mib. Prints one JSON
// line. Against a local s3s-fs behind the CORS proxy of the browser tests (web/test/stack.mjs);
// needs about 3 × the size on the disk of TMPDIR.
//
// Chromium is driven over its DevTools pipe with the Runtime, DOM and Target domains only (no
// Playwright): Playwright's network instrumentation keeps and copies every request body,
// which would slow the transfers several times and swell the renderer being measured.

import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.dirname(BENCH);
const REPO = path.dirname(WEB);
const TEST = path.join(WEB, 'test');
const WWW = path.join(WEB, 'www');
const CSE = process.env.CSE_BIN ? path.resolve(process.env.CSE_BIN) : path.join(REPO, 'target', 'release', 'cse');
const MIB = 1024 * 1024;
const SLICE = 8 * MIB; // the compare step's slices
const POLL_MS = 200; // how often the renderers' peak RSS is read
const BUCKET = 'large';
const run = promisify(execFile);

function parseArgs(argv) {
  const o = { sizeMiB: 2048, partMiB: 8, concurrency: 4, maxRssMiB: 400, traceMs: 0 };
  const names = { '--size-mib': 'sizeMiB', '--part-mib': 'partMiB', '--concurrency': 'concurrency', '--max-rss-mib': 'maxRssMiB', '--trace-ms': 'traceMs' };
  for (let i = 0; i < argv.length; i++) {
    const k = names[argv[i]];
    const v = Number(argv[i + 1]);
    if (!k || !(v > 0)) { console.error(`large.mjs: bad argument ${argv[i]} ${argv[i + 1] ?? ''}`); process.exit(2); }
    o[k] = v;
    i++;
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
for (const [what, p] of [['web/www/pkg (make web)', path.join(WWW, 'pkg', 'cse_web.js')], ['cse (make build)', CSE], ['web/test/node_modules (npm ci --prefix web/test)', path.join(TEST, 'node_modules', 'playwright-core')]]) {
  if (!fs.existsSync(p)) { console.error(`large.mjs: missing ${what}: ${p}`); process.exit(2); }
}
const { serveStatic, CHROMIUM, CHROMIUM_ARGS } = await import(path.join(TEST, 'browser.mjs'));
const { startS3Stack } = await import(path.join(TEST, 'stack.mjs'));

/**
 * Headless Chromium with a fresh profile, driven over --remote-debugging-pipe (JSON messages
 * ended by NUL on fds 3 and 4). open(url) gives a page: evaluate(js) (awaited, by value),
 * setFiles(selector, paths), close().
 */
async function launchChromium() {
  const profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'cse-chromium-'));
  const proc = spawn(CHROMIUM, [...CHROMIUM_ARGS, '--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const waiting = new Map();
  const listeners = [];
  let nextId = 1, inbox = '';
  proc.stdio[4].on('data', (d) => {
    inbox += d;
    let end;
    while ((end = inbox.indexOf('\0')) >= 0) {
      const msg = JSON.parse(inbox.slice(0, end));
      inbox = inbox.slice(end + 1);
      if (!msg.id && msg.method) { for (const l of listeners) l(msg); continue; }
      const w = msg.id && waiting.get(msg.id);
      if (!w) continue;
      waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(`${w.method}: ${msg.error.message}`));
      else w.resolve(msg.result);
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject, method });
    proc.stdio[3].write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  });
  exited.then((code) => { for (const w of waiting.values()) w.reject(new Error(`chromium exited (${code}): ${stderr}`)); });
  return {
    pid: proc.pid,
    send,
    listeners,
    async open(url) {
      const { targetId } = await send('Target.createTarget', { url });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      const call = (method, params) => send(method, params, sessionId);
      return {
        sessionId,
        call,
        async evaluate(expression) {
          const r = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
          if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
          return r.result.value;
        },
        async setFiles(selector, files) {
          const { root } = await call('DOM.getDocument', { depth: 0 });
          const { nodeId } = await call('DOM.querySelector', { nodeId: root.nodeId, selector });
          if (!nodeId) throw new Error(`no ${selector}`);
          await call('DOM.setFileInputFiles', { nodeId, files });
        },
      };
    },
    async close() {
      await send('Browser.close').catch(() => {});
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      proc.kill('SIGKILL');
      await fsp.rm(profile, { recursive: true, force: true });
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls `js` in the page until it gives a truthy value; returns it. */
async function until(page, js, timeoutMs, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(js);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${js}`);
    await sleep(everyMs);
  }
}

/** The renderer processes under Chromium's process `root`: [{ pid, rss, hwm }] (MiB, now and peak). */
async function renderers(root) {
  const parent = new Map();
  for (const pid of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
      parent.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  const ours = (pid) => { for (let p = pid; p > 1; p = parent.get(p)) if (p === root) return true; return false; };
  const out = [];
  for (const pid of parent.keys()) {
    if (!ours(pid)) continue;
    try {
      if (!(await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('--type=renderer')) continue;
      const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
      const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] || 0);
      out.push({ pid, rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 });
    } catch { /* gone */ }
  }
  return out;
}

/**
 * The peak resident set (MiB) of Chromium's renderers since the watch started. VmHWM alone
 * does not do: Chromium resets it now and then (through /proc/self/clear_refs; it was seen
 * to fall from 535 to 330 MiB during a download), so it is read every POLL_MS and the largest
 * value kept. peak() gives it; stop() ends the polling.
 */
function watchPeak(root) {
  let peak = 0, pids = [], round = 0;
  const poll = async () => {
    // The renderers' list every tenth round; their status files every round.
    if (round++ % 10 === 0) pids = (await renderers(root)).map((r) => r.pid);
    for (const pid of pids) {
      try {
        const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
        for (const f of ['VmHWM', 'VmRSS']) peak = Math.max(peak, Number(new RegExp(`${f}:\\s+(\\d+)`).exec(status)?.[1] || 0) / 1024);
      } catch { /* gone */ }
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    poll().catch(() => {}).finally(() => { busy = false; });
  }, POLL_MS);
  timer.unref();
  return {
    async peak() { await poll(); return Math.round(peak); },
    stop() { clearInterval(timer); },
  };
}

/** Writes `size` random bytes to `file`; returns the SHA-256 of each SLICE (hex). */
async function randomFile(file, size) {
  const out = fs.createWriteStream(file);
  const digests = [];
  for (let at = 0; at < size; at += SLICE) {
    const n = Math.min(SLICE, size - at);
    const buf = crypto.randomBytes(n);
    digests.push(crypto.createHash('sha256').update(buf).digest('hex'));
    if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((resolve, reject) => out.end((e) => (e ? reject(e) : resolve())));
  return digests;
}

async function sliceDigests(file) {
  const digests = [];
  const fh = await fsp.open(file);
  try {
    const buf = Buffer.alloc(SLICE);
    for (;;) {
      let n = 0;
      while (n < SLICE) {
        const { bytesRead } = await fh.read(buf, n, SLICE - n);
        if (!bytesRead) break;
        n += bytesRead;
      }
      if (!n) break;
      digests.push(crypto.createHash('sha256').update(buf.subarray(0, n)).digest('hex'));
      if (n < SLICE) break;
    }
  } finally {
    await fh.close();
  }
  return digests;
}

/**
 * Samples memory every `everyMs` while a phase runs (one line each on stderr): the largest
 * renderer's resident set, and Runtime.getHeapUsage of the page and of its Worker (the JS heap
 * used and the ArrayBuffer backing stores, which live outside it and are freed only when the
 * collector finds them dead). phase(name) starts a phase; phase(null) ends it and reads the
 * Worker's wasm memory (Runtime.queryObjects, which collects garbage first: only then). The
 * maxima per phase are in `summary` (MiB).
 */
async function traceMemory(browser, page, everyMs) {
  let worker = null;
  browser.listeners.push((m) => {
    if (m.method === 'Target.attachedToTarget' && m.params.targetInfo.type === 'worker') worker = m.params.sessionId;
  });
  await page.call('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true });
  const summary = {};
  const mib = (n) => Math.round((n || 0) / MIB);
  const heap = async (session) => (session ? browser.send('Runtime.getHeapUsage', {}, session) : {});
  let current = null;
  const start = Date.now();
  const sample = async () => {
    const phase = current;
    const [rs, p, w] = await Promise.all([renderers(browser.pid), heap(page.sessionId), heap(worker)]);
    const rss = Math.round(Math.max(0, ...rs.map((r) => r.rss)));
    const s = { rss, pageHeap: mib(p.usedSize), pageBuffers: mib(p.backingStorageSize), workerHeap: mib(w.usedSize), workerBuffers: mib(w.backingStorageSize) };
    console.error(`trace ${((Date.now() - start) / 1000).toFixed(1)} s ${phase}: ${Object.entries(s).map(([k, v]) => `${k} ${v}`).join(', ')} MiB`);
    const max = (summary[phase] ??= {});
    for (const [k, v] of Object.entries(s)) max[`${k}MaxMiB`] = Math.max(max[`${k}MaxMiB`] || 0, v);
  };
  const wasmMiB = async () => {
    if (!worker) return null;
    const proto = await browser.send('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' }, worker);
    const found = await browser.send('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId }, worker);
    const sizes = await browser.send('Runtime.callFunctionOn', {
      objectId: found.objects.objectId, returnByValue: true,
      functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
    }, worker);
    return mib(Math.max(0, ...sizes.result.value));
  };
  let timer = null;
  return {
    summary,
    async phase(name) {
      clearInterval(timer);
      if (current && !name) summary[current].workerWasmMiB = await wasmMiB().catch((e) => `unread: ${e.message}`);
      current = name;
      if (name) timer = setInterval(() => sample().catch((e) => console.error(`trace: ${e.message}`)), everyMs).unref();
    },
  };
}

const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'cse-large-'));
let site, stack, browser;
/** Ends Chromium, the S3 stack and the static server, and removes the work folder. */
async function cleanUp() {
  await browser?.close();
  await stack?.stop();
  await site?.close();
  await fsp.rm(work, { recursive: true, force: true });
}
// Interrupted (Ctrl-C, a timeout): the same clean-up, so no server is left running.
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(sig, () => { cleanUp().finally(() => process.exit(code)); });
}
const result = { sizeMiB: opts.sizeMiB, partMiB: opts.partMiB, concurrency: opts.concurrency };
let failed = null;
try {
  const priv = path.join(work, 'private_key.pem'), pub = path.join(work, 'public_key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'RSA', '-out', priv, '-pkeyopt', 'rsa_keygen_bits:4096']);
  await run('openssl', ['rsa', '-pubout', '-in', priv, '-out', pub]);
  const size = opts.sizeMiB * MIB;
  const file = path.join(work, 'large.bin');
  console.log(`large.mjs: writing ${opts.sizeMiB} MiB of random bytes`);
  const want = await randomFile(file, size);

  site = await serveStatic({ mounts: { '/': WWW } });
  stack = await startS3Stack({ origin: site.url.replace(/\/$/, ''), buckets: [BUCKET] });
  browser = await launchChromium();
  const page = await browser.open(site.url + 'index.html');
  await until(page, "document.body && document.body.dataset.ready === 'true'", 30000, 200);
  result.cse = await page.evaluate("document.getElementById('version').textContent");
  const set = { endpoint: stack.endpoint, region: stack.region, bucket: BUCKET, 'access-key': stack.accessKey, 'secret-key': stack.secretKey, 'part-size': String(opts.partMiB), concurrency: String(opts.concurrency) };
  await page.evaluate(`(() => { for (const [id, v] of Object.entries(${JSON.stringify(set)})) {
    const el = document.getElementById(id); el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); el.dispatchEvent(new Event('change', { bubbles: true })); } })()`);
  for (const [which, f] of [['public', pub], ['private', priv]]) {
    await page.setFiles(`#${which}-key-file`, [f]);
    await until(page, `document.getElementById('${which}-key-status').textContent.includes(' loaded')`, 10000, 100);
  }
  // The save dialog: a file in the origin-private file system, written as the page streams.
  await page.evaluate(`window.showSaveFilePicker = async () => {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry('large.out').catch(() => {});
    const handle = await root.getFileHandle('large.out', { create: true });
    return { createWritable: () => handle.createWritable() };
  }`);
  const peak = watchPeak(browser.pid);
  const rssAtStart = await peak.peak();
  // --trace-ms: samples of the renderer's resident set and of the page's and the Worker's
  // JavaScript heaps and ArrayBuffer backing stores, with the maxima of each phase and the
  // Worker's wasm memory at its end (it never shrinks, so that is its peak).
  const tracer = opts.traceMs ? await traceMemory(browser, page, opts.traceMs) : null;
  const row = (list) => `(() => { const li = document.querySelector('#${list} li[data-key="large.bin"]');
    return li && !['waiting', 'running'].includes(li.dataset.state)
      && { state: li.dataset.state, parts: Number(li.dataset.parts || 0), status: li.querySelector('.transfer-status').textContent }; })()`;

  // Upload, with every main-thread task over 50 ms recorded (the engine runs in a Worker,
  // so the page's thread only draws).
  await page.evaluate(`window.__longTasks = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longTasks.push(Math.round(e.duration)); })
      .observe({ type: 'longtask' })`);
  const long = 60 * 60 * 1000;
  let t0 = Date.now();
  tracer?.phase('upload');
  await page.setFiles('#upload-files', [file]);
  const u = await until(page, row('uploads'), long);
  result.uploadSeconds = (Date.now() - t0) / 1000;
  await tracer?.phase(null);
  result.upload = u.status;
  result.parts = u.parts;
  result.rendererPeakRssAfterUploadMiB = await peak.peak();
  result.longTasksDuringUploadMs = await page.evaluate('window.__longTasks');
  if (u.state !== 'done') throw new Error(`upload: ${u.state}: ${u.status}`);
  if (u.parts < 2) throw new Error(`upload: not a multipart upload (${u.status})`);
  if (result.longTasksDuringUploadMs.length) throw new Error(`main-thread tasks over 50 ms during the upload: ${result.longTasksDuringUploadMs.join(', ')} ms`);
  console.log(`large.mjs: uploaded in ${result.uploadSeconds} s: ${u.status}`);

  // What the page stored is what cse reads.
  const byCse = path.join(work, 'by-cse.out');
  const env = { ...process.env, AWS_ACCESS_KEY_ID: stack.accessKey, AWS_SECRET_ACCESS_KEY: stack.secretKey, AWS_REGION: stack.region, HOME: work };
  await run(CSE, ['cp', '-q', `s3://${BUCKET}/large.bin`, byCse, '--private-key', priv, '--endpoint-url', stack.direct], { env, maxBuffer: 1 << 20 });
  if (JSON.stringify(await sliceDigests(byCse)) !== JSON.stringify(want)) throw new Error('what cse decrypted differs from the file');
  await fsp.rm(byCse);
  console.log('large.mjs: cse read the object back');

  // Download and verify in the page.
  await page.evaluate("document.getElementById('list-prefix').value = ''; document.getElementById('list-button').click()");
  const button = '#objects tr[data-key="large.bin"] button[data-testid="download-button"]';
  await until(page, `!!document.querySelector('${button}')`, 30000, 200);
  t0 = Date.now();
  tracer?.phase('download');
  await page.evaluate(`document.querySelector('${button}').click()`);
  const d = await until(page, row('downloads'), long);
  result.downloadSeconds = (Date.now() - t0) / 1000;
  result.download = d.status;
  result.rendererPeakRssMiB = await peak.peak();
  peak.stop();
  await tracer?.phase(null);
  if (tracer) result.trace = tracer.summary;
  if (d.state !== 'done') throw new Error(`download: ${d.state}: ${d.status}`);
  console.log(`large.mjs: downloaded in ${result.downloadSeconds} s: ${d.status}`);

  // The saved file, slice by slice, against the original (after the memory figure was read).
  const got = await page.evaluate(`(async () => {
    const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    const f = await (await (await navigator.storage.getDirectory()).getFileHandle('large.out')).getFile();
    const out = [];
    for (let at = 0; at < f.size; at += ${SLICE}) out.push(hex(await crypto.subtle.digest('SHA-256', await f.slice(at, at + ${SLICE}).arrayBuffer())));
    return out;
  })()`);
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error('the file the page saved differs from the original');
  result.verified = true;
  result.rendererRssAtStartMiB = rssAtStart;
  if (result.rendererPeakRssMiB > opts.maxRssMiB) throw new Error(`renderer peak RSS ${result.rendererPeakRssMiB} MiB > ${opts.maxRssMiB} MiB`);
} catch (e) {
  failed = e;
} finally {
  await cleanUp();
}
if (failed) result.error = String(failed.message || failed);
console.log(JSON.stringify(result));
if (failed) {
  console.error(`large.mjs: FAIL: ${result.error}`);
  process.exit(1);
}
console.log(`large.mjs: ${opts.sizeMiB} MiB round trip through the page verified; renderer peak RSS ${result.rendererPeakRssMiB} MiB (limit ${opts.maxRssMiB})`);
