// Browser smoke test of the test stack: a page in headless Chromium makes cross-origin S3
// requests through the CORS proxy to s3s-fs, with presigned URLs (SigV4 over the proxy's
// host), and sees what the cse page will see:
//   - PUT: the preflight passes and the ETag header is readable
//   - ranged GET: 206, Content-Range readable
//   - a page from an origin without a CORS rule: fetch rejects with a bare TypeError
//   - a proxy that does not expose ETag: the PUT succeeds but headers.get('ETag') is null
//
//   node web/test/cors-smoke.mjs        (needs nginx, s3s-fs, /usr/bin/chromium, npm ci here)
// Ends with 'N passed, N failed'.

import crypto from 'node:crypto';
import { serveStatic, launchBrowser } from './browser.mjs';
import { startS3Stack } from './stack.mjs';

// Query-string SigV4 (a presigned URL) for path-style S3, signing only the host header.
export function presign({ endpoint, accessKey, secretKey, region }, method, key, query = {}, expires = 300) {
  const url = new URL(endpoint);
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = now.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const pathEnc = '/' + key.split('/').map(enc).join('/');
  const params = {
    ...query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${accessKey}/${scope}`,
    'X-Amz-Date': now,
    'X-Amz-Expires': String(expires),
    'X-Amz-SignedHeaders': 'host',
  };
  const qs = Object.keys(params).map((k) => [enc(k), enc(params[k])]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [method, pathEnc, qs, `host:${url.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
  const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
  const toSign = ['AWS4-HMAC-SHA256', now, scope, sha(canonical)].join('\n');
  let k = hmac('AWS4' + secretKey, day);
  for (const part of [region, 's3', 'aws4_request']) k = hmac(k, part);
  const sig = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  return `${url.origin}${pathEnc}?${qs}&X-Amz-Signature=${sig}`;
}

let passed = 0, failed = 0;
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  ok ? passed++ : failed++;
};

const PAGE = '<!doctype html><meta charset="utf-8"><title>cors smoke</title><p>cors smoke</p>';

// In the page: PUT then ranged GET, reporting what JavaScript can read.
async function inPage(page, putUrl, getUrl) {
  return page.evaluate(async ({ putUrl, getUrl }) => {
    const out = {};
    try {
      const body = new Uint8Array(100000);
      for (let at = 0; at < body.length; at += 65536) crypto.getRandomValues(body.subarray(at, at + 65536));
      const put = await fetch(putUrl, { method: 'PUT', body });
      out.putStatus = put.status;
      out.etag = put.headers.get('ETag');
      const get = await fetch(getUrl, { headers: { Range: 'bytes=10-19' } });
      out.getStatus = get.status;
      out.contentRange = get.headers.get('Content-Range');
      const got = new Uint8Array(await get.arrayBuffer());
      out.rangeMatches = got.length === 10 && got.every((b, i) => b === body[10 + i]);
    } catch (e) {
      out.error = `${e.name}: ${e.message}`;
    }
    return out;
  }, { putUrl, getUrl });
}

const site = await serveStatic({ pages: { '/index.html': PAGE } });
const other = await serveStatic({ pages: { '/index.html': PAGE } });
const origin = site.url.replace(/\/$/, '');
const stack = await startS3Stack({ origin, buckets: ['smoke'] });
let noEtag = null;
const browser = await launchBrowser();
try {
  const page = await browser.open(site.url + 'index.html');
  const r = await inPage(page, presign(stack, 'PUT', 'smoke/a b+c.bin'), presign(stack, 'GET', 'smoke/a b+c.bin'));
  check(r.putStatus === 200, 'PUT through the proxy from the allowed origin', JSON.stringify(r));
  check(/^"[0-9a-f]{32}"$/.test(r.etag || ''), 'ETag readable by the page', r.etag);
  check(r.getStatus === 206 && r.contentRange === 'bytes 10-19/100000' && r.rangeMatches, 'ranged GET: 206, Content-Range readable, right bytes');

  const page2 = await browser.open(other.url + 'index.html');
  const r2 = await inPage(page2, presign(stack, 'PUT', 'smoke/x.bin'), presign(stack, 'GET', 'smoke/x.bin'));
  check(r2.error && r2.error.startsWith('TypeError'), 'another origin: fetch rejects with a TypeError (all a page learns of a missing CORS rule)', r2.error);

  process.env.EXPOSE_HEADERS = 'x-amz-request-id, Content-Range';
  noEtag = await startS3Stack({ origin, buckets: ['smoke'] });
  delete process.env.EXPOSE_HEADERS;
  const r3 = await inPage(page, presign(noEtag, 'PUT', 'smoke/y.bin'), presign(noEtag, 'GET', 'smoke/y.bin'));
  check(r3.putStatus === 200 && r3.etag === null, 'without ExposeHeaders ETag: PUT succeeds but ETag reads as null', JSON.stringify(r3));
} catch (e) {
  check(false, 'smoke run', e.stack || String(e));
} finally {
  await browser.close();
  await stack.stop();
  await noEtag?.stop();
  await site.close();
  await other.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
