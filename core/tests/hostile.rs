//! Hostile messages: anyone with the users' public key can write a valid header, and anyone
//! with bucket access can plant bytes. Each case is fed whole and in 1- and 7-byte pieces;
//! the test checks what the decryptor allocated (an instrumented global allocator) and how
//! many bytes it took before refusing, not the wall clock.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

use std::alloc::System;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use cse_core::header::{ContentType, EncryptedDataKey, Header, parse_header};
use cse_core::stream::{DecryptingReader, EncryptingWriter};
use cse_core::{
    AlgorithmSuite, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext, Encryptor, Error,
    Keyring, Limit, RawAesKeyring, RawRsaKeyring, RsaPadding,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocation counts are process-wide: one case at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const PIECES: [usize; 3] = [usize::MAX, 1, 7];

fn aes() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "aes-256", &aes_key()).unwrap()
}

fn aes_key() -> Vec<u8> {
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("keys.json")).unwrap())
            .unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(keys["keys"]["aes-256"]["material"].as_str().unwrap())
        .unwrap()
}

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/esdk-python")
}

fn rsa_pems() -> &'static (String, String) {
    static PEMS: OnceLock<(String, String)> = OnceLock::new();
    PEMS.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        (
            k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
            k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        )
    })
}

fn rsa_private(padding: RsaPadding) -> RawRsaKeyring {
    RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
        .unwrap()
        .with_private_key(rsa_pems().1.as_bytes())
        .unwrap()
}

fn rsa_public(padding: RsaPadding) -> RawRsaKeyring {
    RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
        .unwrap()
        .with_public_key(rsa_pems().0.as_bytes())
        .unwrap()
}

/// What one feeding did.
struct Outcome {
    result: Result<(), Error>,
    /// Input bytes handed to the decryptor before it refused (or all of them).
    taken: u64,
    released: usize,
    /// Bytes allocated (in all, not at peak) while decrypting.
    allocated: usize,
}

/// Feeds `chunks` (the message, possibly endless) in pieces of `piece` bytes.
fn feed<K: Keyring>(
    keyring: K,
    config: DecryptConfig,
    chunks: impl Iterator<Item = Vec<u8>>,
    piece: usize,
) -> Outcome {
    let mut dec = Decryptor::new(keyring, config);
    let mut out = Vec::new();
    let mut taken = 0u64;
    let region = Region::new(GLOBAL);
    let mut result = Ok(());
    'feed: for chunk in chunks {
        for p in chunk.chunks(piece.min(chunk.len()).max(1)) {
            taken += p.len() as u64;
            if let Err(e) = dec.update(p, &mut out) {
                result = Err(e);
                break 'feed;
            }
        }
    }
    if result.is_ok() {
        result = dec.finish();
    }
    let allocated = region.change().bytes_allocated;
    Outcome {
        result,
        taken,
        released: out.len(),
        allocated,
    }
}

/// An endless stream: `head`, then `filler`-sized blocks of zeros, `blocks` times.
fn endless(head: Vec<u8>, blocks: usize) -> impl Iterator<Item = Vec<u8>> {
    std::iter::once(head).chain(std::iter::repeat_n(vec![0u8; 1 << 16], blocks))
}

/// A header of `n` data keys (not authenticated: it is refused before its tag matters).
fn many_keys_header(n: usize, provider_id: &str, info: &[u8], ct_len: usize) -> Vec<u8> {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let header = Header {
        suite,
        message_id: vec![7; suite.message_id_len()],
        encryption_context: EncryptionContext::new(),
        encrypted_data_keys: (0..n)
            .map(|i| EncryptedDataKey {
                provider_id: provider_id.into(),
                provider_info: info.to_vec(),
                ciphertext: (0..ct_len).map(|j| (i + j) as u8).collect(),
            })
            .collect(),
        content_type: ContentType::Framed,
        frame_length: 4096,
        commitment: Some([1; 32]),
    };
    let mut bytes = header.serialize_body().unwrap();
    bytes.extend_from_slice(&[0; 16]);
    bytes
}

