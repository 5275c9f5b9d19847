//! Decryption of arbitrary bytes fed in arbitrary pieces, with the raw AES-256 key of the
//! committed test vectors (so `vectors/esdk-python/ciphertexts/*aes-256*` are good seeds).
//! Never panics; fed whole or in random pieces it gives the same verdict and plaintext.
//! `fuzz/seeds/decrypt/` adds headers with hundreds of data keys (made by `make_seeds.py`).
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use cse_core::{CommitmentPolicy, DecryptConfig, Decryptor, RawAesKeyring};
use libfuzzer_sys::fuzz_target;

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
    let mut x = data
        .iter()
        .take(8)
        .fold(data.len() as u64 | 1, |a, b| a.rotate_left(8) ^ u64::from(*b))
        | 1;
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

/// Decrypts `data` fed in the given piece sizes; returns the released plaintext and whether
/// the whole message verified.
fn run(data: &[u8], mut sizes: impl Iterator<Item = usize>) -> (Vec<u8>, bool) {
    let config = DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..DecryptConfig::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
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

fuzz_target!(|data: &[u8]| {
    let (whole, ok) = run(data, std::iter::once(data.len().max(1)));
    let (pieces, ok2) = run(data, pieces(data));
    assert_eq!(ok, ok2);
    if ok {
        assert_eq!(whole, pieces);
    } else {
        // What a failed run released is a prefix of what the other released.
        let n = whole.len().min(pieces.len());
        assert_eq!(whole[..n], pieces[..n]);
    }
});
