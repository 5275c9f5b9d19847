// The cse page: encrypt-and-upload and download-and-decrypt with the wasm module in ./pkg,
// which runs in a dedicated Worker (worker.js): this thread only draws the page and posts
// messages (files as File objects, read lazily by the worker; progress, verified plaintext
// and errors come back as messages). No framework and no inline code (the page's CSP allows
// only scripts from this folder).
//
// Test hooks (harmless to users): every transfer row carries data-key and data-state
// (waiting, running, done, error, cancelled); the error box carries data-kind; the inspect
// panel carries data-key and data-state (running, done, error), and each fact data-fact
// (sizes and the number of data keys also data-value); after a verified download
// window.__cseLastDownload = { key, name, size, via, blob? } (blob when the chunks were
// collected in memory).

const MIB = 1024 * 1024;
const STORE = 'cse-settings';
const $ = (id) => document.getElementById(id);

const keys = { publicPem: null, privatePem: null, locked: null };
let ready = false;

// ---------------------------------------------------------------------- the engine

const engine = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextCall = 1;

function errorFrom(e) {
  return Object.assign(new Error(e.message), { kind: e.kind || 'error', hint: e.hint || '' });
}

/**
 * Runs `op` in the worker; resolves to its value. `signal` cancels it, `onProgress(done,
 * total)` gets its progress, `onChunk(bytes)` (may return a promise) its verified plaintext:
 * `bytes` is lent until that promise settles (its buffer then goes back to the worker), so
 * whatever keeps it copies it.
 */
function call(op, args = {}, { signal = null, onProgress = null, onChunk = null } = {}) {
  const id = nextCall++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress, onChunk, writes: Promise.resolve(), failed: null });
    engine.postMessage({ ...args, id, op });
    if (signal) {
      const cancel = () => engine.postMessage({ id, op: 'cancel' });
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    }
  });
}

engine.addEventListener('message', (event) => {
  const m = event.data;
  const p = pending.get(m.id);
  if (!p) return;
  if (m.type === 'progress') {
    p.onProgress?.(m.done, m.total);
  } else if (m.type === 'chunk') {
    // In order, one after the other; acknowledged once written (the worker waits for that),
    // the buffer going back with the acknowledgement for the worker's next chunks.
    const bytes = new Uint8Array(m.buffer, 0, m.length);
    p.writes = p.writes.then(async () => {
      if (!p.failed) {
        try {
          await p.onChunk(bytes);
        } catch (err) {
          p.failed = String((err && err.message) || err);
        }
      }
      const ack = { id: m.id, op: 'ack', buffer: m.buffer };
      if (p.failed) ack.error = p.failed;
      engine.postMessage(ack, [m.buffer]);
    });
  } else if (m.type === 'result' || m.type === 'error') {
    pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.value);
    else p.reject(errorFrom(m.error));
  }
});

// The worker could not start (its script or the wasm module did not load) or died.
engine.addEventListener('error', (event) => {
  event.preventDefault?.();
  const err = errorFrom({ message: `the encryption worker failed: ${event.message || 'worker.js did not load'}`, kind: 'config', hint: '' });
  for (const p of pending.values()) p.reject(err);
  pending.clear();
});

// ---------------------------------------------------------------------------- errors

const KIND_TITLES = {
  'wrong-key': 'This private key cannot open the object',
  tampered: 'The object failed verification: it was altered or damaged, and nothing was saved',
  refused: 'The object was refused before decryption: it goes over a safety limit',
  network: 'The storage endpoint could not be reached from this page',
  s3: 'The storage server refused the request',
  key: 'The key file could not be used',
  config: 'A setting is missing or invalid',
};

function corsRule() {
  const line = (v) => JSON.stringify(v);
  return [
    '{"CORSRules": [{',
    `  "AllowedOrigins": ${line([location.origin])},`,
    `  "AllowedMethods": ${line(['GET', 'PUT', 'POST', 'DELETE', 'HEAD'])},`,
    `  "AllowedHeaders": ${line(['*'])},`,
    `  "ExposeHeaders": ${line(['ETag'])},`,
    '  "MaxAgeSeconds": 3000',
    '}]}',
  ].join('\n');
}

function errorKind(err) {
  return (err && typeof err.kind === 'string' && err.kind) || 'error';
}

// One line, without the JavaScript stack a wrapped browser error may carry.
// Text from objects and servers is untrusted: control and invisible format characters are
// shown escaped, and one line of at most 600 characters is kept.
function inert(text) {
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g,
    (c) => '\\u{' + c.charCodeAt(0).toString(16) + '}');
  return escaped.length > 600 ? escaped.slice(0, 600) + '…' : escaped;
}