fn shown(e: &Error) -> String {
    let s = e.to_string();
    assert!(s.len() < 4096, "error of {} bytes", s.len());
    assert!(
        !s.chars().any(|c| c.is_control()),
        "control character in: {s:?}"
    );
    s
}

#[test]
fn a_header_of_65535_keys_is_refused_at_the_count() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let msg = many_keys_header(65_535, "nobody", b"none", 40);
    assert!(msg.len() > 3_000_000);
    for piece in PIECES {
        let o = feed(
            aes(),
            DecryptConfig::default(),
            std::iter::once(msg.clone()),
            piece,
        );
        assert!(
            matches!(
                o.result,
                Err(Error::LimitExceeded {
                    limit: Limit::EncryptedDataKeys,
                    found: 65_535,
                    max: 16
                })
            ),
            "{:?}",
            o.result.err()
        );
        // The count sits at byte 74: nothing past it was needed, nothing was held.
        assert!(o.taken <= 80 || piece == usize::MAX, "took {}", o.taken);
        assert!(o.allocated < 16 << 10, "allocated {}", o.allocated);
        shown(&o.result.unwrap_err());
    }
}

#[test]
fn a_header_of_65535_keys_is_parsed_in_linear_time_when_allowed() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let msg = many_keys_header(65_535, "nobody", b"none", 40);
    let config = DecryptConfig {
        max_encrypted_data_keys: None,
        max_header_size: None,
        ..DecryptConfig::default()
    };
    for piece in PIECES {
        let o = feed(aes(), config.clone(), std::iter::once(msg.clone()), piece);
        let e = o.result.unwrap_err();
        assert!(matches!(e, Error::NoDecryptableKey { total: 65_535, .. }));
        // Each header byte is buffered once and parsed once: a re-parse per piece would
        // allocate the parsed keys again each time (hundreds of GB for 1-byte pieces).
        assert!(
            o.allocated < 8 * msg.len(),
            "piece {piece}: allocated {} for a {}-byte header",
            o.allocated,
            msg.len()
        );
        let s = shown(&e);
        assert!(s.contains("and 65530 more"), "{s}");
    }
}

#[test]
fn thousands_of_keys_for_our_name_cost_at_most_the_attempt_limit() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let msg = many_keys_header(6_000, "MyAppKeys", b"S3RSAKey", 256);
    let keyring = rsa_private(RsaPadding::OaepSha256);
    // With the defaults the count alone refuses it.
    let o = feed(
        &keyring,
        DecryptConfig::default(),
        std::iter::once(msg.clone()),
        7,
    );
    assert!(matches!(
        o.result,
        Err(Error::LimitExceeded {
            limit: Limit::EncryptedDataKeys,
            ..
        })
    ));
    // Allowed that many keys, the keyring stops after the attempt limit: 8 private-key
    // operations, not 6 000.
    let config = DecryptConfig {
        max_encrypted_data_keys: None,
        max_header_size: None,
        ..DecryptConfig::default()
    };
    for piece in PIECES {
        let o = feed(
            &keyring,
            config.clone(),
            std::iter::once(msg.clone()),
            piece,
        );
        let e = o.result.unwrap_err();
        assert!(
            matches!(
                e,
                Error::LimitExceeded {
                    limit: Limit::KeyAttempts,
                    found: 9,
                    max: 8
                }
            ),
            "{e}"
        );
        assert!(shown(&e).contains("max_key_attempts"));
    }
}

