// The signature hash of signed messages (SHA-384) on a Worker of its own, for the wasm engine
// (imported by cse-web). cse-core hands out, in order, every byte the signature covers
// (Encryptor/Decryptor::hash_outside); this module sends them to the hash Worker, which hashes
// them with the same wasm module, and brings the digest back. So the one serial step of a
// signed message runs beside the engine instead of on its thread. Nothing here knows the
// message format, and the digest only goes back to cse-core, which signs or checks it.
//
// This file is both ends: imported, it gives OutsideHash; started as a Worker (named
// 'cse-hash', from this same URL, which the page's CSP allows as 'self'), it hashes.

const NAME = 'cse-hash';

if (typeof WorkerGlobalScope !== 'undefined' && globalThis.name === NAME) {
  // The Worker: wasm-bindgen puts this file in <pkg>/snippets/<crate>/www/.
  const pkg = new URL('../../../cse_web.js', import.meta.url).href;
  const ready = import(pkg).then(async (m) => {
    await m.default();
    return m;
  });
  // Tells the page it is ready (see prestart).
  ready.then(() => self.postMessage({ op: 'ready' }), () => {});
  const hashes = new Map();
  self.onmessage = async ({ data: { id, op, len, bytes, length } }) => {
    // Messages are handled in the order they came: each waits for the same promise.
    let m;
    try {
      m = await ready;
    } catch (e) {
      if (op === 'digest') self.postMessage({ id, error: `the hash Worker did not start: ${e}` });
      return;
    }
    try {
      if (op === 'start') hashes.set(id, new m.MessageDigest(len));
      else if (op === 'update') {
        hashes.get(id)?.update(new Uint8Array(bytes, 0, length));
        // Back to be filled again: no buffer per update is left for the collector.
        self.postMessage({ op: 'buffer', bytes }, [bytes]);
      }
      else if (op === 'digest') {
        const h = hashes.get(id);
        hashes.delete(id);
        if (!h) throw new Error('no such hash');
        self.postMessage({ id, digest: h.finish() });
      } else if (op === 'drop') {
        hashes.get(id)?.free();
        hashes.delete(id);
      }
    } catch (e) {
      hashes.get(id)?.free();
      hashes.delete(id);
      if (op === 'digest') self.postMessage({ id, error: String(e) });
    }
  };
}

let worker = null;
/** Resolves once the hash Worker has loaded the wasm module (or failed). */
let started = null;
/** The hash Worker failed (it could not start, or died): later messages are hashed by core. */
let broken = false;
let next = 1;
const waiting = new Map();
/** Buffers the hash Worker gave back, to be filled again (at most POOL of them). */
const pool = [];
const POOL = 8;
/** The size of a new buffer (more when an update is larger). */
const CHUNK = 512 * 1024;

function hashWorker() {
  if (!worker) {
    worker = new Worker(import.meta.url, { type: 'module', name: NAME });
    let ready;
    started = new Promise((resolve) => { ready = resolve; });
    worker.onmessage = ({ data }) => {
      if (data.op === 'ready') {
        ready();
        return;
      }
      if (data.op === 'buffer') {
        if (pool.length < POOL && data.bytes.byteLength <= 2 * CHUNK) pool.push(data.bytes);
        return;
      }
      const w = waiting.get(data.id);
      if (!w) return;
      waiting.delete(data.id);
      if (data.error) w.reject(new Error(data.error));
      else w.resolve(data.digest);
    };
    worker.onerror = () => {
      for (const w of waiting.values()) w.reject(new Error('the hash Worker failed'));
      waiting.clear();
      worker = null;
      broken = true;
      ready();
    };
  }
  return worker;
}

/** Whether this context can start the hash Worker. */
export function available() {
  return !broken && typeof Worker === 'function' && globalThis.name !== NAME;
}

/**
 * Starts the hash Worker ahead of the first signed message, which would otherwise wait for it
 * to load and compile the wasm module (about a tenth of a second); resolves once it has.
 */
export function prestart() {
  if (!available()) return Promise.resolve();
  hashWorker();
  return started;
}

/** One message's hash on the hash Worker. */
export class OutsideHash {
  /** `len`: the digest's length, 48 (SHA-384) or 32 (SHA-256). */
  constructor(len) {
    this.worker = hashWorker();
    this.id = next++;
    this.worker.postMessage({ id: this.id, op: 'start', len });
  }

  /** Hashes a copy of `view` (which may be a view of wasm memory, used only during this call). */
  update(view) {
    let bytes = pool.pop();
    if (!bytes || bytes.byteLength < view.length) bytes = new ArrayBuffer(Math.max(CHUNK, view.length));
    new Uint8Array(bytes, 0, view.length).set(view);
    this.worker.postMessage({ id: this.id, op: 'update', bytes, length: view.length }, [bytes]);
  }

  /** The digest of everything given (a Uint8Array); the hash is gone afterwards. */
  digest() {
    if (this.worker !== worker) return Promise.reject(new Error('the hash Worker failed'));
    return new Promise((resolve, reject) => {
      waiting.set(this.id, { resolve, reject });
      this.worker.postMessage({ id: this.id, op: 'digest' });
    });
  }

  /** Forgets the hash without a digest (the message failed). */
  drop() {
    this.worker.postMessage({ id: this.id, op: 'drop' });
  }
}