function plainMessage(err) {
  const text = String((err && err.message) || err);
  return inert(text.split('\n')[0].replace(/JsValue\((\w*Error: [^)]*)\)?/, '$1').trim());
}

/** Shows an error in the error box; `what` names the operation (e.g. 'Upload of a.txt'). */
function showError(err, what = '') {
  const kind = errorKind(err);
  const box = $('error-box');
  box.dataset.kind = kind;
  $('error-title').textContent = (what ? what + ': ' : '') + (KIND_TITLES[kind] || 'Something went wrong');
  $('error-message').textContent = plainMessage(err);
  const hint = inert((err && typeof err.hint === 'string' && err.hint) || '');
  $('error-hint').textContent = hint;
  $('error-hint').hidden = !hint;
  // A fetch that fails outright is what a missing CORS rule looks like to a page.
  const cors = kind === 'network' || /ETag|CORS/i.test(hint + ' ' + $('error-message').textContent);
  $('error-cors').hidden = !cors;
  if (cors) {
    $('error-origin').textContent = location.origin;
    $('error-cors-json').textContent = corsRule();
  }
  box.hidden = false;
  if (!box.matches(':focus-within')) box.scrollIntoView({ block: 'nearest' });
}

function clearError() {
  const box = $('error-box');
  box.hidden = true;
  delete box.dataset.kind;
}

// ------------------------------------------------------------------------ settings

const FIELDS = { endpoint: 'endpoint', region: 'region', bucket: 'bucket', accessKeyId: 'access-key', addressingStyle: 'addressing' };
const OPTIONS = { partSizeMiB: 'part-size', concurrency: 'concurrency', suite: 'suite' };
const SECRETS = { secretAccessKey: 'secret-key', sessionToken: 'session-token' };

function loadSettings() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(STORE) || 'null');
  } catch {
    saved = null;
  }
  if (!saved || typeof saved !== 'object') return;
  for (const [name, id] of Object.entries({ ...FIELDS, ...OPTIONS, ...SECRETS })) {
    if (typeof saved[name] === 'string' && saved[name] !== '') $(id).value = saved[name];
  }
  $('remember').checked = true;
  $('remember-secret').disabled = false;
  $('remember-secret').checked = typeof saved.secretAccessKey === 'string';
}

function saveSettings() {
  $('remember-secret').disabled = !$('remember').checked;
  if (!$('remember').checked) {
    $('remember-secret').checked = false;
    localStorage.removeItem(STORE);
    return;
  }
  const out = {};
  for (const [name, id] of Object.entries({ ...FIELDS, ...OPTIONS })) out[name] = $(id).value;
  if ($('remember-secret').checked) {
    for (const [name, id] of Object.entries(SECRETS)) out[name] = $(id).value;
  }
  localStorage.setItem(STORE, JSON.stringify(out));
}

function client() {
  const need = { endpoint: 'Endpoint URL', bucket: 'Bucket', 'access-key': 'Access key', 'secret-key': 'Secret key' };
  for (const [id, label] of Object.entries(need)) {
    if (!$(id).value.trim()) throw Object.assign(new Error(`${label} is empty`), { kind: 'config', hint: 'fill in the storage settings (section 1)' });
  }
  const options = {
    endpoint: $('endpoint').value.trim().replace(/\/+$/, ''),
    region: $('region').value.trim() || 'us-east-1',
    bucket: $('bucket').value.trim(),
    accessKeyId: $('access-key').value.trim(),
    secretAccessKey: $('secret-key').value.trim(),
    addressingStyle: $('addressing').value,
  };
  const token = $('session-token').value.trim();
  if (token) options.sessionToken = token;
  return options;
}

