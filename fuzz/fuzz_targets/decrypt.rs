//! Decryption of arbitrary bytes fed in arbitrary pieces, with the raw AES-256 key of the
//! committed test vectors (so `vectors/esdk-python/ciphertexts/*aes-256*` are good seeds).
//! Never panics; fed whole or in random pieces it gives the same verdict and plaintext.
//! `fuzz/seeds/decrypt/` adds headers with hundreds of data keys (made by `make_seeds.py`).
//! A third run takes the page's path: the data key unwrapped outside the decryptor, runs of
//! frames handed out, the signature hash computed outside; its verdict and plaintext must be
//! the same.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use cse_core::keyring::DecryptionMaterials;
use cse_core::{CommitmentPolicy, DecryptConfig, Decryptor, Deferred, Keyring, RawAesKeyring};
use libfuzzer_sys::fuzz_target;
use sha2::Digest;

fn keyring() -> &'static RawAesKeyring {
    static K: OnceLock<RawAesKeyring> = OnceLock::new();
    K.get_or_init(|| {
        let keys: serde_json::Value =
            serde_json::from_str(include_str!("../../vectors/esdk-python/keys.json"))
                .expect("keys.json");
        let b64 = keys["keys"]["aes-256"]["material"]
            .as_str()
            .expect("aes-256 key");
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        RawAesKeyring::new("MyAppKeys", "aes-256", &key).expect("keyring")
    })
}

/// Piece sizes drawn from the input itself (a small xorshift seeded by its length and first
/// bytes), between 1 and 4 099 bytes, so every run splits headers and frames differently.
fn pieces(data: &[u8]) -> impl Iterator<Item = usize> {
    let mut x = data.iter().take(8).fold(data.len() as u64 | 1, |a, b| {
        a.rotate_left(8) ^ u64::from(*b)
    }) | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(match x % 4 {
            0 => 1,
            1 => (x >> 8) as usize % 8 + 1,
            2 => (x >> 8) as usize % 300 + 1,
            _ => (x >> 8) as usize % 4099 + 1,
        })
    })
}

fn config() -> DecryptConfig {
    DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..DecryptConfig::default()
    }
}

/// Decrypts `data` fed in the given piece sizes; returns the released plaintext and whether
/// the whole message verified.
fn run(data: &[u8], mut sizes: impl Iterator<Item = usize>) -> (Vec<u8>, bool) {
    let mut dec = Decryptor::new(keyring(), config());
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).min(rest.len());
        let (p, tail) = rest.split_at(n);
        rest = tail;
        if dec.update(p, &mut out).is_err() {
            return (out, false);
        }
        // Only authenticated plaintext leaves, and never more than came in.
        assert!(out.len() <= data.len());
    }
    let ok = dec.finish().is_ok();
    (out, ok)
}

/// As `run`, on the page's path: `update_deferred` with runs opened by `open_deferred`, the
/// data key unwrapped outside (by the same keyring, data key by data key, within the attempt
/// limit) and the signature hash computed here from the bytes handed out.
fn run_outside(data: &[u8], mut sizes: impl Iterator<Item = usize>) -> (Vec<u8>, bool) {
    let mut dec = Decryptor::new(keyring(), config()).unwrap_outside();
    let (mut out, mut taken, mut run) = (Vec::new(), Vec::new(), Deferred::new(8));
    let mut rest = data;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).min(rest.len());
        let (mut input, tail) = rest.split_at(n);
        rest = tail;
        loop {
            let Ok(used) = dec.update_deferred(input, &mut out, &mut run) else {
                return (out, false);
            };
            input = &input[used..];
            dec.take_hash_input(|b| taken.extend_from_slice(b));
            if let Some(req) = dec.awaiting_key() {
                let key = req
                    .header
                    .encrypted_data_keys
                    .iter()
                    .take(req.max_attempts.unwrap_or(usize::MAX))
                    .find_map(|edk| {
                        let context = req.header.encryption_context.clone();
                        let mut m = DecryptionMaterials::new(req.header.suite, context);
                        keyring()
                            .on_decrypt(&mut m, std::slice::from_ref(edk))
                            .ok()?;
                        m.data_key
                    });
                if dec.hash_outside().is_err() || dec.supply_key(key).is_err() {
                    return (out, false);
                }
                continue;
            }
            if run.count() == 0 {
                break;
            }
            if dec.open_deferred(&mut run, &mut out).is_err() {
                return (out, false);
            }
        }
        assert!(out.len() <= data.len());
    }
    if dec.awaiting_digest() {
        dec.take_hash_input(|b| taken.extend_from_slice(b));
        let len = dec
            .header()
            .and_then(|h| h.suite.signature())
            .map(|a| a.digest_len());
        let digest = match len {
            Some(32) => sha2::Sha256::digest(&taken).to_vec(),
            _ => sha2::Sha384::digest(&taken).to_vec(),
        };
        if dec.supply_digest(&digest, &mut out).is_err() {
            return (out, false);
        }
    }
    let ok = dec.finish().is_ok();
    (out, ok)
}

/// The same verdict, and plaintext that agrees: all of it when both verified, else what a
/// failed run released is a prefix of what the other released.
fn agree(a: &(Vec<u8>, bool), b: &(Vec<u8>, bool)) {
    assert_eq!(a.1, b.1);
    if a.1 {
        assert_eq!(a.0, b.0);
    } else {
        let n = a.0.len().min(b.0.len());
        assert_eq!(a.0[..n], b.0[..n]);
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, std::iter::once(data.len().max(1)));
    agree(&whole, &run(data, pieces(data)));
    agree(&whole, &run_outside(data, pieces(data)));
});
