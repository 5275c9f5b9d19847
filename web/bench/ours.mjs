// cse's side of the browser benchmark (run.mjs): the wasm module's whole-buffer
// encryptBuffer/decryptBuffer with the same keyring, frames and input as official.mjs.
//
// Sets window.cseBench({ suite, sizeMiB, publicPem, privatePem })
//   -> { encryptMBps, decryptMBps, encryptMs, decryptMs, plaintextBytes, messageBytes, wasmMemoryMiB }
// MB = 10^6 bytes of plaintext; each time covers the one call (the RSA key parse and wrap
// or unwrap included, as the official SDK's time includes its wrap/unwrap), not making the
// input. wasmMemoryMiB is the module's linear memory after the run (it only grows).

// The page may name another build (window.csePkg, a directory under web/, set by run.mjs
// from '--impl ours:DIR'); by default the page's own, web/www/pkg.
const pkg = window.csePkg ? `/${window.csePkg.replace(/^\/+|\/+$/g, '')}/cse_web.js` : '../www/pkg/cse_web.js';
const { default: init, encryptBuffer, decryptBuffer, startHashWorker } = await import(pkg);

const wasm = await init();
// As an application of the buffer functions would at load (earlier builds lack it).
await startHashWorker?.();
const SUITES = new Set([0x0578, 0x0478]);
const FRAME_LENGTH = 4096;

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

async function cseBench({ suite, sizeMiB, publicPem, privatePem }) {
  if (!SUITES.has(suite)) throw new Error(`suite must be 0x0578 or 0x0478, not ${suite}`);
  const pub = new TextEncoder().encode(publicPem);
  const priv = new TextEncoder().encode(privatePem);
  const plaintext = randomBytes(sizeMiB * 1024 * 1024);
  const n = plaintext.length;

  let t0 = performance.now();
  const message = await encryptBuffer(pub, plaintext, suite, FRAME_LENGTH);
  const encryptMs = performance.now() - t0;

  t0 = performance.now();
  const back = await decryptBuffer(priv, message);
  const decryptMs = performance.now() - t0;

  if (message[1] !== suite >> 8 || message[2] !== (suite & 0xff)) throw new Error('message header names another suite');
  if (!sameBytes(back, plaintext)) throw new Error('decrypted bytes differ from the input');

  return {
    encryptMBps: mbps(n, encryptMs),
    decryptMBps: mbps(n, decryptMs),
    encryptMs: Math.round(encryptMs),
    decryptMs: Math.round(decryptMs),
    plaintextBytes: n,
    messageBytes: message.length,
    wasmMemoryMiB: Math.round(wasm.memory.buffer.byteLength / 1048576),
  };
}

window.cseBench = cseBench;
