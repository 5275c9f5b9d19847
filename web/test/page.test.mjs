// End-to-end test of the cse web page (web/www) in headless Chromium against s3s-fs behind
// the CORS proxy, with the page served from another port (every S3 request is cross-origin).
// What the page writes is read by the `cse` binary and by the users' Python scripts (the
// official SDK); what they write is read by the page.
//
//   node web/test/page.test.mjs        (or bash web/test/run.sh, which checks the pieces)
//
// Needs: web/www/pkg (make web), target/release/cse (or CSE_BIN), .venv with the official
// SDK and boto3 (or PYTHON), nginx, s3s-fs, /usr/bin/chromium, `npm ci --prefix web/test`.
// Prints PASS/FAIL per case and exits 1 when any failed. Screenshot of the page after the
// upload: web/test/artifacts/after-upload.png (and fail-<case>.png for a failed case).
//
// Cases: a page upload (multipart) read by cse and the official SDK; a2 parts in flight;
// a3 empty and tiny files; b cse / official-SDK uploads read by the page (Blob link and a
// stubbed save dialog); c1 wrong key; c2 body byte flipped; c3 signature byte flipped;
// c4 hostile objects (tests/s3/hostile.py rows: refused, short inert error, nothing offered);
// d wrong secret; e cancel mid-upload; g no CORS rule; h encryption context; i CORS rule
// without ExposeHeaders ETag; j bad public key file; k remembered settings; l three
// recipients; m encrypted private keys unlocked with a passphrase; n the Inspect view (header
// facts with ranged GETs only; hostile headers refused or shown as inert text); o a 64 MiB
// upload with no long task (> 50 ms) on the page's main thread (the engine runs in a Worker),
// then downloaded and verified; q the page against an https endpoint (nginx terminating TLS
// with a certificate of a CA made at test start, pinned in Chromium): multipart upload and
// verified download, every request over TLS, bodies signed with their SHA-256.
//
// Upload MB/s shown by the page in this test is not the page's speed: Playwright's network
// instrumentation copies every request body over CDP (≈ 1 s per 8 MiB part here; a plain
// Chromium PUT of 8 MiB through the same proxy takes ≈ 0.2 s).

import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { serveStatic, launchBrowser } from './browser.mjs';
import { startS3Stack } from './stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const WWW = path.join(REPO, 'web', 'www');
const ARTIFACTS = path.join(HERE, 'artifacts');
const CSE = process.env.CSE_BIN ? path.resolve(process.env.CSE_BIN) : path.join(REPO, 'target', 'release', 'cse');
const PYTHON = process.env.PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const SEED = path.join(REPO, 'tests', 's3', 'seed_scripts.py');
const BUCKET = 'cse-web';
const MIB = 1024 * 1024;
const run = promisify(execFile);

// ------------------------------------------------------------------------ helpers

const results = [];
// PAGE_CASES=r,c1 runs only those cases (while working on them; some cases use what earlier
// ones left, so the whole run is what counts).
const ONLY = process.env.PAGE_CASES ? new Set(process.env.PAGE_CASES.split(',')) : null;

async function testCase(name, fn) {
  if (ONLY && !ONLY.has(name.split('.')[0])) return;
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page?.screenshot({ path: path.join(ARTIFACTS, `fail-${name.split(' ')[0].replace(/\.$/, '')}.png`), fullPage: true }).catch(() => {});
  }
}

function assert(ok, what) {
  if (!ok) throw new Error(what);
}

function eq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

async function sha256File(file) {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

async function randomFile(file, size) {
  const out = await fsp.open(file, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, 4 * MIB);
      await out.write(crypto.randomBytes(n));
      left -= n;
    }
  } finally {
    await out.close();
  }
  return sha256File(file);
}

async function keyPair(dir) {
  await fsp.mkdir(dir, { recursive: true });
  const priv = path.join(dir, 'private_key.pem'), pub = path.join(dir, 'public_key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'RSA', '-out', priv, '-pkeyopt', 'rsa_keygen_bits:4096']);
  await run('openssl', ['rsa', '-pubout', '-in', priv, '-out', pub]);
  return { priv, pub };
}

// The environment the tools run in: the stack's credentials, nothing of the caller's.
function toolEnv(home) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|CSE_)/.test(k) && !/_proxy$/i.test(k)));
  return { ...env, HOME: home, AWS_ACCESS_KEY_ID: stack.accessKey, AWS_SECRET_ACCESS_KEY: stack.secretKey, AWS_REGION: stack.region, NO_PROXY: '127.0.0.1' };
}

async function tool(cmd, args, env) {
  try {
    return await run(cmd, args, { env, cwd: work, maxBuffer: 16 * MIB, timeout: 300000 });
  } catch (e) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${e.code}):\n${e.stderr || e.message}`);
  }
}

const cse = (...args) => tool(CSE, ['--no-progress', '-q', ...args], toolEnv(work));
const seed = (op, key, file, keys) => tool(PYTHON, [SEED, op, '--bucket', BUCKET, '--key', key, '--file', file,
  '--endpoint-url', stack.direct, '--public-key', keys.pub, '--private-key', keys.priv], toolEnv(work));

// Gets an object with boto3, flips one byte (offset from the start, or from the end when
// negative) and puts it back under another key.
async function tamperedCopy(fromKey, toKey, offset) {
  const script = `
import sys
sys.path.insert(0, sys.argv[1])
import seed_scripts
ep, ak, sk, bucket, src, dst, off = sys.argv[2:9]
s3 = seed_scripts.s3_client(ep, ak, sk)
body = bytearray(s3.get_object(Bucket=bucket, Key=src)["Body"].read())
i = int(off) % len(body)
body[i] ^= 0x01
s3.put_object(Bucket=bucket, Key=dst, Body=bytes(body))
print(i, len(body))
`;
  const { stdout } = await tool(PYTHON, ['-c', script, path.dirname(SEED), stack.direct, stack.accessKey, stack.secretKey, BUCKET, fromKey, toKey, String(offset)], toolEnv(work));
  return stdout.trim();
}

// Writes one hostile object (tests/s3/hostile.py ROW, the CLI tests' generator) and puts it
// under `key`.
const HOSTILE = path.join(REPO, 'tests', 's3', 'hostile.py');
async function putHostile(row, key, publicKey) {
  const script = `
import sys
sys.path.insert(0, sys.argv[1])
import hostile, seed_scripts
ep, ak, sk, bucket, row, dst, pem = sys.argv[2:9]
body = hostile.ROWS[row](open(pem, "rb").read())
seed_scripts.s3_client(ep, ak, sk).put_object(Bucket=bucket, Key=dst, Body=body)
print(len(body))
`;
  const { stdout } = await tool(PYTHON, ['-c', script, path.dirname(SEED), stack.direct, stack.accessKey, stack.secretKey, BUCKET, row, key, publicKey], toolEnv(work));
  return Number(stdout.trim());
}

// s3s-fs keeps one .upload-<id>.json per unfinished multipart upload in its data folder,
// and .upload_id-* files for parts.
async function unfinishedUploads() {
  return (await fsp.readdir(stack.dataDir)).filter((n) => n.startsWith('.upload'));
}

const q = (s) => s.replace(/["\\]/g, '\\$&'); // for a CSS attribute selector

// ------------------------------------------------------------------- page helpers

async function fillSettings(overrides = {}) {
  const v = { endpoint: stack.endpoint, region: stack.region, bucket: BUCKET, access: stack.accessKey, secret: stack.secretKey, ...overrides };
  await page.fill('#endpoint', v.endpoint);
  await page.fill('#region', v.region);
  await page.fill('#bucket', v.bucket);
  await page.fill('#access-key', v.access);
  await page.fill('#secret-key', v.secret);
}

async function setTransfer({ partMiB = 8, concurrency = 4 } = {}) {
  // the inputs are inside a closed <details>; set them without opening it
  await page.evaluate(({ partMiB, concurrency }) => {
    document.getElementById('part-size').value = String(partMiB);
    document.getElementById('concurrency').value = String(concurrency);
  }, { partMiB, concurrency });
}

async function loadKey(which, file) {
  await page.setInputFiles(`#${which}-key-file`, file);
  await page.waitForFunction((id) => document.getElementById(id).textContent.includes(' loaded'), `${which}-key-status`);
}

