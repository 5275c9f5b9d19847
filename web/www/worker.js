// The cse page's engine, in a dedicated module Worker: loads the wasm module (./pkg) and runs
// every upload, download, inspect and listing, so that the page's main thread only draws.
// app.js talks to it with messages:
//
//   page -> worker  { id, op, ...arguments }       op: init, checkPublicKey, isEncrypted,
//                                                  unlock, list, inspect, upload, download
//                   { id, op: 'cancel' }           aborts call `id` (its AbortSignal fires)
//                   { id, op: 'ack', error?, buffer }  a chunk of download `id` was written (or
//                                                  writing it failed: the download fails); its
//                                                  buffer comes back (transferred) for reuse
//   worker -> page  { id, type: 'result', value }
//                   { id, type: 'error', error: { message, kind, hint } }
//                   { id, type: 'progress', done, total }   at most every PROGRESS_MS
//                   { id, type: 'chunk', buffer, length }   verified plaintext (transferred)
//
// Files arrive as File objects (structured clone keeps them lazy) and the engine reads them
// with File.slice. Downloads decrypt here; the plaintext goes to the page in transferred
// buffers of up to CHUNK bytes with at most WINDOW of them unacknowledged, so a slow sink
// holds the download back rather than filling memory; the page sends each buffer back with
// its acknowledgement, and the same few buffers carry the whole download. Frames leave the
// decryptor only once their tag verified; the page commits (closes the save dialog's file,
// or makes the Blob) only when the call resolved, i.e. after the footer verified, and
// discards it otherwise.

import init, { S3Client, encryptBuffer, isEncryptedPrivateKey, unlockPrivateKey, version } from './pkg/cse_web.js';

const PROGRESS_MS = 100;
const CHUNK = 1024 * 1024;
const WINDOW = 4;

const loaded = init();
/** Calls under way: id -> { controller, sink? }. */
const calls = new Map();

function errorOf(err) {
  return {
    message: String((err && err.message) || err),
    kind: err && typeof err.kind === 'string' ? err.kind : '',
    hint: err && typeof err.hint === 'string' ? err.hint : '',
  };
}

/** onProgress(done, total) for call `id`, posting at most every PROGRESS_MS. */
function progressOf(id) {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS && done < total) return;
    last = now;
    self.postMessage({ id, type: 'progress', done, total });
  };
}

/**
 * The download's sink: verified plaintext to the page in transferred buffers. The page sends
 * each buffer back with its acknowledgement and the next chunks reuse it, so a download of
 * any size allocates WINDOW + 1 buffers rather than one per chunk (which the page would hold
 * until its garbage collector ran: hundreds of MiB over a large download).
 */
class PageSink {
  constructor(id) {
    this.id = id;
    this.buf = new Uint8Array(CHUNK);
    this.at = 0;
    this.unacked = 0;
    /** Buffers the page gave back, for the next chunks. */
    this.spare = [];
    this.waiters = [];
    this.failed = null;
  }

  /** Copies `chunk` (lent by the engine until this resolves) into the chunks to send. */
  async write(chunk) {
    for (let off = 0; off < chunk.length;) {
      if (this.failed) throw this.failed;
      const n = Math.min(CHUNK - this.at, chunk.length - off);
      this.buf.set(chunk.subarray(off, off + n), this.at);
      this.at += n;
      off += n;
      if (this.at === CHUNK) await this.flush();
    }
    if (this.failed) throw this.failed;
  }

  async flush() {
    if (this.at) {
      const { buffer } = this.buf;
      self.postMessage({ id: this.id, type: 'chunk', buffer, length: this.at }, [buffer]);
      this.buf = null;
      this.at = 0;
      this.unacked += 1;
    }
    while (this.unacked >= WINDOW && !this.failed) await new Promise((resolve) => this.waiters.push(resolve));
    this.buf ??= this.spare.pop() || new Uint8Array(CHUNK);
  }

  /** Everything written handed over and acknowledged. */
  async drain() {
    await this.flush();
    while (this.unacked > 0 && !this.failed) await new Promise((resolve) => this.waiters.push(resolve));
    if (this.failed) throw this.failed;
  }

  /** The page wrote a chunk (or failed to: `error`), and gives its `buffer` back. */
  ack(error, buffer) {
    this.unacked -= 1;
    if (buffer instanceof ArrayBuffer && buffer.byteLength === CHUNK) {
      // It held plaintext: zeroed before it waits for reuse.
      const spare = new Uint8Array(buffer);
      spare.fill(0);
      this.spare.push(spare);
    }
    if (error && !this.failed) this.failed = new Error(error);
    this.waiters.splice(0).forEach((resolve) => resolve());
  }
}

const OPS = {
  async init() {
    return version();
  },
  // An empty message with this key: catches a file that is not an RSA public key when it is
  // chosen rather than at the first upload.
  async checkPublicKey({ key }) {
    await encryptBuffer(key, new Uint8Array(0), 0x0478, 4096);
    return true;
  },
  async isEncrypted({ key }) {
    return isEncryptedPrivateKey(key);
  },
  async unlock({ key, passphrase }) {
    return unlockPrivateKey(key, passphrase);
  },
  async list({ client, prefix }) {
    return new S3Client(client).list(prefix);
  },
  async inspect({ client, key }) {
    return new S3Client(client).inspect(key);
  },
  async upload({ id, client, key, file, publicKey, options }, call) {
    const s3 = new S3Client(client);
    return s3.upload(key, file, publicKey, options, progressOf(id), call.controller.signal);
  },
  async download({ id, client, key, privateKey, options }, call) {
    const s3 = new S3Client(client);
    const sink = (call.sink = new PageSink(id));
    const r = await s3.download(key, privateKey, options, sink, progressOf(id), call.controller.signal);
    await sink.drain();
    return r;
  },
};

async function run(m, call) {
  try {
    await loaded;
    const op = OPS[m.op];
    if (!op) throw Object.assign(new Error(`unknown operation ${m.op}`), { kind: 'config' });
    const value = await op(m, call);
    self.postMessage({ id: m.id, type: 'result', value });
  } catch (err) {
    self.postMessage({ id: m.id, type: 'error', error: errorOf(err) });
  } finally {
    calls.delete(m.id);
  }
}

self.onmessage = (event) => {
  const m = event.data;
  const call = calls.get(m.id);
  if (m.op === 'cancel') {
    call?.controller.abort();
    return;
  }
  if (m.op === 'ack') {
    call?.sink?.ack(m.error, m.buffer);
    return;
  }
  const fresh = { controller: new AbortController(), sink: null };
  calls.set(m.id, fresh);
  run(m, fresh);
};
