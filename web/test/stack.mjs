// A local S3 stack for browser tests: s3s-fs (checks SigV4 signatures and payload hashes)
// behind the CORS proxy (nginx, cors-proxy.sh), both on 127.0.0.1 at free ports.
//
//   import { startS3Stack } from './stack.mjs';
//   const s3 = await startS3Stack({ origin: site.url.replace(/\/$/, ''), buckets: ['demo'] });
//   // s3.endpoint (the proxy, for the page), s3.direct (the server), s3.accessKey,
//   // s3.secretKey, s3.region, s3.dataDir (a bucket is a folder there)
//   // with tls: true, also s3.tls = { endpoint, caFile, spki, log }: the proxy listens with TLS
//   // too, a certificate for 127.0.0.1 / localhost signed by a CA made here with openssl (in
//   // the stack's temp folder, removed by stop()); spki is the base64 SHA-256 of the server
//   // certificate's public key, for Chromium's --ignore-certificate-errors-spki-list; log is
//   // nginx's log of the requests that came over TLS (access-tls.log).
//   await s3.stop();
//
// Environment: S3S_FS (default ~/.cargo/bin/s3s-fs, else s3s-fs on PATH),
// EXPOSE_HEADERS (passed to cors-proxy.sh; e.g. leave ETag out to test that error path).

import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms = 10000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

function s3sBinary() {
  if (process.env.S3S_FS) return process.env.S3S_FS;
  const cargoBin = path.join(os.homedir(), '.cargo', 'bin', 's3s-fs');
  return fs.existsSync(cargoBin) ? cargoBin : 's3s-fs';
}

// A site CA and a certificate for 127.0.0.1 / localhost signed by it, in `dir`.
async function makeTestCa(dir) {
  await fsp.mkdir(dir, { recursive: true });
  const openssl = (...args) => run('openssl', args, { cwd: dir });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cse web test site CA',
    '-keyout', 'ca.key', '-out', 'ca.pem');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  await fsp.writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName = DNS:localhost, IP:127.0.0.1\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem');
  await openssl('x509', '-in', 'server.pem', '-noout', '-pubkey', '-out', 'server.pub');
  await openssl('pkey', '-pubin', '-in', 'server.pub', '-outform', 'DER', '-out', 'server.spki');
  const spki = crypto.createHash('sha256').update(await fsp.readFile(path.join(dir, 'server.spki'))).digest('base64');
  return { caFile: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), spki };
}

/**
 * origin: the page's origin (e.g. 'http://127.0.0.1:8123'), or '*'.
 * tls: also an https listener on the proxy (see above).
 * Returns { endpoint, direct, accessKey, secretKey, region, dataDir, tls, stop() }.
 */
export async function startS3Stack({ origin, buckets = [], tls = false, accessKey = 'AKCSETEST', secretKey = 'cse-test-secret-key', region = 'us-east-1', log = false } = {}) {
  if (!origin) throw new Error('startS3Stack: origin is required');
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cse-s3-'));
  const dataDir = path.join(root, 'data');
  await fsp.mkdir(dataDir);
  for (const b of buckets) await fsp.mkdir(path.join(dataDir, b));

  const s3Port = await freePort();
  const server = spawn(s3sBinary(), ['--host', '127.0.0.1', '--port', String(s3Port), '--access-key', accessKey, '--secret-key', secretKey, dataDir], {
    stdio: ['ignore', log ? 'inherit' : 'ignore', log ? 'inherit' : 'pipe'],
  });
  let serverErr = '';
  server.stderr?.on('data', (d) => { serverErr = (serverErr + d).slice(-4000); });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const died = exited.then((code) => { throw new Error(`s3s-fs exited (${code}): ${serverErr}`); });
  died.catch(() => {}); // stop() ends it on purpose later
  const proxyDir = path.join(root, 'proxy');
  const stop = async () => {
    await run('bash', [path.join(HERE, 'cors-proxy.sh'), 'stop', '--dir', proxyDir]).catch(() => {});
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    await fsp.rm(root, { recursive: true, force: true });
  };
  try {
    await Promise.race([waitForPort(s3Port), died]);
    const port = await freePort();
    const args = ['--dir', proxyDir, '--port', String(port), '--s3-port', String(s3Port), '--origin', origin];
    let tlsInfo = null;
    if (tls) {
      const ca = await makeTestCa(path.join(root, 'tls'));
      const tlsPort = await freePort();
      args.push('--tls-port', String(tlsPort), '--cert', ca.cert, '--key', ca.key);
      tlsInfo = { endpoint: `https://127.0.0.1:${tlsPort}`, caFile: ca.caFile, spki: ca.spki, log: path.join(proxyDir, 'access-tls.log') };
    }
    await run('bash', [path.join(HERE, 'cors-proxy.sh'), 'start', ...args]);
    await waitForPort(port);
    if (tlsInfo) await waitForPort(Number(new URL(tlsInfo.endpoint).port));
    return {
      endpoint: `http://127.0.0.1:${port}`,
      direct: `http://127.0.0.1:${s3Port}`,
      accessKey, secretKey, region, dataDir, proxyDir,
      tls: tlsInfo,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