function context() {
  const out = {};
  for (const raw of $('context').value.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw Object.assign(new Error(`encryption context line "${line}" is not key=value`), { kind: 'config', hint: '' });
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return Object.keys(out).length ? out : undefined;
}

function transferOptions() {
  const partMiB = Math.max(5, Math.floor(Number($('part-size').value) || 8));
  const concurrency = Math.min(32, Math.max(1, Math.floor(Number($('concurrency').value) || 10)));
  return { partSize: partMiB * MIB, concurrency, context: context() };
}

// ---------------------------------------------------------------------------- keys

async function readKey(input, status, slot, label) {
  const files = input.files ? [...input.files] : [];
  keys[slot] = null;
  if (slot === 'privatePem') keys.locked = null;
  if (!files.length) {
    status.textContent = 'none loaded';
    delete status.dataset.loaded;
    return;
  }
  const all = [];
  for (const file of files) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const text = new TextDecoder().decode(bytes.subarray(0, 200));
    if (!/-----BEGIN [A-Z0-9 ]*KEY-----/.test(text)) {
      status.textContent = `${file.name} is not a PEM key file`;
      delete status.dataset.loaded;
      showError(Object.assign(new Error(`${file.name} has no "-----BEGIN … KEY-----" line`), { kind: 'key', hint: `choose the ${label} (a .pem file)` }));
      return;
    }
    if (slot === 'publicPem' && ready) {
      // An empty message with this key: catches a file that is not an RSA public key now
      // rather than at the first upload (0.5 ms; the private key is checked at download).
      try {
        await call('checkPublicKey', { key: bytes });
      } catch (err) {
        status.textContent = `${file.name} cannot be used`;
        delete status.dataset.loaded;
        showError(err, `Public key ${file.name}`);
        return;
      }
    }
    all.push(bytes);
  }
  input.value = '';
  if (slot === 'privatePem' && ready && await call('isEncrypted', { key: all[0] })) {
    // Kept encrypted until its passphrase unlocks it (then only the unlocked key is kept).
    keys.locked = { bytes: all[0], name: files[0].name };
    if ($('private-key-passphrase').value) return unlockKey();
    status.textContent = `${files[0].name} is encrypted: type its passphrase and press Unlock`;
    delete status.dataset.loaded;
    $('private-key-passphrase').focus();
    return;
  }
  // Several public keys: one PEM after the other; the upload wraps the data key for each.
  const joined = new Uint8Array(all.reduce((n, b) => n + b.length + 1, 0));
  let at = 0;
  for (const b of all) { joined.set(b, at); joined[at + b.length] = 10; at += b.length + 1; }
  keys[slot] = all.length === 1 ? all[0] : joined;
  status.textContent = files.length === 1 ? `${files[0].name} loaded` : `${files.length} public keys loaded (${files.map((f) => f.name).join(', ')})`;
  status.dataset.loaded = 'true';
}

// Decrypts the chosen encrypted private key with the passphrase typed; the field is cleared
// whatever the outcome, and only the unlocked key stays in memory.
async function unlockKey() {
  const field = $('private-key-passphrase');
  const status = $('private-key-status');
  const passphrase = field.value;
  field.value = '';
  const locked = keys.locked;
  if (!locked) {
    showError(Object.assign(new Error('choose an encrypted private key file first'), { kind: 'key' }));
    return;
  }
  try {
    keys.privatePem = await call('unlock', { key: locked.bytes, passphrase });
  } catch (err) {
    status.textContent = `${locked.name}: wrong passphrase?`;
    delete status.dataset.loaded;
    showError(err, `Private key ${locked.name}`);
    return;
  }
  if (keys.locked === locked) keys.locked = null;
  status.textContent = `${locked.name} loaded (unlocked)`;
  status.dataset.loaded = 'true';
}

// ------------------------------------------------------------------ transfer rows

function addRow(list, key, label) {
  const li = $('transfer-row').content.firstElementChild.cloneNode(true);
  li.dataset.key = key;
  li.querySelector('.transfer-name').textContent = label;
  list.prepend(li);
  const bar = li.querySelector('progress');
  bar.setAttribute('aria-label', label);
  const status = li.querySelector('.transfer-status');
  const cancel = li.querySelector('.cancel');
  const row = {
    li,
    controller: new AbortController(),
    started: 0,
    set(state, text) {
      li.dataset.state = state;
      status.textContent = text;
      if (state !== 'waiting' && state !== 'running') cancel.hidden = true;
    },
    progress(done, total) {
      bar.max = total || 1;
      bar.value = done;
      const secs = (performance.now() - row.started) / 1000;
      const rate = secs > 0.2 ? `, ${(done / 1e6 / secs).toFixed(1)} MB/s` : '';
      status.textContent = `${fmtSize(done)} of ${fmtSize(total)}${rate}`;
    },
  };
  cancel.addEventListener('click', () => {
    row.controller.abort();
    if (li.dataset.state === 'waiting') row.set('cancelled', 'cancelled');
  });
  return row;
}

function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < MIB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MIB) return `${(n / MIB).toFixed(1)} MiB`;
  return `${(n / 1024 / MIB).toFixed(2)} GiB`;
}

