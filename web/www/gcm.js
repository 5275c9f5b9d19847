// Frame AES-GCM through the browser's WebCrypto, for the wasm engine (imported by cse-web).
//
// This module only runs AES-GCM: cse-core lays out every frame and gives, for each, the IV,
// the AAD and where its bytes are; it orders the frames, hashes them for the signature and
// decides what plaintext is released. Nothing here knows the message format.
//
// A call keeps IN_FLIGHT of its frames in crypto.subtle at once (the browser runs them off
// this thread): the first ones are handed over before the call returns its promise, so the
// caller's work until it waits for that promise overlaps them.

const subtle = globalThis.crypto && globalThis.crypto.subtle;

/** Whether WebCrypto is here (it is only in secure contexts: https, localhost). */
export function available() {
  return !!subtle;
}

/**
 * A non-extractable AES-GCM CryptoKey from `raw` (16, 24 or 32 bytes); `raw` is zeroed as
 * soon as WebCrypto has taken its copy, whether the import worked or not.
 */
export async function importFrameKey(raw) {
  let imported;
  try {
    imported = subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
  return imported;
}

/** Frames in flight at once per call. */
const IN_FLIGHT = 64;

/** Runs op(i) for i < n with at most IN_FLIGHT of them pending. */
async function inFlight(n, op) {
  let next = 0;
  const lane = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, lane));
}

const params = (ivs, aads, aadLen, i) => ({
  name: 'AES-GCM',
  iv: ivs.subarray(i * 12, i * 12 + 12),
  additionalData: aads.subarray(i * aadLen, (i + 1) * aadLen),
  tagLength: 128,
});

/**
 * Seals frame i (i < starts.length) of `buf` in place: the `len` plaintext bytes at
 * starts[i] are encrypted with ivs[12i..12i+12] and aads[aadLen·i..aadLen·(i+1)], and
 * ciphertext ‖ tag (len + 16 bytes) is written from starts[i]. Resolves once every frame is
 * sealed.
 */
export async function sealFrames(key, buf, ivs, aads, aadLen, starts, len) {
  try {
    await inFlight(starts.length, async (i) => {
      const at = starts[i];
      const sealed = await subtle.encrypt(params(ivs, aads, aadLen, i), key, buf.subarray(at, at + len));
      buf.set(new Uint8Array(sealed), at);
    });
  } catch (e) {
    buf.fill(0); // it still holds plaintext
    throw e;
  }
}

/**
 * Opens frame i of `buf`: ciphertext ‖ tag is the `len` + 16 bytes at starts[i], with
 * ivs[12i..] and aads[aadLen·i..]; its plaintext goes to out[len·i..len·(i+1)]. Resolves to
 * the index of the first frame whose tag did not verify, or -1 when every one did; the
 * plaintext of that frame and of those after it is not written.
 */
export async function openFrames(key, buf, ivs, aads, aadLen, starts, len, out) {
  let failed = starts.length;
  await inFlight(starts.length, async (i) => {
    if (i > failed) return;
    const at = starts[i];
    try {
      const plain = await subtle.decrypt(params(ivs, aads, aadLen, i), key, buf.subarray(at, at + len + 16));
      if (i < failed) out.set(new Uint8Array(plain), i * len);
    } catch {
      failed = Math.min(failed, i);
    }
  });
  // Frames after the first failure may have opened before it was known: wipe them.
  if (failed < starts.length) out.fill(0, failed * len);
  return failed < starts.length ? failed : -1;
}
