// Baseline for the web page's benchmark: the official AWS Encryption SDK for the browser,
// configured as cse is (raw RSA keyring, RSA-OAEP with SHA-256, namespace MyAppKeys, key
// name S3RSAKey, frames of 4096 bytes, commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT).
//
// Bundled at test time (not committed) by run.mjs:
//   esbuild web/bench/official.mjs --bundle --format=iife --outfile=web/bench/dist/official.js
//
// Exposes
//   window.officialBench({ suite, sizeMiB, publicPem, privatePem })
//     -> { encryptMBps, decryptMBps, encryptMs, decryptMs, messageBytes, ... }
// MB = 10^6 bytes of plaintext; each time covers the encrypt (or decrypt) call alone, not
// key import nor making the random input. The SDK works on whole buffers: input, message
// and output are all in memory at once.

import {
  buildClient,
  CommitmentPolicy,
  RawRsaKeyringWebCrypto,
} from '@aws-crypto/client-browser';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

const KEY_NAMESPACE = 'MyAppKeys';
const KEY_NAME = 'S3RSAKey';
const FRAME_LENGTH = 4096;
const SUITES = new Set([0x0578, 0x0478]);

// --- PEM to the DER forms WebCrypto imports (SPKI for public, PKCS #8 for private) ---

function pemBlock(pem) {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new Error('not a PEM file (no BEGIN/END lines)');
  const bin = atob(m[2].replace(/\s+/g, ''));
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return { label: m[1], der };
}

function derLength(n) {
  if (n < 0x80) return [n];
  const bytes = [];
  for (; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function derTlv(tag, ...parts) {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(1 + derLength(len).length + len);
  out.set([tag, ...derLength(len)]);
  let at = out.length - len;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
const RSA_ALGORITHM_ID = new Uint8Array([
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
]);

function publicSpki(pem) {
  const { label, der } = pemBlock(pem);
  if (label === 'PUBLIC KEY') return der;
  // PKCS #1 RSAPublicKey: wrap as SubjectPublicKeyInfo (BIT STRING with no unused bits)
  if (label === 'RSA PUBLIC KEY') return derTlv(0x30, RSA_ALGORITHM_ID, derTlv(0x03, new Uint8Array([0]), der));
  throw new Error(`public key: unexpected PEM label "${label}"`);
}

function privatePkcs8(pem) {
  const { label, der } = pemBlock(pem);
  if (label === 'PRIVATE KEY') return der;
  // PKCS #1 RSAPrivateKey: wrap as PrivateKeyInfo { version 0, algorithm, OCTET STRING }
  if (label === 'RSA PRIVATE KEY') return derTlv(0x30, new Uint8Array([0x02, 0x01, 0x00]), RSA_ALGORITHM_ID, derTlv(0x04, der));
  throw new Error(`private key: unexpected PEM label "${label}"`);
}

async function keyring(publicPem, privatePem) {
  const padding = 'OAEP_SHA256_MFG1';
  const publicKey = await RawRsaKeyringWebCrypto.importPublicKey({ format: 'spki', key: publicSpki(publicPem), padding });
  const privateKey = await RawRsaKeyringWebCrypto.importPrivateKey({ format: 'pkcs8', key: privatePkcs8(privatePem), padding });
  return new RawRsaKeyringWebCrypto({ keyNamespace: KEY_NAMESPACE, keyName: KEY_NAME, publicKey, privateKey });
}

function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const mbps = (bytes, ms) => Math.round((bytes / 1e6 / (ms / 1e3)) * 10) / 10;

async function officialBench({ suite, sizeMiB, publicPem, privatePem }) {
  if (!SUITES.has(suite)) throw new Error(`suite must be 0x0578 or 0x0478, not ${suite}`);
  const ring = await keyring(publicPem, privatePem);
  let plaintext = randomBytes(sizeMiB * 1024 * 1024);
  const n = plaintext.length;

  let t0 = performance.now();
  const { result } = await encrypt(ring, plaintext, { suiteId: suite, frameLength: FRAME_LENGTH });
  const encryptMs = performance.now() - t0;

  t0 = performance.now();
  const { plaintext: back, messageHeader } = await decrypt(ring, result);
  const decryptMs = performance.now() - t0;

  if (messageHeader.suiteId !== suite) throw new Error(`message has suite ${messageHeader.suiteId}, asked for ${suite}`);
  if (!sameBytes(back, plaintext)) throw new Error('decrypted bytes differ from the input');
  const messageBytes = result.length;
  plaintext = null;

  return {
    encryptMBps: mbps(n, encryptMs),
    decryptMBps: mbps(n, decryptMs),
    encryptMs: Math.round(encryptMs),
    decryptMs: Math.round(decryptMs),
    plaintextBytes: n,
    messageBytes,
  };
}

window.officialBench = officialBench;