// -------------------------------------------------------------------------- upload

const queue = [];
let running = 0;

function enqueue(files) {
  clearError();
  if (!files.length) return;
  if (!keys.publicPem) {
    showError(Object.assign(new Error('no public key loaded'), { kind: 'key', hint: 'choose public_key.pem in section 2 first' }));
    return;
  }
  let prefix = $('upload-prefix').value.trim().replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  for (const file of files) {
    const key = prefix + file.name;
    const row = addRow($('uploads'), key, `${key} (${fmtSize(file.size)})`);
    queue.push({ file, key, row });
  }
  pump();
}

// Several files at once: as many as requests may be in flight; the wasm module shares one
// budget of requests between all of them, so parts of a large file and small files interleave.
function pump() {
  const { concurrency } = transferOptions();
  while (queue.length && running < concurrency) {
    const job = queue.shift();
    if (job.row.controller.signal.aborted) continue;
    running += 1;
    upload(job).finally(() => { running -= 1; pump(); });
  }
}

async function upload({ file, key, row }) {
  row.set('running', 'encrypting…');
  row.started = performance.now();
  try {
    const s3 = client();
    const { partSize, concurrency, context: ctx } = transferOptions();
    const options = { partSize, concurrency, multipartThreshold: partSize, suite: parseInt($('suite').value, 16) };
    if (ctx) options.context = ctx;
    const r = await call('upload', { client: s3, key, file, publicKey: keys.publicPem, options },
      { signal: row.controller.signal, onProgress: (done, total) => row.progress(done, total) });
    const secs = (performance.now() - row.started) / 1000;
    row.li.querySelector('progress').value = row.li.querySelector('progress').max;
    row.li.dataset.parts = String(r.parts);
    row.set('done', `uploaded: ${fmtSize(r.plaintextBytes)} encrypted to ${fmtSize(r.messageBytes)}` +
      `${r.parts ? ` in ${r.parts} parts` : ''}, suite ${r.suite}, ${(r.plaintextBytes / 1e6 / secs).toFixed(1)} MB/s`);
    saveSettings();
  } catch (err) {
    if (errorKind(err) === 'cancelled' || row.controller.signal.aborted) {
      row.set('cancelled', 'cancelled: nothing was left in the bucket');
    } else {
      row.set('error', `failed: ${plainMessage(err)}`);
      showError(err, `Upload of ${file.name}`);
    }
  }
}

// ------------------------------------------------------------------------ listing

async function list(event) {
  event.preventDefault();
  clearError();
  const status = $('list-status');
  status.textContent = 'listing…';
  const body = $('objects').tBodies[0];
  try {
    const objects = await call('list', { client: client(), prefix: $('list-prefix').value.trim() });
    body.replaceChildren(...objects.map(objectRow));
    $('objects').hidden = objects.length === 0;
    status.textContent = objects.length === 1 ? '1 object' : `${objects.length} objects`;
    saveSettings();
  } catch (err) {
    status.textContent = 'listing failed';
    showError(err, 'Listing');
  }
}

function objectRow(o) {
  const tr = document.createElement('tr');
  tr.dataset.key = o.key;
  const cell = (text, cls) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
    return td;
  };
  cell(inert(o.key), 'key');
  cell(fmtSize(o.size), 'num').title = `${o.size} bytes`;
  const when = new Date(o.lastModified);
  cell(isNaN(when) ? String(o.lastModified || '') : when.toLocaleString());
  const td = cell('');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Download & decrypt';
  button.dataset.testid = 'download-button';
  button.setAttribute('aria-label', `Download and decrypt ${o.key}`);
  button.addEventListener('click', () => download(o.key));
  const look = document.createElement('button');
  look.type = 'button';
  look.className = 'secondary';
  look.textContent = 'Inspect';
  look.dataset.testid = 'inspect-button';
  look.setAttribute('aria-label', `Inspect ${inert(o.key)} (header only, no key)`);
  look.addEventListener('click', () => inspect(o.key));
  td.append(button, ' ', look);
  return tr;
}

// ------------------------------------------------------------------------ inspect

// The latest Inspect click wins: an older answer arriving late is dropped.
let inspecting = 0;

