//! Decryption of arbitrary bytes fed in arbitrary pieces, with the raw AES-256 key of the
//! committed test vectors (so `vectors/esdk-python/ciphertexts/*aes-256*` are good seeds).
//! Never panics; any success is deterministic across piece sizes.
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

fn run(data: &[u8], piece: usize) -> (Vec<u8>, bool) {
    let config = DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        max_body_size: Some(1 << 20),
        ..DecryptConfig::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
    let mut out = Vec::new();
    for p in data.chunks(piece) {
        if dec.update(p, &mut out).is_err() {
            return (out, false);
        }
    }
    let ok = dec.finish().is_ok();
    (out, ok)
}

fuzz_target!(|data: &[u8]| {
    let (whole, ok) = run(data, data.len().max(1));
    let (pieces, ok2) = run(data, data.len() % 97 + 1);
    assert_eq!(ok, ok2);
    if ok {
        assert_eq!(whole, pieces);
    }
});