async function errorBox() {
  return page.evaluate(() => {
    const box = document.getElementById('error-box');
    if (box.hidden) return null;
    return {
      kind: box.dataset.kind,
      title: document.getElementById('error-title').textContent,
      message: document.getElementById('error-message').textContent,
      hint: document.getElementById('error-hint').textContent,
      cors: document.getElementById('error-cors').hidden ? null : document.getElementById('error-cors-json').textContent,
    };
  });
}

// Picks files for upload and waits until the row of `key` has finished (any final state).
async function uploadInPage(file, key, { timeout = 180000, whileRunning = null, polling = 'raf' } = {}) {
  await page.setInputFiles('#upload-files', file);
  const sel = `#uploads li[data-key="${q(key)}"]`;
  await page.waitForSelector(sel, { timeout: 10000 });
  if (whileRunning) await whileRunning(sel);
  await page.waitForFunction((s) => {
    const li = document.querySelector(s);
    return li && !['waiting', 'running'].includes(li.dataset.state);
  }, sel, { timeout, polling });
  return page.$eval(sel, (li) => ({ state: li.dataset.state, status: li.querySelector('.transfer-status').textContent, parts: Number(li.dataset.parts || 0) }));
}

async function listInPage(prefix = '') {
  await page.fill('#list-prefix', prefix);
  await page.evaluate(() => { document.getElementById('list-status').textContent = ''; });
  await page.click('#list-button');
  await page.waitForFunction(() => /object|failed/.test(document.getElementById('list-status').textContent), null, { timeout: 30000 });
  return page.$$eval('#objects tbody tr', (rows) => rows.map((r) => r.dataset.key));
}

// picker: 'none' (no File System Access API: the Blob path) or 'stub' (a save dialog that
// records what is written, closed and aborted)
async function setPicker(mode) {
  await page.evaluate((mode) => {
    if (mode === 'none') {
      delete window.showSaveFilePicker;
      if (typeof window.showSaveFilePicker === 'function') window.showSaveFilePicker = undefined;
      return;
    }
    const rec = (window.__picker = { name: null, bytes: 0, chunks: [], closed: false, aborted: false });
    window.showSaveFilePicker = async (opts) => ({
      createWritable: async () => {
        rec.name = opts && opts.suggestedName;
        return {
          write: async (chunk) => { rec.chunks.push(chunk.slice()); rec.bytes += chunk.length; },
          close: async () => { rec.closed = true; },
          abort: async () => { rec.aborted = true; rec.chunks = []; },
        };
      },
    });
  }, mode);
}

// Clicks "Download & decrypt" on the listed object and waits for the new row to finish.
async function downloadInPage(key, timeout = 180000) {
  const rows = `#downloads li[data-key="${q(key)}"]`;
  const before = await page.locator(rows).count();
  await page.click(`#objects tr[data-key="${q(key)}"] button[data-testid="download-button"]`);
  await page.waitForFunction(({ rows, before }) => {
    const all = document.querySelectorAll(rows);
    return all.length > before && !['waiting', 'running'].includes(all[0].dataset.state);
  }, { rows, before }, { timeout });
  return page.evaluate(async (rows) => {
    const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const li = document.querySelector(rows);
    const last = window.__cseLastDownload;
    const out = {
      state: li.dataset.state,
      status: li.querySelector('.transfer-status').textContent,
      link: li.querySelector('a[download]') ? li.querySelector('a[download]').download : null,
      last: last ? { key: last.key, name: last.name, size: last.size, via: last.via } : null,
      sha256: null,
    };
    if (last && last.blob) out.sha256 = hex(await crypto.subtle.digest('SHA-256', await last.blob.arrayBuffer()));
    const rec = window.__picker;
    if (last && last.via === 'picker' && rec) {
      const whole = new Uint8Array(rec.bytes);
      let at = 0;
      for (const c of rec.chunks) { whole.set(c, at); at += c.length; }
      out.sha256 = hex(await crypto.subtle.digest('SHA-256', whole));
    }
    if (rec) out.picker = { name: rec.name, bytes: rec.bytes, closed: rec.closed, aborted: rec.aborted };
    return out;
  }, rows);
}

// Clicks "Inspect" on the listed object and waits for the panel to show its facts (or an
// error). Gives the panel's state, every text it shows, and the facts by name; with
// `requests`, also the requests made to the store meanwhile ({method, url, range}).
async function inspectInPage(key, { timeout = 60000, requests = false } = {}) {
  await page.evaluate(() => {
    const p = document.getElementById('inspect-panel');
    delete p.dataset.state;
    delete p.dataset.key;
  });
  const seen = [];
  const record = (r) => { if (r.url().startsWith(stack.endpoint)) seen.push(r); };
  if (requests) page.on('request', record);
  try {
    await page.click(`#objects tr[data-key="${q(key)}"] button[data-testid="inspect-button"]`);
    await page.waitForFunction((k) => {
      const p = document.getElementById('inspect-panel');
      return !p.hidden && p.dataset.key === k && ['done', 'error'].includes(p.dataset.state);
    }, key, { timeout });
  } finally {
    if (requests) page.off('request', record);
  }
  const out = await page.evaluate(() => {
    const p = document.getElementById('inspect-panel');
    const facts = {};
    for (const dd of p.querySelectorAll('dd[data-fact]')) {
      const lines = [...dd.querySelectorAll('li')].map((li) => li.textContent);
      facts[dd.dataset.fact] = { text: dd.textContent, lines, value: dd.dataset.value ?? null };
    }
    return {
      state: p.dataset.state,
      status: document.getElementById('inspect-status').textContent,
      texts: [...p.querySelectorAll('h3, p, dt, dd, li')].map((e) => e.textContent),
      facts,
      elements: p.querySelectorAll('img, script, a, iframe, object').length,
    };
  });
  out.requests = [];
  for (const r of seen) {
    const h = await r.allHeaders();
    out.requests.push({ method: r.method(), url: r.url(), range: h.range || null });
  }
  return out;
}

// Bytes asked for by ranged GETs; throws if a GET asked for the whole object.
function rangedBytes(requests) {
  let total = 0;
  for (const r of requests.filter((r) => r.method === 'GET')) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(r.range || '');
    assert(m, `a GET without a byte range: ${JSON.stringify(r)}`);
    total += Number(m[2]) - Number(m[1]) + 1;
  }
  return total;
}

// ---------------------------------------------------------------------------- run