// What the object's header says, read without a key and without downloading the object (a
// HEAD, ranged GETs of the header, a signed message's last bytes). The header is not
// authenticated: every string from it is shown as text, through inert().
async function inspect(key) {
  clearError();
  const ticket = ++inspecting;
  const panel = $('inspect-panel');
  const status = $('inspect-status');
  panel.hidden = false;
  panel.dataset.key = key;
  panel.dataset.state = 'running';
  $('inspect-title').textContent = `Inspect: ${inert(key)}`;
  status.textContent = 'reading the header…';
  $('inspect-facts').replaceChildren();
  try {
    const facts = await call('inspect', { client: client(), key });
    if (ticket !== inspecting) return;
    $('inspect-facts').replaceChildren(...factRows(facts));
    status.textContent = 'read from the header without a key; nothing was downloaded or decrypted, and nothing here is verified';
    panel.dataset.state = 'done';
  } catch (err) {
    if (ticket !== inspecting) return;
    status.textContent = `failed: ${plainMessage(err)}`;
    panel.dataset.state = 'error';
    showError(err, `Inspect of ${inert(key)}`);
  }
}

function factRows(f) {
  const rows = [];
  // One fact: a line of text, or (an array) a list of lines.
  const fact = (name, label, value) => {
    const dt = document.createElement('dt');
    dt.textContent = inert(label);
    const dd = document.createElement('dd');
    dd.dataset.fact = name;
    if (Array.isArray(value)) {
      const ul = document.createElement('ul');
      for (const line of value) {
        const li = document.createElement('li');
        li.textContent = inert(String(line));
        ul.append(li);
      }
      dd.append(ul);
    } else {
      dd.textContent = inert(String(value));
    }
    rows.push(dt, dd);
    return dd;
  };
  const bytes = (n) => `${n} bytes${n >= 1024 ? ` (${fmtSize(n)})` : ''}`;
  fact('suite', 'Suite', `${f.suite} ${f.suiteName} (${f.committing ? 'committing' : 'not committing'}, ${f.signed ? 'signed' : 'not signed'})`);
  fact('message-id', 'Message id', f.messageId);
  fact('body', 'Body', f.framed
    ? `framed, frames of ${f.frameLength} bytes (format version ${f.messageVersion})`
    : `non-framed (format version ${f.messageVersion})`);
  fact('header', 'Header', bytes(f.headerBytes)).dataset.value = String(f.headerBytes);
  fact('message', 'Object', bytes(f.messageBytes)).dataset.value = String(f.messageBytes);
  const known = typeof f.plaintextBytes === 'number';
  fact('plaintext', 'Plaintext', known ? bytes(f.plaintextBytes) : 'unknown (the sizes fit no message layout)')
    .dataset.value = known ? String(f.plaintextBytes) : '';
  const context = f.encryptionContext.map(([k, v]) => `${k} = ${v}`);
  fact('context', 'Encryption context', context.length ? context : '(none)');
  const more = f.dataKeyCount - f.dataKeys.length;
  fact('data-keys', `Data keys (${f.dataKeyCount})`, [...f.dataKeys, ...(more > 0 ? [`and ${more} more`] : [])])
    .dataset.value = String(f.dataKeyCount);
  return rows;
}

function closeInspect() {
  inspecting += 1;
  const panel = $('inspect-panel');
  panel.hidden = true;
  delete panel.dataset.state;
  delete panel.dataset.key;
  $('inspect-facts').replaceChildren();
}

// ----------------------------------------------------------------------- download

/** Plaintext bytes gathered before they are folded into a Blob (see download). */
const BLOB_FOLD = 32 * 1024 * 1024;

function baseName(key) {
  return key.split('/').filter(Boolean).pop() || 'download';
}

