//! `cargo bench -p cse-core`: in-memory streaming throughput of the engine for suites 0x0578
//! and 0x0478 (64 MiB, 4 KiB frames, raw AES keyring so the key wrap does not count).
//! `bench/run.sh` compares the same engine with the official Python SDK and OpenSSL.

use std::time::Instant;

use cse_core::{AlgorithmSuite, DecryptConfig, Decryptor, EncryptConfig, Encryptor, RawAesKeyring};

const SIZE: usize = 64 << 20;
const PIECE: usize = 1 << 20;

fn main() {
    let keyring = RawAesKeyring::new("bench", "aes-256", &[9u8; 32]).expect("keyring");
    let mut plaintext = vec![0u8; SIZE];
    cse_core::crypto::fill_random(&mut plaintext).expect("random");
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    ] {
        let config = EncryptConfig {
            suite: Some(suite),
            ..EncryptConfig::default()
        };
        let mut best_enc = f64::MAX;
        let mut best_dec = f64::MAX;
        let mut message = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let mut enc = Encryptor::new(&keyring, &config).expect("encryptor");
            let mut out = Vec::with_capacity(PIECE + 4096);
            message.clear();
            for p in plaintext.chunks(PIECE) {
                out.clear();
                enc.update(p, &mut out).expect("update");
                message.extend_from_slice(&out);
            }
            enc.finish(&mut message).expect("finish");
            best_enc = best_enc.min(t.elapsed().as_secs_f64());

            let t = Instant::now();
            let mut dec = Decryptor::new(&keyring, DecryptConfig::default());
            let mut out = Vec::with_capacity(PIECE + 4096);
            let mut n = 0;
            for p in message.chunks(PIECE) {
                out.clear();
                dec.update(p, &mut out).expect("decrypt");
                n += out.len();
            }
            dec.finish().expect("finish");
            assert_eq!(n, SIZE);
            best_dec = best_dec.min(t.elapsed().as_secs_f64());
        }
        let mbs = |s: f64| SIZE as f64 / s / 1e6;
        println!(
            "suite {:#06x}: encrypt {:7.0} MB/s, decrypt {:7.0} MB/s (64 MiB, best of 3)",
            suite.id(),
            mbs(best_enc),
            mbs(best_dec)
        );
    }
}
