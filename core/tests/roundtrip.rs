//! Property tests: round trips over sizes, frame lengths, suites and read patterns, and
//! tampering/truncation that must never release unauthenticated plaintext.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

use cse_core::crypto::CryptoProvider;
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext,
    Encryptor, Error, RawAesKeyring, framed_message_len,
};
use proptest::prelude::*;

mod common;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "prop", &[0x42; 32]).unwrap()
}

fn encrypt_in_pieces(config: &EncryptConfig, plaintext: &[u8], piece: usize) -> (Vec<u8>, u64) {
    let mut enc = Encryptor::new(&keyring(), config).unwrap();
    let predicted = enc.message_len(plaintext.len() as u64);
    let mut out = Vec::new();
    for p in plaintext.chunks(piece.max(1)) {
        enc.update(p, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    (out, predicted)
}

fn decrypt_in_pieces(message: &[u8], piece: usize) -> (Vec<u8>, Result<(), Error>) {
    decrypt_with(CryptoProvider::default(), message, piece)
}

fn decrypt_with(
    provider: CryptoProvider,
    message: &[u8],
    piece: usize,
) -> (Vec<u8>, Result<(), Error>) {
    let config = DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        provider,
        ..Default::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
    let mut out = Vec::new();
    for p in message.chunks(piece.max(1)) {
        if let Err(e) = dec.update(p, &mut out) {
            return (out, Err(e));
        }
    }
    let r = dec.finish();
    (out, r)
}

fn arb_context() -> impl Strategy<Value = EncryptionContext> {
    proptest::collection::btree_map("[a-zé雪]{1,6}", "\\PC{0,8}", 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn round_trip(
        suite in proptest::sample::select(AlgorithmSuite::ALL.to_vec()),
        frame_length in 1u32..3000,
        plaintext in proptest::collection::vec(any::<u8>(), 0..9000),
        enc_piece in 1usize..5000,
        dec_piece in 1usize..5000,
        ctx in arb_context(),
        providers in (0usize..8, 0usize..8),
    ) {
        // Written by one provider, read by another (each of this build's providers).
        let all = CryptoProvider::all();
        let (writer, reader) = (all[providers.0 % all.len()], all[providers.1 % all.len()]);
        let config = EncryptConfig {
            encryption_context: ctx.clone(),
            provider: writer,
            ..common::writing(suite, frame_length)
        };
        let (message, predicted) = encrypt_in_pieces(&config, &plaintext, enc_piece);
        prop_assert_eq!(message.len() as u64, predicted);
        let (out, r) = decrypt_with(reader, &message, dec_piece);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert_eq!(&out, &plaintext);
        // The same message read in one piece gives the same result.
        let (one, r1) = decrypt_in_pieces(&message, message.len());
        prop_assert!(r1.is_ok());
        prop_assert_eq!(one, plaintext);
    }

    #[test]
    fn tampering_never_releases_unauthenticated_plaintext(
        suite in proptest::sample::select(AlgorithmSuite::ALL.to_vec()),
        frame_length in 16u32..600,
        plaintext in proptest::collection::vec(any::<u8>(), 0..3000),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        dec_piece in 1usize..700,
    ) {
        let config = common::writing(suite, frame_length);
        let (mut message, _) = encrypt_in_pieces(&config, &plaintext, 1 << 20);
        let at = flip.index(message.len());
        message[at] ^= 1 << bit;
        let (out, r) = decrypt_in_pieces(&message, dec_piece);
        prop_assert!(r.is_err(), "a flipped bit at {} decrypted", at);
        // Whatever was released is a prefix of the true plaintext made of whole frames
        // that precede the damage, never the final frame of a signed message.
        prop_assert!(plaintext.starts_with(&out));
        prop_assert_eq!(out.len() % frame_length as usize, 0);
        if suite.is_signed() {
            prop_assert!(out.len() < plaintext.len() || plaintext.is_empty() && out.is_empty());
        }
    }

    #[test]
    fn truncation_is_an_error(
        suite in proptest::sample::select(AlgorithmSuite::ALL.to_vec()),
        plaintext in proptest::collection::vec(any::<u8>(), 0..3000),
        cut in any::<prop::sample::Index>(),
        dec_piece in 1usize..700,
    ) {
        let config = common::writing(suite, 512);
        let (message, _) = encrypt_in_pieces(&config, &plaintext, 1 << 20);
        let cut = cut.index(message.len());
        let (out, r) = decrypt_in_pieces(&message[..cut], dec_piece);
        prop_assert!(matches!(r, Err(Error::Truncated)), "{:?}", r);
        prop_assert!(plaintext.starts_with(&out));
        prop_assert!(out.len() < plaintext.len() || plaintext.is_empty());
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let (mut message, _) = encrypt_in_pieces(&EncryptConfig::default(), b"abc", 3);
    message.push(0);
    let (_, r) = decrypt_in_pieces(&message, 1);
    assert!(matches!(r, Err(Error::TrailingData)), "{r:?}");
}

#[test]
fn exact_multiple_ends_with_empty_final_frame() {
    let config = EncryptConfig {
        frame_length: 64,
        suite: Some(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        ..Default::default()
    };
    let (message, _) = encrypt_in_pieces(&config, &[7u8; 128], 50);
    // Last 16 bytes are the tag of the empty final frame, preceded by its zero length.
    let n = message.len();
    assert_eq!(&message[n - 16 - 4..n - 16], &[0, 0, 0, 0]);
    assert_eq!(
        &message[n - 16 - 4 - 12 - 4 - 4..n - 16 - 4 - 12 - 4],
        &[0xff; 4]
    );
}

#[test]
fn default_matches_the_official_python_sdk() {
    let enc = Encryptor::new(&keyring(), &EncryptConfig::default()).unwrap();
    let h = enc.header();
    assert_eq!(h.suite.id(), 0x0578);
    assert_eq!(h.frame_length, 4096);
    assert_eq!(h.version(), 2);
    assert!(h.encryption_context.contains_key("aws-crypto-public-key"));
    // Non-committing suites are refused under the default policy, both ways.
    let config = EncryptConfig {
        suite: Some(AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384),
        ..Default::default()
    };
    assert!(matches!(
        Encryptor::new(&keyring(), &config),
        Err(Error::PolicyForbidsSuite { .. })
    ));
}

#[test]
fn refuse_signed_and_policy_on_decrypt() {
    let (message, _) = encrypt_in_pieces(&EncryptConfig::default(), b"signed", 6);
    let config = DecryptConfig {
        refuse_signed: true,
        ..Default::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
    let mut out = Vec::new();
    assert!(matches!(
        dec.update(&message[..4], &mut out),
        Err(Error::SignedMessageRefused(_))
    ));
    let legacy = EncryptConfig {
        commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ..Default::default()
    };
    let (message, _) = encrypt_in_pieces(&legacy, b"x", 1);
    let mut dec = Decryptor::new(keyring(), DecryptConfig::default());
    assert!(matches!(
        dec.update(&message, &mut out),
        Err(Error::PolicyForbidsSuite { .. })
    ));
}

#[test]
fn required_and_expected_context() {
    let mut ctx = EncryptionContext::new();
    ctx.insert("tenant".into(), "a".into());
    ctx.insert("project".into(), "b".into());
    let config = EncryptConfig {
        encryption_context: ctx.clone(),
        required_context_keys: ["project".to_string()].into_iter().collect(),
        ..Default::default()
    };
    let (message, _) = encrypt_in_pieces(&config, b"data", 4);
    let run = |expect: &[(&str, &str)]| {
        let config = DecryptConfig {
            encryption_context: expect
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        cse_core::decrypt(keyring(), config, &message)
    };
    let (pt, header) = run(&[("project", "b")]).unwrap();
    assert_eq!(pt, b"data");
    assert!(!header.encryption_context.contains_key("project"));
    assert!(run(&[]).is_err(), "the required key must be supplied");
    // A wrong value for a required key: the AES keyring's AAD no longer matches.
    assert!(run(&[("project", "c")]).is_err());
    assert!(matches!(
        run(&[("project", "b"), ("tenant", "z")]),
        Err(Error::EncryptionContext(_))
    ));
    assert!(run(&[("project", "b"), ("tenant", "a")]).is_ok());
}

#[test]
fn max_encrypted_data_keys() {
    let (message, _) = encrypt_in_pieces(&EncryptConfig::default(), b"x", 1);
    let config = DecryptConfig {
        max_encrypted_data_keys: Some(1),
        ..Default::default()
    };
    assert!(cse_core::decrypt(keyring(), config, &message).is_ok());
    let two = cse_core::MultiKeyring::new(
        Some(Box::new(keyring())),
        vec![Box::new(
            RawAesKeyring::new("MyAppKeys", "second", &[1; 16]).unwrap(),
        )],
    )
    .unwrap();
    let message = cse_core::encrypt(&two, &EncryptConfig::default(), b"x").unwrap();
    let config = DecryptConfig {
        max_encrypted_data_keys: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        cse_core::decrypt(keyring(), config, &message),
        Err(Error::LimitExceeded {
            limit: cse_core::Limit::EncryptedDataKeys,
            found: 2,
            max: 1
        })
    ));
    let config = EncryptConfig {
        max_encrypted_data_keys: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        cse_core::encrypt(&two, &config, b"x"),
        Err(Error::TooManyEncryptedDataKeys { .. })
    ));
    // The child alone can read the two-key message.
    let child = RawAesKeyring::new("MyAppKeys", "second", &[1; 16]).unwrap();
    assert_eq!(
        cse_core::decrypt(child, DecryptConfig::default(), &message)
            .unwrap()
            .0,
        b"x"
    );
}

#[test]
fn lengths_read_back_from_a_message_without_its_key() {
    for suite in AlgorithmSuite::ALL {
        let config = EncryptConfig {
            commitment_policy: common::policy_for(*suite),
            suite: Some(*suite),
            frame_length: 100,
            ..Default::default()
        };
        for n in [0usize, 1, 99, 100, 101, 1000, 1234] {
            let (m, _) = encrypt_in_pieces(&config, &vec![1u8; n], 77);
            let (header, body_start) = cse_core::header::parse_header(&m).unwrap();
            let header_len = body_start + header.auth_len();
            let footer = if suite.is_signed() {
                cse_core::footer_len_from_tail(&m[m.len() - 140.min(m.len())..]).unwrap()
            } else {
                0
            };
            let body = (m.len() - header_len - footer) as u64;
            assert_eq!(
                cse_core::framed_plaintext_len(100, body),
                Some(n as u64),
                "{suite} {n}"
            );
        }
    }
    // A length no frame layout has.
    assert_eq!(cse_core::framed_plaintext_len(100, 10), None);
    assert_eq!(cse_core::framed_plaintext_len(100, 40 + 132 + 120), None);
}

#[test]
fn length_function_matches_for_every_suite() {
    for suite in AlgorithmSuite::ALL {
        let config = EncryptConfig {
            commitment_policy: common::policy_for(*suite),
            suite: Some(*suite),
            frame_length: 100,
            ..Default::default()
        };
        for n in [0usize, 1, 99, 100, 101, 1000] {
            let (m, predicted) = encrypt_in_pieces(&config, &vec![1u8; n], 33);
            assert_eq!(m.len() as u64, predicted);
            let enc = Encryptor::new(&keyring(), &config).unwrap();
            assert_eq!(
                framed_message_len(enc.header_len() as u64, *suite, 100, n as u64),
                enc.message_len(n as u64)
            );
        }
    }
}

#[test]
fn header_size_limit_applies_however_the_header_arrives() {
    let (message, _) = encrypt_in_pieces(&EncryptConfig::default(), b"x", 1);
    let header_len = Encryptor::new(&keyring(), &EncryptConfig::default())
        .unwrap()
        .header_len();
    for piece in [1, message.len()] {
        let config = DecryptConfig {
            max_header_size: Some(header_len - 1),
            ..Default::default()
        };
        let mut dec = Decryptor::new(keyring(), config);
        let mut out = Vec::new();
        let mut r = Ok(());
        for p in message.chunks(piece) {
            r = dec.update(p, &mut out);
            if r.is_err() {
                break;
            }
        }
        assert!(
            matches!(
                r,
                Err(Error::LimitExceeded {
                    limit: cse_core::Limit::HeaderSize,
                    ..
                })
            ),
            "piece {piece}: {r:?}"
        );
        assert!(out.is_empty());
        let config = DecryptConfig {
            max_header_size: Some(header_len),
            ..Default::default()
        };
        assert!(cse_core::decrypt(keyring(), config, &message).is_ok());
    }
}

/// A signed message whose plaintext fills its last regular frame ends with an empty final
/// frame: the last regular frame is then what stays held until the signature verifies, so a
/// bad signature never leaves the whole plaintext released (whole, or in small pieces).
#[test]
fn a_bad_signature_after_an_empty_final_frame_keeps_the_last_frame_back() {
    for suite in AlgorithmSuite::ALL.iter().filter(|s| s.is_signed()) {
        let config = EncryptConfig {
            commitment_policy: common::policy_for(*suite),
            suite: Some(*suite),
            frame_length: 64,
            ..Default::default()
        };
        let plaintext = [9u8; 64 * 5];
        let (mut message, _) = encrypt_in_pieces(&config, &plaintext, 100);
        let n = message.len();
        message[n - 1] ^= 1;
        for piece in [1, 7, 64 + 32, 1 << 20] {
            let (out, r) = decrypt_in_pieces(&message, piece);
            assert!(r.is_err(), "{suite} in pieces of {piece}");
            assert_eq!(out, plaintext[..64 * 4], "{suite} in pieces of {piece}");
        }
    }
}