async function download(key) {
  clearError();
  window.__cseLastDownload = null;
  if (!keys.privatePem) {
    showError(Object.assign(new Error('no private key loaded'), { kind: 'key', hint: 'choose private_key.pem in section 2 first' }));
    return;
  }
  const name = baseName(key);
  // Ask where to save first, while the click still counts as a user gesture. The writable
  // stream writes to a swap file that only close() moves into place.
  let writable = null;
  if (typeof window.showSaveFilePicker === 'function') {
    try {
      const handle = await window.showSaveFilePicker({ suggestedName: name });
      writable = await handle.createWritable();
    } catch (err) {
      if (err && err.name === 'AbortError') return; // the person closed the dialog
      showError(Object.assign(new Error(`cannot write the file: ${err.message || err}`), { kind: 'config', hint: '' }), `Download of ${key}`);
      return;
    }
  }
  const row = addRow($('downloads'), key, key);
  row.set('running', 'downloading…');
  row.started = performance.now();
  // Without a save dialog the plaintext collects in Blobs: every BLOB_FOLD bytes the chunks
  // become one Blob, which the browser keeps outside the page (on disk when large), so the
  // page's own memory stays bounded whatever the size.
  const chunks = [];
  const blobs = [];
  let unfolded = 0;
  let written = 0;
  const sink = writable
    ? { write: (chunk) => { written += chunk.length; return writable.write(chunk); } }
    : {
        write: (chunk) => {
          written += chunk.length;
          chunks.push(chunk.slice()); // the chunk is lent (see call)
          unfolded += chunk.length;
          if (unfolded >= BLOB_FOLD) {
            blobs.push(new Blob(chunks));
            chunks.length = 0;
            unfolded = 0;
          }
        },
      };
  try {
    const s3 = client();
    const { partSize, concurrency, context: ctx } = transferOptions();
    const options = { partSize, concurrency };
    if (ctx) options.context = ctx;
    const r = await call('download', { client: s3, key, privateKey: keys.privatePem, options },
      { signal: row.controller.signal, onProgress: (done, total) => row.progress(done, total), onChunk: (chunk) => sink.write(chunk) });
    row.li.querySelector('progress').value = row.li.querySelector('progress').max;
    const secs = (performance.now() - row.started) / 1000;
    const rate = `${(r.plaintextBytes / 1e6 / secs).toFixed(1)} MB/s`;
    if (writable) {
      await writable.close();
      writable = null;
      row.set('done', `verified and saved as ${name}: ${fmtSize(r.plaintextBytes)}, suite ${r.suite}, ${rate}`);
      window.__cseLastDownload = { key, name, size: r.plaintextBytes, via: 'picker' };
    } else {
      const blob = new Blob([...blobs, ...chunks], { type: 'application/octet-stream' });
      chunks.length = 0;
      blobs.length = 0;
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      a.textContent = `Save ${name}`;
      a.dataset.testid = 'download-link';
      row.li.querySelector('.transfer-link').append(a);
      row.set('done', `verified: ${fmtSize(r.plaintextBytes)}, suite ${r.suite}, ${rate}`);
      window.__cseLastDownload = { key, name, size: r.plaintextBytes, via: 'blob', blob, url: a.href };
    }
  } catch (err) {
    // Whatever was written is unverified: throw it away.
    chunks.length = 0;
    blobs.length = 0;
    if (writable) await writable.abort().catch(() => {});
    if (errorKind(err) === 'cancelled' || row.controller.signal.aborted) {
      row.set('cancelled', 'cancelled: nothing was saved');
    } else {
      row.set('error', `failed (${written ? 'the partial output was discarded' : 'nothing was saved'}): ${plainMessage(err)}`);
      showError(err, `Download of ${key}`);
    }
  }
}

// -------------------------------------------------------------------------- wiring

function wire() {
  $('error-dismiss').addEventListener('click', clearError);
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  $('settings').addEventListener('change', saveSettings);
  $('public-key-file').addEventListener('change', (e) => readKey(e.target, $('public-key-status'), 'publicPem', 'public key'));
  $('private-key-file').addEventListener('change', (e) => readKey(e.target, $('private-key-status'), 'privatePem', 'private key'));
  $('unlock-key').addEventListener('click', unlockKey);
  $('private-key-passphrase').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); unlockKey(); } });
  $('upload-files').addEventListener('change', (e) => {
    const files = [...e.target.files];
    e.target.value = '';
    enqueue(files);
  });
  const zone = $('drop-zone');
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (!ready) return;
    enqueue([...(e.dataTransfer?.files || [])]);
  });
  // A file dropped next to the zone must not make the browser navigate away.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('list-form').addEventListener('submit', list);
  $('inspect-close').addEventListener('click', closeInspect);
}

async function main() {
  loadSettings();
  wire();
  const controls = document.querySelectorAll('#upload-files, #list-button');
  controls.forEach((c) => { c.disabled = true; });
  try {
    $('version').textContent = await call('init');
    ready = true;
    controls.forEach((c) => { c.disabled = false; });
    $('loading').hidden = true;
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('loading').textContent = 'The encryption module did not load: this page cannot work.';
    showError(Object.assign(new Error(`loading worker.js and pkg/cse_web_bg.wasm failed: ${err.message || err}`), { kind: 'config', hint: 'the page needs a browser with WebAssembly, served over http(s) with the pkg/ folder next to it' }));
    document.body.dataset.ready = 'failed';
  }
}

main();
