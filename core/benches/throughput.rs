//! `cargo bench -p cse-core`: in-memory streaming throughput of the engine for suites 0x0578
//! and 0x0478 under each crypto provider of the build (64 MiB, 4 KiB frames, raw AES keyring
//! so the key wrap does not count).
//! `bench/run.sh` compares the same engine with the official Python SDK and OpenSSL.

use std::time::Instant;

use cse_core::crypto::CryptoProvider;
use cse_core::{AlgorithmSuite, DecryptConfig, Decryptor, EncryptConfig, Encryptor, RawAesKeyring};

const SIZE: usize = 64 << 20;
const PIECE: usize = 1 << 20;

fn main() {
    let keyring = RawAesKeyring::new("bench", "aes-256", &[9u8; 32]).expect("keyring");
    let mut plaintext = vec![0u8; SIZE];
    cse_core::crypto::fill_random(&mut plaintext).expect("random");
    for (provider, suite) in CryptoProvider::all().iter().flat_map(|p| {
        [
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        ]
        .map(|s| (*p, s))
    }) {
        let config = EncryptConfig {
            suite: Some(suite),
            provider,
            ..EncryptConfig::default()
        };
        let dconfig = DecryptConfig {
            provider,
            ..DecryptConfig::default()
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
            let mut dec = Decryptor::new(&keyring, dconfig.clone());
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
            "{:>6} suite {:#06x}: encrypt {:7.0} MB/s, decrypt {:7.0} MB/s (64 MiB, best of 3)",
            provider.name(),
            suite.id(),
            mbs(best_enc),
            mbs(best_dec)
        );
    }
    sha384(&plaintext);
}

/// SHA-384 alone over the same 64 MiB on one core, as each provider computes it (compare with
/// `openssl speed -evp sha384`): the bound of suite 0x0578.
fn sha384(data: &[u8]) {
    let best = |f: &dyn Fn() -> Vec<u8>| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let rust = best(&|| {
        use sha2::Digest;
        let mut h = sha2::Sha384::new();
        for p in data.chunks(PIECE) {
            h.update(p);
        }
        h.finalize().to_vec()
    });
    println!("  rust sha384: {:7.0} MB/s", data.len() as f64 / rust / 1e6);
    #[cfg(feature = "aws-lc")]
    {
        let lc = best(&|| {
            let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA384);
            for p in data.chunks(PIECE) {
                h.update(p);
            }
            h.finish().as_ref().to_vec()
        });
        println!("aws-lc sha384: {:7.0} MB/s", data.len() as f64 / lc / 1e6);
    }
}
