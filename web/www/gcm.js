// Frame AES-GCM through the browser's WebCrypto, for the wasm engine (imported by cse-web).
//
// This module only runs AES-GCM: cse-core lays out every frame and gives, for each, the IV,
// the AAD and where its bytes are; it orders the frames, hashes them for the signature and
// decides what plaintext is released. Nothing here knows the message format.
//
// A call hands all its frames to crypto.subtle at once (the browser runs them off this
// thread) before it returns its promise, so the caller's work until it waits for that
// promise overlaps them; the caller picks how many frames a call takes.

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

const params = (ivs, aads, aadLen, i) => ({
  name: 'AES-GCM',
  iv: ivs.subarray(i * 12, i * 12 + 12),
  additionalData: aads.subarray(i * aadLen, (i + 1) * aadLen),
  tagLength: 128,
});

/**
 * Seals frame i (i < starts.length): the `len` plaintext bytes at starts[i] of `view`, with
 * ivs[12i..12i+12] and aads[aadLen·i..aadLen·(i+1)]. Every frame is handed to WebCrypto
 * before this returns (WebCrypto copies its input then), so `view` may be a view of the
 * wasm memory, used only during this call. Resolves to the ciphertext ‖ tag of each frame
 * (ArrayBuffers of len + 16 bytes, in order).
 */
export function sealFrames(key, view, ivs, aads, aadLen, starts, len) {
  return Promise.all(Array.from(starts, (at, i) =>
    subtle.encrypt(params(ivs, aads, aadLen, i), key, view.subarray(at, at + len))));
}

/**
 * Opens frame i: ciphertext ‖ tag is the `len` + 16 bytes at starts[i] of `view`, with
 * ivs[12i..] and aads[aadLen·i..]. As for sealFrames, every frame is handed over before
 * this returns. Resolves to each frame's plaintext (an ArrayBuffer of `len` bytes), or null
 * for a frame whose tag did not verify.
 */
export function openFrames(key, view, ivs, aads, aadLen, starts, len) {
  const opening = Array.from(starts, (at, i) => subtle.decrypt(params(ivs, aads, aadLen, i), key, view.subarray(at, at + len + 16)));
  // One settlement for the run, rather than a rejection handler per frame.
  return Promise.allSettled(opening).then((all) => all.map((r) => (r.status === 'fulfilled' ? r.value : null)));
}