const parts = { now: 0, max: 0, total: 0 };
const isPart = (r) => r.method() === 'PUT' && /[?&]partNumber=/.test(r.url());

let partsSeen = null;
let page = null, stack = null, site = null, browser = null, work = null, origin = null;

async function main() {
  for (const [what, p] of [['web/www/pkg/cse_web.js (make web)', path.join(WWW, 'pkg', 'cse_web.js')], ['cse binary', CSE], ['Python venv', PYTHON]]) {
    if (!fs.existsSync(p)) {
      console.error(`page.test: missing ${what}: ${p}`);
      process.exit(2);
    }
  }
  await fsp.mkdir(ARTIFACTS, { recursive: true });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'cse-page-'));
  const [keys, other] = await Promise.all([keyPair(path.join(work, 'keys')), keyPair(path.join(work, 'other-keys'))]);

  site = await serveStatic({ mounts: { '/': WWW } });
  origin = site.url.replace(/\/$/, '');
  stack = await startS3Stack({ origin, buckets: [BUCKET], tls: true });
  // Chromium accepts the test server's certificate, and only it, by its key (case q).
  browser = await launchBrowser({ quiet: !process.env.VERBOSE, args: [`--ignore-certificate-errors-spki-list=${stack.tls.spki}`] });
  page = await browser.context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|CORS policy|net::ERR/.test(m.text())) console.log(`[page console.error] ${m.text()}`); });
  // UploadPart requests as the browser sends them, to see how many are in flight at once
  page.on('request', (r) => { if (isPart(r)) { parts.now++; parts.max = Math.max(parts.max, parts.now); parts.total++; } });
  for (const ev of ['requestfinished', 'requestfailed']) page.on(ev, (r) => { if (isPart(r)) parts.now--; });
  await page.goto(site.url + 'index.html');
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30000 });
  eq(await page.evaluate(() => document.body.dataset.ready), 'true', 'wasm module loaded');
  console.log(`page ${site.url} (cse ${await page.textContent('#version')}), S3 proxy ${stack.endpoint} -> s3s-fs ${stack.direct}`);

  await fillSettings();
  await setTransfer({ partMiB: 8, concurrency: 4 });
  await loadKey('public', keys.pub);
  await loadKey('private', keys.priv);
  await setPicker('none');

  // a. page upload (multipart) -> cse and the official Python SDK decrypt it
  const big = path.join(work, 'big.bin');
  const bigSha = await randomFile(big, 24 * MIB + 12345);
  await testCase('a. page upload, 24 MiB multipart, read by cse and the official SDK (f: screenshot)', async () => {
    await page.fill('#upload-prefix', 'page');
    Object.assign(parts, { now: 0, max: 0, total: 0 });
    const r = await uploadInPage(big, 'page/big.bin');
    partsSeen = { ...parts };
    eq(r.state, 'done', `upload row state (${r.status})`);
    assert(r.parts >= 3, `expected ≥ 3 parts, got ${r.parts} (${r.status})`);
    assert((await unfinishedUploads()).length === 0, 'an unfinished multipart upload was left behind');
    await page.screenshot({ path: path.join(ARTIFACTS, 'after-upload.png'), fullPage: true });
    const byCse = path.join(work, 'a-cse.out');
    await cse('cp', `s3://${BUCKET}/page/big.bin`, byCse, '--private-key', keys.priv, '--endpoint-url', stack.direct);
    eq(await sha256File(byCse), bigSha, 'sha256 of what cse decrypted');
    const bySeed = path.join(work, 'a-seed.out');
    await seed('download', 'page/big.bin', bySeed, keys);
    eq(await sha256File(bySeed), bigSha, 'sha256 of what the official SDK decrypted');
    console.log(`     ${r.status}`);
  });

  // a2. the contract: parts in flight at once (concurrency 4, 4 parts in case a)
  await testCase('a2. page upload keeps several parts in flight (concurrency 4)', async () => {
    assert(partsSeen, 'case a ran');
    console.log(`     UploadPart requests: ${partsSeen.total}, at most ${partsSeen.max} in flight at once`);
    assert(partsSeen.total >= 3, `≥ 3 UploadPart requests (${partsSeen.total})`);
    assert(partsSeen.max >= 2, `more than one UploadPart in flight at once (max ${partsSeen.max})`);
  });

  // a3. an empty file and a small one (single PUT each, queued together)
  await testCase('a3. page uploads an empty and a 100-byte file (one PUT each), read back by cse and the page', async () => {
    const empty = path.join(work, 'empty.txt'), tiny = path.join(work, 'tiny.txt');
    await fsp.writeFile(empty, '');
    await fsp.writeFile(tiny, 'x'.repeat(99) + '\n');
    await page.fill('#upload-prefix', 'small/');
    await page.setInputFiles('#upload-files', [empty, tiny]);
    for (const k of ['small/empty.txt', 'small/tiny.txt']) {
      const sel = `#uploads li[data-key="${q(k)}"]`;
      await page.waitForFunction((s) => ['done', 'error', 'cancelled'].includes(document.querySelector(s)?.dataset.state), sel, { timeout: 60000 });
      const st = await page.$eval(sel, (li) => [li.dataset.state, li.dataset.parts, li.querySelector('.transfer-status').textContent]);
      eq(st[0], 'done', `${k} state (${st[2]})`);
      eq(st[1], '0', `${k} was one PUT`);
      const out = path.join(work, 'a2.out');
      await cse('cp', `s3://${BUCKET}/${k}`, out, '--private-key', keys.priv, '--endpoint-url', stack.direct);
      eq(await sha256File(out), await sha256File(k.endsWith('empty.txt') ? empty : tiny), `${k} decrypted by cse`);
    }
    await listInPage('small/');
    const d = await downloadInPage('small/empty.txt');
    eq(d.state, 'done', `empty file downloaded in the page (${d.status})`);
    eq(d.last?.size, 0, 'empty plaintext');
  });

  // b. cse and the official SDK upload -> the page decrypts (Blob path, and a save dialog)
  const mid = path.join(work, 'mid.bin');
  const midSha = await randomFile(mid, 20 * MIB + 777);
  const small = path.join(work, 'small.bin');
  const smallSha = await randomFile(small, 3 * MIB + 5);
  const seedKey = 'seed/small file+1.bin';
  await testCase('b. cse and official-SDK uploads decrypted in the page', async () => {
    await cse('cp', mid, `s3://${BUCKET}/cli/mid.bin`, '--public-key', keys.pub, '--endpoint-url', stack.direct, '--part-size', '8MiB');
    await seed('upload', seedKey, small, keys);
    const listed = await listInPage('');
    for (const k of ['cli/mid.bin', seedKey, 'page/big.bin']) assert(listed.includes(k), `list shows ${k} (got ${JSON.stringify(listed)})`);
    eq(JSON.stringify(await listInPage('seed/')), JSON.stringify([seedKey]), 'list with prefix seed/');
    await listInPage('');

    let d = await downloadInPage('cli/mid.bin');
    eq(d.state, 'done', `cse object: row state (${d.status})`);
    eq(d.link, 'mid.bin', 'cse object: download link name');
    eq(d.sha256, midSha, 'cse object: sha256 of the page\'s Blob');

    d = await downloadInPage(seedKey);
    eq(d.state, 'done', `SDK object: row state (${d.status})`);
    eq(d.link, 'small file+1.bin', 'SDK object: download link name');
    eq(d.sha256, smallSha, 'SDK object: sha256 of the page\'s Blob');

    d = await downloadInPage('page/big.bin');
    eq(d.sha256, bigSha, 'page object read back by the page');

    await setPicker('stub');
    d = await downloadInPage('cli/mid.bin');
    eq(d.state, 'done', `save dialog: row state (${d.status})`);
    eq(d.link, null, 'save dialog: no Blob link');
    eq(d.last?.via, 'picker', 'save dialog used');
    assert(d.picker.closed && !d.picker.aborted, `save dialog: closed, not aborted (${JSON.stringify(d.picker)})`);
    eq(d.sha256, midSha, 'save dialog: sha256 of the written bytes');
    await setPicker('none');
  });

  // c. wrong key, tampered body, tampered signature: an error, and nothing offered
  await testCase('c1. wrong private key: kind wrong-key, no download', async () => {
    await loadKey('private', other.priv);
    await listInPage('');
    const d = await downloadInPage(seedKey);
    eq(d.state, 'error', 'row state');
    eq(d.link, null, 'download link');
    eq(d.last, null, 'verified download');
    const e = await errorBox();
    eq(e?.kind, 'wrong-key', `error kind (${JSON.stringify(e)})`);
    assert(/MyAppKeys\/S3RSAKey/.test(e.message + e.hint), `the error names the key (${JSON.stringify(e)})`);
    console.log(`     ${e.title}: ${e.message} (${e.hint})`);
    await loadKey('private', keys.priv);
  });

  await testCase('c2. byte flipped mid-object: kind tampered, no download (Blob and save dialog)', async () => {
    const where = await tamperedCopy('cli/mid.bin', 'tamper/mid.bin', Math.floor((20 * MIB) / 2));
    await listInPage('');
    let d = await downloadInPage('tamper/mid.bin');
    eq(d.state, 'error', `row state (${d.status})`);
    eq(d.link, null, 'download link');
    eq(d.last, null, 'verified download');
    let e = await errorBox();
    eq(e?.kind, 'tampered', `error kind (${JSON.stringify(e)})`);
    await setPicker('stub');
    d = await downloadInPage('tamper/mid.bin');
    eq(d.state, 'error', 'save dialog: row state');
    assert(d.picker.aborted && !d.picker.closed, `save dialog: aborted, not closed (${JSON.stringify(d.picker)})`);
    e = await errorBox();
    eq(e?.kind, 'tampered', 'save dialog: error kind');
    await setPicker('none');
    console.log(`     flipped byte ${where}; ${e.message}`);
  });

  await testCase('c3. signature byte flipped: kind tampered after every frame verified, no download', async () => {
    await tamperedCopy(seedKey, 'tamper/sig.bin', -2);
    await listInPage('');
    await setPicker('stub');
    const d = await downloadInPage('tamper/sig.bin');
    eq(d.state, 'error', `row state (${d.status})`);
    eq(d.last, null, 'verified download');
    assert(d.picker.aborted && !d.picker.closed, `save dialog aborted (${JSON.stringify(d.picker)})`);
    await setPicker('none');
    const d2 = await downloadInPage('tamper/sig.bin');
    eq(d2.link, null, 'Blob path: download link');
    const e = await errorBox();
    eq(e?.kind, 'tampered', `error kind (${JSON.stringify(e)})`);
    console.log(`     ${e.message}`);
  });

  // c4. hostile objects (the rows of the hardening work): refused quickly with a short, inert
  // error, and nothing offered.
  for (const [row, kind] of [['many-edks', 'refused'], ['rsa-edks', 'refused'], ['escape-edks', 'refused'],
    ['escape-edks-few', 'wrong-key'], ['huge-frame', 'refused'], ['huge-non-framed', 'refused']]) {
    await testCase(`c4. hostile object ${row}: kind ${kind}, short inert error, no download`, async () => {
      const size = await putHostile(row, `hostile/${row}`, keys.pub);
      await listInPage('hostile/');
      const t0 = Date.now();
      const d = await downloadInPage(`hostile/${row}`, 30000);
      const seconds = (Date.now() - t0) / 1000;
      eq(d.state, 'error', `row state (${d.status})`);
      eq(d.link, null, 'download link');
      eq(d.last, null, 'verified download');
      const e = await errorBox();
      eq(e?.kind, kind, `error kind (${JSON.stringify(e)})`);
      const text = `${e.title}\n${e.message}\n${e.hint}`;
      assert(text.length < 4096, `error text of ${text.length} characters`);
      assert(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(text), `control characters shown: ${JSON.stringify(text)}`);
      if (row === 'escape-edks-few') assert(/\\x1b|\\u\{1b\}/.test(e.message), `escapes shown as text (${e.message})`);
      console.log(`     ${size} bytes, refused in ${seconds.toFixed(1)} s: ${e.message.slice(0, 160)}`);
    });
  }

  // d. wrong secret: the server's SignatureDoesNotMatch in the error box
  await testCase('d. wrong secret key: SignatureDoesNotMatch shown', async () => {
    await page.fill('#secret-key', stack.secretKey + 'x');
    await listInPage('');
    const e = await errorBox();
    await page.fill('#secret-key', stack.secretKey);
    eq(e?.kind, 's3', `error kind (${JSON.stringify(e)})`);
    assert(/SignatureDoesNotMatch/.test(e.message), `message names SignatureDoesNotMatch (${JSON.stringify(e)})`);
    assert(e.hint.length > 0, 'a hint is given');
    console.log(`     ${e.message} (${e.hint})`);
  });

  // e. cancel during a multipart upload: row cancelled, upload aborted, no object
  await testCase('e. cancel a 64 MiB upload: cancelled, no unfinished upload, no object', async () => {
    const huge = path.join(work, 'huge.bin');
    await randomFile(huge, 64 * MIB);
    await page.fill('#upload-prefix', 'cancel');
    await setTransfer({ partMiB: 8, concurrency: 2 });
    let sawUpload = false;
    const r = await uploadInPage(huge, 'cancel/huge.bin', {
      whileRunning: async (sel) => {
        // wait until the multipart upload exists on the server, then cancel
        for (let i = 0; i < 200 && !sawUpload; i++) {
          sawUpload = (await unfinishedUploads()).some((n) => n.endsWith('.json'));
          if (!sawUpload) await new Promise((res) => setTimeout(res, 25));
        }
        // the button's own click handler, dispatched in the page: a pointer click can miss
        // while the page's main thread is busy encrypting and its layout is not yet redrawn
        await page.$eval(`${sel} button.cancel`, (b) => b.click());
      },
    });
    await setTransfer({ partMiB: 8, concurrency: 4 });
    eq(r.state, 'cancelled', `row state (${r.status})`);
    assert(sawUpload, 'the multipart upload was created before the cancel');
    assert(!(await errorBox()), 'no error box for a cancel');
    let left = [];
    for (let i = 0; i < 40; i++) { // parts in flight may land just after the abort
      left = await unfinishedUploads();
      if (!left.length) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    eq(JSON.stringify(left), '[]', 'unfinished upload files in the s3s-fs data folder');
    assert(!fs.existsSync(path.join(stack.dataDir, BUCKET, 'cancel', 'huge.bin')), 'no object at cancel/huge.bin');
    assert(!(await listInPage('cancel/')).length, 'the page lists nothing under cancel/');
  });

  // g. endpoint without CORS (s3s-fs directly): kind network, the rule quoted
  await testCase('g. no CORS rule: network error with the CORS rule for this origin', async () => {
    await page.fill('#endpoint', stack.direct);
    await listInPage('');
    const e = await errorBox();
    await page.locator('#error-box').screenshot({ path: path.join(ARTIFACTS, 'error-cors.png') }).catch(() => {});
    await page.fill('#endpoint', stack.endpoint);
    eq(e?.kind, 'network', `error kind (${JSON.stringify(e)})`);
    assert(e.cors && e.cors.includes(JSON.stringify(origin)) && e.cors.includes('"ETag"'), `CORS rule quoted with this origin (${e.cors})`);
    const rule = JSON.parse(e.cors).CORSRules[0];
    eq(rule.AllowedMethods.join(','), 'GET,PUT,POST,DELETE,HEAD', 'AllowedMethods');
    assert(!e.message.includes('\n') && !/JsValue|wasm-function/.test(e.message), `one plain line (${e.message})`);
    console.log(`     ${e.message}`);
  });

  // h. encryption context: stored by cse, required by the page
  await testCase('h. encryption context: required pair present passes, a different value is refused', async () => {
    await cse('cp', small, `s3://${BUCKET}/ctx/small.bin`, '--public-key', keys.pub, '--endpoint-url', stack.direct, '-c', 'project=alpha', '-c', 'owner=page test');
    await listInPage('ctx/');
    await page.evaluate(() => { document.getElementById('context').value = 'project=alpha\nowner = page test'; });
    let d = await downloadInPage('ctx/small.bin');
    eq(d.state, 'done', `matching context (${d.status})`);
    eq(d.sha256, smallSha, 'sha256 with context');
    await page.evaluate(() => { document.getElementById('context').value = 'project=beta'; });
    d = await downloadInPage('ctx/small.bin');
    await page.evaluate(() => { document.getElementById('context').value = ''; });
    eq(d.state, 'error', `other context value (${d.status})`);
    eq(d.link, null, 'no link with the wrong context');
    const e = await errorBox();
    assert(e && e.kind !== 'wrong-key', `error shown (${JSON.stringify(e)})`);
    console.log(`     ${e.kind}: ${e.message}`);
  });

  // i. a CORS rule without ExposeHeaders ETag: a multipart upload cannot complete; the page
  //    says so, quotes the rule, and leaves no unfinished upload; a download still works
  await testCase('i. CORS rule without ExposeHeaders ETag: upload refused with the rule quoted, nothing left', async () => {
    const saved = process.env.EXPOSE_HEADERS;
    process.env.EXPOSE_HEADERS = 'x-amz-request-id';
    const noEtag = await startS3Stack({ origin, buckets: [BUCKET] }).finally(() => {
      if (saved === undefined) delete process.env.EXPOSE_HEADERS; else process.env.EXPOSE_HEADERS = saved;
    });
    try {
      await page.fill('#endpoint', noEtag.endpoint);
      await page.fill('#upload-prefix', 'noetag');
      const r = await uploadInPage(mid, 'noetag/mid.bin');
      eq(r.state, 'error', `row state (${r.status})`);
      const e = await errorBox();
      assert(e && e.cors && e.cors.includes('"ETag"'), `CORS rule quoted (${JSON.stringify(e)})`);
      console.log(`     upload: ${e.kind}: ${e.message}`);
      let left = [];
      for (let i = 0; i < 40; i++) {
        left = (await fsp.readdir(noEtag.dataDir)).filter((n) => n.startsWith('.upload'));
        if (!left.length) break;
        await new Promise((res) => setTimeout(res, 250));
      }
      eq(JSON.stringify(left), '[]', 'unfinished upload files');
      // an object put there by cse downloads without ETag (no If-Match needed)
      await tool(CSE, ['--no-progress', '-q', 'cp', small, `s3://${BUCKET}/noetag/small.bin`, '--public-key', keys.pub, '--endpoint-url', noEtag.direct], toolEnv(work));
      await listInPage('noetag/');
      const d = await downloadInPage('noetag/small.bin');
      const e2 = await errorBox();
      console.log(`     download: ${d.state}${e2 ? ` ${e2.kind}: ${e2.message}` : ''}`);
      eq(d.state, 'done', `download without a readable ETag (${d.status})`);
      eq(d.sha256, smallSha, 'sha256');
    } finally {
      await page.fill('#endpoint', stack.endpoint);
      await noEtag.stop();
    }
  });

  // j. a file that is not a usable public key: refused when chosen, the previous key kept out
  await testCase('j. a bad public key file is refused when chosen', async () => {
    const junk = path.join(work, 'junk.pem');
    await fsp.writeFile(junk, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    await page.setInputFiles('#public-key-file', junk);
    await page.waitForFunction(() => /cannot be used|not a PEM/.test(document.getElementById('public-key-status').textContent));
    const e = await errorBox();
    eq(e?.kind, 'key', `error kind (${JSON.stringify(e)})`);
    await page.setInputFiles('#upload-files', small);
    const e2 = await errorBox();
    assert(e2 && /no public key/.test(e2.message), `upload refused without a key (${JSON.stringify(e2)})`);
    console.log(`     ${e.message}`);
    await loadKey('public', keys.pub);
  });

  // k. remembered settings: never the secret unless asked
  await testCase('k. remember settings: secret stored only with the second box', async () => {
    await page.check('#remember');
    await page.dispatchEvent('#settings', 'change');
    let stored = await page.evaluate(() => localStorage.getItem('cse-settings'));
    assert(stored && !stored.includes(stack.secretKey), `settings stored without the secret (${stored})`);
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    eq(await page.inputValue('#endpoint'), stack.endpoint, 'endpoint restored');
    eq(await page.inputValue('#access-key'), stack.accessKey, 'access key restored');
    eq(await page.inputValue('#secret-key'), '', 'secret not restored');
    await page.fill('#secret-key', stack.secretKey);
    await page.check('#remember-secret');
    stored = await page.evaluate(() => localStorage.getItem('cse-settings'));
    assert(stored.includes(stack.secretKey), 'secret stored when asked');
    await page.uncheck('#remember');
    stored = await page.evaluate(() => localStorage.getItem('cse-settings'));
    eq(stored, null, 'nothing stored after unticking');
  });

  // l. several recipients (after k's reload the keys are chosen again)
  await testCase('l. three recipients: a cse object for three keys opens in the page with one; the page uploads for three', async () => {
    const [third, fourth] = await Promise.all([keyPair(path.join(work, 'keys3')), keyPair(path.join(work, 'keys4'))]);
    await setPicker('none');
    const f = path.join(work, 'group.bin');
    const fSha = await randomFile(f, 100 * 1024 + 3);
    await cse('cp', f, `s3://${BUCKET}/group/by-cse.bin`, '--public-key', keys.pub, '--public-key', other.pub,
      '--public-key', third.pub, '--endpoint-url', stack.direct);
    await loadKey('private', other.priv);
    await listInPage('group/');
    const d = await downloadInPage('group/by-cse.bin');
    eq(d.state, 'done', `3-recipient cse object opened with the second key (${d.status})`);
    eq(d.sha256, fSha, 'sha256 of the page\'s Blob');
    // The page: three public keys chosen at once; each private key opens the upload.
    await page.setInputFiles('#public-key-file', [keys.pub, other.pub, third.pub]);
    await page.waitForFunction(() => /3 public keys loaded/.test(document.getElementById('public-key-status').textContent));
    await page.fill('#upload-prefix', 'group/');
    const r = await uploadInPage(f, 'group/group.bin');
    eq(r.state, 'done', `page upload for three keys (${r.status})`);
    for (const [i, k] of [keys, other, third].entries()) {
      const out = path.join(work, `l-cse-${i}.out`);
      await cse('cp', `s3://${BUCKET}/group/group.bin`, out, '--private-key', k.priv, '--endpoint-url', stack.direct);
      eq(await sha256File(out), fSha, `cse with key ${i + 1}`);
      const bySeed = path.join(work, `l-seed-${i}.out`);
      await seed('download', 'group/group.bin', bySeed, k);
      eq(await sha256File(bySeed), fSha, `the users' script with key ${i + 1}`);
    }
    let refused = null;
    try {
      await cse('cp', `s3://${BUCKET}/group/group.bin`, path.join(work, 'l-4.out'), '--private-key', fourth.priv, '--endpoint-url', stack.direct);
    } catch (e) {
      refused = e.message;
    }
    assert(refused && /exit 4/.test(refused), `a fourth key is refused with exit 4 (${refused})`);
    await loadKey('public', keys.pub);
  });

  // m. encrypted private keys: openssl PBKDF2 and scrypt, unlocked once with the passphrase
  await testCase('m. encrypted private keys (openssl PBKDF2 and scrypt): wrong passphrase refused, right one unlocks, nothing kept', async () => {
    const secret = 'page passphrase';
    const pass = path.join(work, 'pass.txt');
    await fsp.writeFile(pass, secret + '\n', { mode: 0o600 });
    const pbkdf2 = path.join(work, 'enc-pbkdf2.pem'), scrypt = path.join(work, 'enc-scrypt.pem');
    await run('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', keys.priv, '-out', pbkdf2, '-passout', `file:${pass}`]);
    await run('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-scrypt', '-in', keys.priv, '-out', scrypt, '-passout', `file:${pass}`]);
    await setPicker('none');
    const f = path.join(work, 'enc.bin');
    const fSha = await randomFile(f, 64 * 1024 + 9);
    await cse('cp', f, `s3://${BUCKET}/enc/obj.bin`, '--public-key', keys.pub, '--endpoint-url', stack.direct);
    await listInPage('enc/');
    const status = () => page.textContent('#private-key-status');
    for (const [kdf, file] of [['pbkdf2', pbkdf2], ['scrypt', scrypt]]) {
      await page.setInputFiles('#private-key-file', file);
      await page.waitForFunction(() => /is encrypted/.test(document.getElementById('private-key-status').textContent));
      await page.fill('#private-key-passphrase', 'not it');
      await page.click('#unlock-key');
      await page.waitForFunction(() => /wrong passphrase/.test(document.getElementById('private-key-status').textContent));
      const e = await errorBox();
      eq(e?.kind, 'key', `${kdf}: wrong passphrase error kind (${JSON.stringify(e)})`);
      assert(/wrong passphrase/.test(e.message), `${kdf}: the error says so (${e.message})`);
      eq(await page.inputValue('#private-key-passphrase'), '', `${kdf}: field cleared`);
      await page.fill('#private-key-passphrase', secret);
      await page.press('#private-key-passphrase', 'Enter');
      await page.waitForFunction(() => /loaded \(unlocked\)/.test(document.getElementById('private-key-status').textContent));
      eq(await page.inputValue('#private-key-passphrase'), '', `${kdf}: passphrase not left in the field`);
      const d = await downloadInPage('enc/obj.bin');
      eq(d.state, 'done', `${kdf}: download with the unlocked key (${d.status})`);
      eq(d.sha256, fSha, `${kdf}: sha256`);
      console.log(`     ${kdf}: ${e.message}; then ${await status()}`);
    }
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert(!stored.includes(secret), 'the passphrase is stored nowhere');
  });

  // n. the Inspect view: header facts without a key and without a download; hostile headers
  //    refused with a short inert error, or shown as escaped text
  await testCase('n. inspect: facts of a page upload from ranged GETs only; hostile headers inert', async () => {
    const controls = /[\u0000-\u001f\u007f-\u009f\u202e]/;
    const f = path.join(work, 'inspect.bin');
    const size = 2 * MIB + 321;
    await randomFile(f, size);
    await page.fill('#upload-prefix', 'inspect');
    const up = await uploadInPage(f, 'inspect/inspect.bin');
    eq(up.state, 'done', `upload (${up.status})`);
    await listInPage('inspect/');
    await page.evaluate(() => { window.__cseLastDownload = null; });
    let r = await inspectInPage('inspect/inspect.bin', { requests: true });
    eq(r.state, 'done', `panel state (${r.status})`);
    assert(r.facts.suite?.text.startsWith('0x0578 AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 (committing, signed)'), `suite (${r.facts.suite?.text})`);
    eq(r.facts.plaintext?.value, String(size), 'plaintext bytes shown');
    eq(JSON.stringify(r.facts['data-keys']?.lines), JSON.stringify(['MyAppKeys/S3RSAKey']), 'data keys shown');
    eq(r.facts['data-keys']?.value, '1', 'number of data keys');
    assert(/^[0-9a-f]{64}$/.test(r.facts['message-id']?.text || ''), `message id (${r.facts['message-id']?.text})`);
    assert(!(await errorBox()), 'no error box');
    // No key needed, nothing downloaded: a HEAD, then ranged GETs of the header and the
    // footer's last bytes only.
    const fetched = rangedBytes(r.requests);
    const gets = r.requests.filter((x) => x.method === 'GET').length;
    assert(gets >= 1 && fetched <= 64 * 1024 + 140, `ranged GETs of ${fetched} bytes in ${gets} requests (${JSON.stringify(r.requests)})`);
    eq(await page.evaluate(() => window.__cseLastDownload ?? null), null, 'no download');
    console.log(`     ${r.facts.suite.text}; ${r.facts.plaintext.text}; ${r.requests.map((x) => `${x.method} ${x.range || ''}`).join(', ')}`);

    // A header of 3 MiB (65 535 data keys): refused at the page's 1 MiB limit.
    await putHostile('many-edks', 'inspect/many-edks', keys.pub);
    await listInPage('inspect/');
    r = await inspectInPage('inspect/many-edks', { requests: true });
    eq(r.state, 'error', `panel state (${r.status})`);
    const e = await errorBox();
    eq(e?.kind, 'refused', `error kind (${JSON.stringify(e)})`);
    assert(/longer than 1048576 bytes/.test(e.message), `the error names the limit (${e.message})`);
    const parts = [e.title, e.message, e.hint];
    assert(parts.join('').length < 1024 && !parts.some((t) => controls.test(t)), `short inert error (${JSON.stringify(parts)})`);
    const hostileBytes = rangedBytes(r.requests);
    assert(hostileBytes <= (64 + 256 + 1024) * 1024, `ranged GETs of ${hostileBytes} bytes`);
    console.log(`     many-edks: ${e.message} (${hostileBytes} bytes read)`);

    // Terminal escapes and markup in the context and in 30 data keys: shown as text, escaped,
    // the data keys capped at 20 and counted.
    const script = `
import os, struct, sys
sys.path.insert(0, sys.argv[1])
import hostile, seed_scripts
ep, ak, sk, bucket, dst = sys.argv[2:7]
field = lambda b: struct.pack(">H", len(b)) + b
key = ("ctx " + hostile.ESC_TEXT).encode()
value = ('<img src=x onerror="window.__pwned=1">' + hostile.ESC_TEXT).encode()
context = struct.pack(">H", 1) + field(key) + field(value)
edks = [hostile.edk(f"{hostile.ESC_TEXT}{i}".encode(), hostile.ESC_BYTES + str(i).encode(), os.urandom(32)) for i in range(30)]
body = hostile.with_tail(hostile.v2_header(edks, context=context))
seed_scripts.s3_client(ep, ak, sk).put_object(Bucket=bucket, Key=dst, Body=body)
`;
    await tool(PYTHON, ['-c', script, path.dirname(SEED), stack.direct, stack.accessKey, stack.secretKey, BUCKET, 'inspect/escapes'], toolEnv(work));
    await listInPage('inspect/');
    r = await inspectInPage('inspect/escapes');
    eq(r.state, 'done', `panel state (${r.status})`);
    for (const t of r.texts) assert(!controls.test(t) && t.length < 4096, `inert text (${JSON.stringify(t)})`);
    const ctx = r.facts.context?.lines || [];
    eq(ctx.length, 1, `one context pair (${JSON.stringify(ctx)})`);
    assert(ctx[0].startsWith('ctx \\x1b]0;pwned\\x07') && ctx[0].includes('<img src=x'), `context shown escaped, as text (${ctx[0]})`);
    eq(r.elements, 0, 'no element made from the header');
    eq(await page.evaluate(() => window.__pwned ?? null), null, 'no script ran');
    const shown = r.facts['data-keys']?.lines || [];
    eq(shown.length, 21, `20 data keys and a count (${JSON.stringify(shown)})`);
    eq(shown[20], 'and 10 more', 'the rest counted');
    eq(r.facts['data-keys']?.value, '30', 'number of data keys');
    assert(shown[0].startsWith('\\x1b]0;pwned'), `data key escaped (${shown[0]})`);
    console.log(`     escapes: ${ctx[0].slice(0, 100)}; ${shown[0].slice(0, 60)}`);
  });

  await longTaskCase();

  await tlsCase(keys);
  await webRsaCase(keys, other);
}