#[test]
fn control_bytes_in_key_names_never_reach_the_error_text() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let evil_id = "\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{1b}[1;1Hdownload: ok\r\u{202e}";
    let evil_info = b"\x1b[31mS3RSAKey\x1b[0m\x9b\x07";
    for n in [3, 6_000] {
        let msg = many_keys_header(n, evil_id, evil_info, 32);
        let config = DecryptConfig {
            max_encrypted_data_keys: None,
            ..DecryptConfig::default()
        };
        for piece in PIECES {
            let o = feed(aes(), config.clone(), std::iter::once(msg.clone()), piece);
            let e = o.result.unwrap_err();
            let s = shown(&e);
            assert!(s.contains("\\x1b]52"), "{s}");
            assert!(s.contains("\\u{202e}"), "{s}");
            if n > 5 {
                assert!(s.contains("and 5995 more"), "{s}");
            }
        }
    }
}

/// The header of a real message written with the public key alone, with frames of `frame`.
fn valid_header(frame: u32) -> Vec<u8> {
    let config = EncryptConfig {
        frame_length: frame,
        ..EncryptConfig::default()
    };
    let mut enc = Encryptor::new(&rsa_public(RsaPadding::OaepSha256), &config).unwrap();
    let n = enc.header_len();
    let mut out = Vec::new();
    enc.update(b"", &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn a_frame_length_of_2_pow_30_is_refused_after_the_header() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let head = valid_header(1 << 30);
    let keyring = rsa_private(RsaPadding::OaepSha256);
    for piece in PIECES {
        // 6.5 GB of "frame" would follow; the decryptor must stop at the header.
        let o = feed(
            &keyring,
            DecryptConfig::default(),
            endless(head.clone(), 100_000),
            piece,
        );
        assert!(
            matches!(
                o.result,
                Err(Error::LimitExceeded {
                    limit: Limit::FrameLength,
                    found: 1_073_741_824,
                    ..
                })
            ),
            "{:?}",
            o.result.err()
        );
        assert!(o.taken <= head.len() as u64 + (1 << 16), "took {}", o.taken);
        assert!(o.allocated < 1 << 20, "allocated {}", o.allocated);
        assert_eq!(o.released, 0);
        assert!(shown(&o.result.unwrap_err()).contains("max_frame_length"));
    }
}

#[test]
fn a_raised_frame_limit_bounds_what_is_held() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let frame = 4 << 20;
    let mut head = valid_header(frame);
    // Frame 1 begins; its 4 MiB never authenticate.
    head.extend_from_slice(&1u32.to_be_bytes());
    let keyring = rsa_private(RsaPadding::OaepSha256);
    let config = DecryptConfig {
        max_frame_length: Some(u64::from(frame)),
        ..DecryptConfig::default()
    };
    for piece in [usize::MAX, 4099] {
        let o = feed(
            &keyring,
            config.clone(),
            endless(head.clone(), 1_000),
            piece,
        );
        assert!(
            matches!(o.result, Err(Error::FrameAuthentication { sequence: 1 })),
            "{:?}",
            o.result.err()
        );
        // One frame buffered (with the growth of its buffer) and opened: a few frames' worth,
        // not the 65 MB that followed.
        assert!(
            o.allocated < 5 * frame as usize,
            "allocated {}",
            o.allocated
        );
        assert!(o.taken < 2 * u64::from(frame), "took {}", o.taken);
        assert_eq!(o.released, 0);
    }
}

#[test]
fn a_non_framed_body_of_2_pow_36_is_refused_at_its_length() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut msg =
        std::fs::read(vectors().join("ciphertexts/0478-aes-256-nonframed-s1-noec")).unwrap();
    let (header, body_len) = parse_header(&msg).unwrap();
    let len_at = body_len + header.auth_len() + 12;
    msg[len_at..len_at + 8].copy_from_slice(&((1u64 << 36) - 32).to_be_bytes());
    msg.truncate(len_at + 8);
    for piece in PIECES {
        let o = feed(
            aes(),
            DecryptConfig::default(),
            endless(msg.clone(), 10_000),
            piece,
        );
        assert!(
            matches!(
                o.result,
                Err(Error::LimitExceeded {
                    limit: Limit::NonFramedSize,
                    ..
                })
            ),
            "{:?}",
            o.result.err()
        );
        assert!(o.taken <= msg.len() as u64 + (1 << 16), "took {}", o.taken);
        assert!(o.allocated < 1 << 20, "allocated {}", o.allocated);
        assert!(shown(&o.result.unwrap_err()).contains("max_non_framed_size"));
    }
}

