//! `Encryptor::resume`: a message written again from its `ResumeSecret` is the same message up
//! to its signature, so a prefix stored by one run and the rest written by another decrypt as
//! one message; a secret that does not match its header is refused.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

mod common;

use cse_core::crypto::CryptoProvider;
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext,
    Encryptor, Error, RawAesKeyring, ResumeSecret,
};

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "resume", &[0x24; 32]).unwrap()
}

fn config(suite: AlgorithmSuite) -> EncryptConfig {
    let mut context = EncryptionContext::new();
    context.insert("purpose".into(), "resume".into());
    EncryptConfig {
        encryption_context: context,
        required_context_keys: ["purpose".to_string()].into(),
        ..common::writing(suite, 1000)
    }
}

fn run(mut enc: Encryptor, plaintext: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for p in plaintext.chunks(piece) {
        enc.update(p, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    out
}

fn decrypt(message: &[u8]) -> Result<Vec<u8>, Error> {
    let mut required = EncryptionContext::new();
    required.insert("purpose".into(), "resume".into());
    let config = DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        encryption_context: required,
        ..Default::default()
    };
    let mut dec = Decryptor::new(keyring(), config);
    let mut out = Vec::new();
    dec.update(message, &mut out)?;
    dec.finish()?;
    Ok(out)
}

fn plaintext() -> Vec<u8> {
    (0..10_500u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_resumed_message_is_the_same_up_to_its_signature_and_splices_at_any_byte() {
    let data = plaintext();
    for &suite in AlgorithmSuite::ALL {
        for provider in CryptoProvider::all() {
            let (enc, secret) = Encryptor::new_resumable(&keyring(), &config(suite)).unwrap();
            let first = run(enc, &data, 4096);
            let again = run(Encryptor::resume(&secret, *provider).unwrap(), &data, 333);
            let body =
                common::assert_same_up_to_signature(&first, &again, suite, &suite.to_string());
            assert_eq!(decrypt(&again).unwrap(), data, "{suite}");
            // The first run stored a prefix; the second wrote the rest.
            for cut in [0, 1, 17, 1000, body / 2, body, first.len()] {
                let mut spliced = first[..cut].to_vec();
                spliced.extend_from_slice(&again[cut..]);
                assert_eq!(decrypt(&spliced).unwrap(), data, "{suite} cut at {cut}");
            }
        }
    }
}

#[test]
fn a_secret_that_does_not_match_its_header_is_refused() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let (_, secret) = Encryptor::new_resumable(&keyring(), &config(suite)).unwrap();
    let (_, other) = Encryptor::new_resumable(&keyring(), &config(suite)).unwrap();
    let refused = |s: &ResumeSecret| match Encryptor::resume(s, CryptoProvider::default()) {
        Err(Error::Config(m)) => m,
        other => panic!("accepted: {other:?}"),
    };

    let mut s = secret.clone();
    s.data_key[0] ^= 1;
    assert!(refused(&s).contains("data key"), "{}", refused(&s));

    let mut s = secret.clone();
    s.signing_key.clone_from(&other.signing_key);
    assert!(refused(&s).contains("signing key"), "{}", refused(&s));

    let mut s = secret.clone();
    s.signing_key = None;
    assert!(refused(&s).contains("signing key"), "{}", refused(&s));

    let mut s = secret.clone();
    s.required_context.clear();
    assert!(refused(&s).contains("tag"), "{}", refused(&s));

    // Every byte of the header matters: a change is refused, never a different message.
    for i in 0..secret.header.len() {
        let mut s = secret.clone();
        s.header[i] ^= 0x01;
        let _ = refused(&s);
    }
    let mut s = secret.clone();
    s.header.push(0);
    let _ = refused(&s);
    s.header.truncate(10);
    let _ = refused(&s);
}

#[test]
fn an_unsigned_secret_with_a_signing_key_is_refused() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let (_, mut secret) = Encryptor::new_resumable(&keyring(), &config(suite)).unwrap();
    assert!(secret.signing_key.is_none());
    secret.signing_key = Some(vec![1u8; 48].into());
    assert!(matches!(
        Encryptor::resume(&secret, CryptoProvider::default()),
        Err(Error::Config(_))
    ));
}