// o. the engine runs in a Worker: during a large upload the page's main thread never runs a
//    task longer than 50 ms (the Long Tasks API reports only those), then the object
//    downloads and verifies.
// r. the data key's RSA-OAEP unwrap runs in WebCrypto, not in wasm: one crypto.subtle RSA-OAEP
//    decrypt per message, the plaintext right; with another private key, WebCrypto's attempt
//    fails and the keyring's own says which key it was (kind wrong-key), as before. The
//    signature hash of encryptBuffer/decryptBuffer runs on the hash Worker (www/hash.js): the
//    message it signed verifies in cse (which hashes itself), and a message of cse's
//    verifies in the page.
async function webRsaCase(keys, other) {
  await testCase('r. data key unwrapped by WebCrypto RSA-OAEP, signature hash on its Worker; wrong key and altered signature refused', async () => {
    const [pub, priv, otherPriv] = await Promise.all([keys.pub, keys.priv, other.priv].map((f) => fsp.readFile(f, 'utf8')));
    const r = await page.evaluate(async ({ pub, priv, otherPriv }) => {
      const m = await import('./pkg/cse_web.js');
      await m.default();
      const subtle = crypto.subtle;
      const calls = [];
      subtle.decrypt = (alg, key, data) => {
        calls.push(alg.name);
        return SubtleCrypto.prototype.decrypt.call(subtle, alg, key, data);
      };
      try {
        const text = new TextEncoder();
        const data = crypto.getRandomValues(new Uint8Array(50000));
        const message = await m.encryptBuffer(text.encode(pub), data, 0x0578, 4096);
        const back = await m.decryptBuffer(text.encode(priv), message);
        const rsa = () => calls.filter((c) => c === 'RSA-OAEP').length;
        const right = rsa();
        const same = back.length === data.length && back.every((b, i) => b === data[i]);
        let wrong = null;
        try {
          await m.decryptBuffer(text.encode(otherPriv), message);
        } catch (e) {
          wrong = { kind: e.kind, message: String(e.message), hint: String(e.hint || '') };
        }
        return { right, same, wrong, wrongAttempts: rsa() - right, message: Array.from(message), data: Array.from(data) };
      } finally {
        delete subtle.decrypt;
      }
    }, { pub, priv, otherPriv });
    // The hash ran on its Worker (started from www/hash.js).
    assert(page.workers().some((w) => /\/snippets\/[^/]+\/www\/hash\.js$/.test(w.url())), `a hash Worker (${page.workers().map((w) => w.url())})`);
    // The page's signed message, checked by cse.
    const msgFile = path.join(work, 'r.msg'), outFile = path.join(work, 'r.out');
    await fsp.writeFile(msgFile, Buffer.from(r.message));
    await cse('decrypt', '--private-key', keys.priv, '-o', outFile, msgFile);
    assert(Buffer.from(r.data).equals(await fsp.readFile(outFile)), 'cse decrypted the page\'s message');
    // A message of cse's, checked by the page; and the same with its signature altered.
    const cliMsg = path.join(work, 'r-cli.msg');
    await cse('encrypt', '--public-key', keys.pub, '-o', cliMsg, outFile);
    const cliBytes = await fsp.readFile(cliMsg);
    const bad = Buffer.from(cliBytes);
    bad[bad.length - 5] ^= 1;
    const back = await page.evaluate(async ({ priv, good, bad }) => {
      const m = await import('./pkg/cse_web.js');
      const text = new TextEncoder();
      const plain = await m.decryptBuffer(text.encode(priv), new Uint8Array(good));
      let badKind = null;
      try { await m.decryptBuffer(text.encode(priv), new Uint8Array(bad)); } catch (e) { badKind = e.kind; }
      return { plain: Array.from(plain), badKind };
    }, { priv, good: Array.from(cliBytes), bad: Array.from(bad) });
    assert(Buffer.from(back.plain).equals(Buffer.from(r.data)), 'the page decrypted cse\'s message');
    eq(back.badKind, 'tampered', 'a signature altered: kind tampered');
    eq(r.right, 1, 'RSA-OAEP decrypts in WebCrypto for one message');
    assert(r.same, 'the plaintext came back');
    eq(r.wrong?.kind, 'wrong-key', `wrong private key: error kind (${JSON.stringify(r.wrong)})`);
    assert(/MyAppKeys\/S3RSAKey/.test(r.wrong.message + r.wrong.hint), `the error names the key (${JSON.stringify(r.wrong)})`);
    eq(r.wrongAttempts, 1, 'WebCrypto tried the one data key once with the wrong private key');
    console.log(`     WebCrypto RSA-OAEP unwraps: ${r.right} (right key), ${r.wrongAttempts} (wrong key: ${r.wrong.message})`);
  });
}

