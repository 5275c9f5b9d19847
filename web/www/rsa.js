// The data key's RSA-OAEP unwrap through the browser's WebCrypto, for the wasm engine
// (imported by cse-web). cse-core picks which encrypted data keys to try and checks the key
// that comes back against the message header; this module only runs the private-key
// operation, natively and off this thread, instead of in wasm.

const subtle = globalThis.crypto && globalThis.crypto.subtle;

/**
 * A non-extractable RSA-OAEP private key from `pkcs8` (DER) with OAEP's `hash` ('SHA-1',
 * 'SHA-256', 'SHA-384' or 'SHA-512'), or null where WebCrypto is missing or refuses the key.
 * `pkcs8` is zeroed once WebCrypto has taken its copy, whether the import worked or not.
 */
export async function importUnwrapKey(pkcs8, hash) {
  try {
    if (!subtle) return null;
    return await subtle.importKey('pkcs8', pkcs8, { name: 'RSA-OAEP', hash }, false, ['decrypt']);
  } catch {
    return null;
  } finally {
    pkcs8.fill(0);
  }
}

/** The plaintext of `ciphertext` (a Uint8Array of RSA-OAEP), or null when it does not unwrap. */
export async function unwrap(key, ciphertext) {
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP' }, key, ciphertext));
  } catch {
    return null;
  }
}