#[test]
fn every_rsa_unwrap_failure_reads_the_same() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let padding = RsaPadding::OaepSha256;
    let message = cse_core::encrypt(&rsa_public(padding), &EncryptConfig::default(), b"x").unwrap();
    let (header, _) = parse_header(&message).unwrap();
    let ct = &header.encrypted_data_keys[0].ciphertext;
    let at = message
        .windows(ct.len())
        .position(|w| w == &ct[..])
        .unwrap();
    let other = {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
            .unwrap()
            .with_private_key(k.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes())
            .unwrap()
    };
    let mut flipped = message.clone();
    flipped[at + 100] ^= 1;
    let mut zeroed = message.clone();
    zeroed[at..at + ct.len()].fill(0);
    let texts: Vec<String> = [
        (&other, &message),
        (&rsa_private(padding), &flipped),
        (&rsa_private(padding), &zeroed),
    ]
    .into_iter()
    .map(|(k, m)| {
        let e = cse_core::decrypt(k, DecryptConfig::default(), m).unwrap_err();
        assert!(matches!(e, Error::NoDecryptableKey { .. }), "{e}");
        e.to_string()
    })
    .collect();
    assert_eq!(texts[0], texts[1]);
    assert_eq!(texts[0], texts[2]);
    // The listing of what the message holds stays (it comes from the header).
    assert!(texts[0].contains("MyAppKeys/S3RSAKey"), "{}", texts[0]);
}

#[test]
fn failures_are_sticky() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A reader never reports end of file after a failure.
    let mut message = cse_core::encrypt(&aes(), &EncryptConfig::default(), &[5u8; 10_000]).unwrap();
    let n = message.len();
    message[n - 20] ^= 1;
    let mut reader = DecryptingReader::new(aes(), DecryptConfig::default(), &message[..]);
    let mut sink = Vec::new();
    assert!(std::io::Read::read_to_end(&mut reader, &mut sink).is_err());
    for _ in 0..3 {
        let mut buf = [0u8; 64];
        assert!(std::io::Read::read(&mut reader, &mut buf).is_err());
    }
    // A writer whose output failed never finishes a message.
    struct FailOnce(bool);
    impl std::io::Write for FailOnce {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if std::mem::replace(&mut self.0, false) {
                return Err(std::io::Error::other("disk full"));
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = EncryptingWriter::new(&aes(), &EncryptConfig::default(), FailOnce(true)).unwrap();
    assert!(std::io::Write::write(&mut w, &[1u8; 9000]).is_err());
    assert!(std::io::Write::write(&mut w, &[1u8; 10]).is_err());
    assert!(w.finish().is_err());
    // A decryptor refuses input after a failure.
    let mut dec = Decryptor::new(aes(), DecryptConfig::default());
    let mut out = Vec::new();
    assert!(dec.update(b"\x03garbage", &mut out).is_err());
    assert!(dec.update(&message, &mut out).is_err());
    assert!(dec.finish().is_err());
}

#[test]
fn honest_messages_pass_the_defaults_in_any_pieces() {
    let _g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The users' message: RSA-4096-style keyring (2048 here for speed), defaults everywhere.
    let padding = RsaPadding::OaepSha256;
    let plain: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
    let message =
        cse_core::encrypt(&rsa_public(padding), &EncryptConfig::default(), &plain).unwrap();
    let keyring = rsa_private(padding);
    for piece in PIECES {
        let o = feed(
            &keyring,
            DecryptConfig::default(),
            std::iter::once(message.clone()),
            piece,
        );
        assert!(o.result.is_ok(), "{:?}", o.result.err());
        assert_eq!(o.released, plain.len());
    }
}