async function longTaskCase() {
  await testCase('o. 64 MiB upload: no main-thread task over 50 ms (the engine is in a Worker); downloads and verifies', async () => {
    const huge = path.join(work, 'huge.bin');
    if (!fs.existsSync(huge)) await randomFile(huge, 64 * MIB);
    const hugeSha = await sha256File(huge);
    await page.fill('#upload-prefix', 'longtask');
    await setTransfer({ partMiB: 8, concurrency: 4 });
    // Registered before the upload starts; every long task of this page's event loop.
    await page.evaluate(() => {
      window.__longTasks = [];
      window.__longTaskObserver?.disconnect();
      window.__longTaskObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          window.__longTasks.push({ name: e.name, start: Math.round(e.startTime), ms: Math.round(e.duration),
            from: Math.round(e.startTime - (window.__longTaskFrom || 0)), attribution: (e.attribution || []).map((a) => `${a.name}/${a.containerType}/${a.containerSrc}`) });
        }
      });
      window.__longTaskObserver.observe({ type: 'longtask' });
      window.__longTaskFrom = performance.now();
    });
    const t0 = Date.now();
    // Checked every 500 ms, not every frame: the test's own polling stays off the thread it measures.
    const r = await uploadInPage(huge, 'longtask/huge.bin', { polling: 500 });
    const seconds = (Date.now() - t0) / 1000;
    // The observer's callback runs after the task it reports: give it a frame or two.
    const tasks = await page.evaluate(() => new Promise((resolve) => setTimeout(() => {
      window.__longTaskObserver.disconnect();
      resolve(window.__longTasks.filter((t) => t.start >= window.__longTaskFrom));
    }, 200)));
    eq(r.state, 'done', `upload row state (${r.status})`);
    assert(r.parts >= 8, `a multipart upload of ≥ 8 parts (${r.parts})`);
    console.log(`     upload ${seconds.toFixed(1)} s (${r.status}); main-thread tasks > 50 ms: ${tasks.length}`);
    eq(JSON.stringify(tasks), '[]', 'long tasks on the page\'s main thread during the upload');
    await listInPage('longtask/');
    const d = await downloadInPage('longtask/huge.bin');
    eq(d.state, 'done', `download row state (${d.status})`);
    eq(d.last?.size, 64 * MIB, 'plaintext size');
    eq(d.sha256, hugeSha, 'sha256 of the downloaded plaintext');
    console.log(`     ${d.status}`);
  });
}

// q. the page against an https endpoint, as real ones are: the proxy's TLS listener, with a
//    certificate of a site CA made at test start (stack.mjs; in a temp folder) that Chromium
//    accepts by its key (--ignore-certificate-errors-spki-list). A multipart upload and a
//    verified download there; every S3 request went over https (as the browser sent it and as
//    nginx's TLS log saw it). Over https the page signs UNSIGNED-PAYLOAD, as the command-line
//    tool and the AWS SDKs do (TLS protects the bodies); over http (the other cases) each body
//    is signed with its SHA-256.
async function tlsCase(keys) {
  await testCase('q. https endpoint (TLS proxy, test CA): multipart upload and verified download over TLS, UNSIGNED-PAYLOAD', async () => {
    const tls = stack.tls;
    const file = path.join(work, 'tls.bin');
    const sha = await randomFile(file, 11 * MIB + 4321); // three parts of 5 MiB
    const logStart = fs.existsSync(tls.log) ? (await fsp.stat(tls.log)).size : 0;
    const sent = [];
    const record = (r) => { if (/^https?:/.test(r.url()) && !r.url().startsWith(site.url)) sent.push({ method: r.method(), url: r.url() }); };
    page.on('request', record);
    try {
      await page.fill('#endpoint', tls.endpoint);
      await setTransfer({ partMiB: 5, concurrency: 3 });
      await page.fill('#upload-prefix', 'tls');
      const r = await uploadInPage(file, 'tls/tls.bin');
      eq(r.state, 'done', `upload row state (${r.status})`);
      assert(r.parts >= 3, `a multipart upload of ≥ 3 parts (${r.parts})`);
      eq(JSON.stringify(await listInPage('tls/')), JSON.stringify(['tls/tls.bin']), 'listed over https');
      const d = await downloadInPage('tls/tls.bin');
      eq(d.state, 'done', `download row state (${d.status})`);
      eq(d.sha256, sha, 'sha256 of the plaintext the page downloaded and verified');
      console.log(`     ${r.status}; ${d.status}`);
    } finally {
      page.off('request', record);
      await page.fill('#endpoint', stack.endpoint);
      await setTransfer({ partMiB: 8, concurrency: 4 });
    }
    // What the page wrote is what cse reads (straight from s3s-fs).
    const byCse = path.join(work, 'tls-cse.out');
    await cse('cp', `s3://${BUCKET}/tls/tls.bin`, byCse, '--private-key', keys.priv, '--endpoint-url', stack.direct);
    eq(await sha256File(byCse), sha, 'sha256 of what cse decrypted');

    // The browser's side: every S3 request of the case went to the https endpoint.
    const wrong = sent.filter((x) => !x.url.startsWith(tls.endpoint + '/'));
    eq(JSON.stringify(wrong), '[]', 'requests not sent to the https endpoint');
    assert(sent.some((x) => x.method === 'PUT') && sent.some((x) => x.method === 'GET'), `PUTs and GETs sent (${sent.length} requests)`);

    // nginx's side: the TLS listener's log, one line per request since the case began:
    // protocol cipher port "request" status "x-amz-content-sha256".
    const lines = (await fsp.readFile(tls.log)).subarray(logStart).toString('utf8').split('\n').filter(Boolean);
    const port = new URL(tls.endpoint).port;
    const logged = lines.map((l) => {
      const m = /^(TLSv1\.[23]) (\S+) (\d+) "(\S+) (\S+) [^"]*" (\d{3}) "([^"]*)"$/.exec(l);
      assert(m, `a TLS log line (${l})`);
      return { proto: m[1], port: m[3], method: m[4], uri: m[5], status: Number(m[6]), payload: m[7] };
    });
    assert(logged.every((x) => x.port === port), 'logged on the TLS port');
    const s3 = logged.filter((x) => x.method !== 'OPTIONS');
    const parts = s3.filter((x) => x.method === 'PUT' && /[?&]partNumber=/.test(x.uri));
    assert(parts.length >= 3, `≥ 3 UploadPart requests over TLS (${parts.length})`);
    assert(s3.some((x) => x.method === 'POST' && /[?&]uploadId=/.test(x.uri)), 'CompleteMultipartUpload over TLS');
    assert(s3.some((x) => x.method === 'GET' && x.uri.startsWith(`/${BUCKET}/tls/tls.bin`)), 'the object read over TLS');
    eq(s3.length, sent.filter((x) => x.method !== 'OPTIONS').length, 'every S3 request the browser sent was logged by the TLS listener');
    const bad = s3.filter((x) => x.status >= 300 || x.payload !== 'UNSIGNED-PAYLOAD');
    eq(JSON.stringify(bad), '[]', 'requests that failed or were not signed as UNSIGNED-PAYLOAD');
    console.log(`     ${s3.length} S3 requests over ${[...new Set(logged.map((x) => x.proto))].join('/')} (${parts.length} parts), each signed as UNSIGNED-PAYLOAD`);
  });
}

let code = 0;
try {
  await main();
} catch (e) {
  console.log(`FAIL setup: ${e.stack || e}`);
  code = 1;
} finally {
  await browser?.close();
  await site?.close();
  await stack?.stop();
  if (work) await fsp.rm(work, { recursive: true, force: true });
}
const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(code || failed ? 1 : 0);
