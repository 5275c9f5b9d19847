//! `Decryptor::unwrap_outside` / `awaiting_key` / `supply_key`: the data key unwrapped outside
//! the keyring (as the page does with WebCrypto's RSA-OAEP). The decryptor stops right after
//! the header, releases nothing before the key, checks a supplied key exactly as a keyring's
//! (a wrong key fails on the commitment or the header tag, with nothing released), falls back
//! to its keyring when given none, and gives the same plaintext as the normal path whatever
//! pieces the message arrives in, through `update` or `update_deferred`.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

mod common;

use cse_core::keyring::{DataKey, DecryptionMaterials};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, Deferred, EncryptConfig, Encryptor,
    Error, Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding,
};

const FRAME: u32 = 64;

fn keyring(name: &str) -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", name, &[0x44; 32]).unwrap()
}

fn encrypt_with(k: &dyn Keyring, suite: AlgorithmSuite, data: &[u8]) -> Vec<u8> {
    let config = common::writing(suite, FRAME);
    let mut enc = Encryptor::new(k, &config).unwrap();
    let mut out = Vec::new();
    enc.update(data, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    out
}

fn encrypt(suite: AlgorithmSuite, data: &[u8]) -> Vec<u8> {
    encrypt_with(&keyring("outside"), suite, data)
}

fn config() -> DecryptConfig {
    DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..Default::default()
    }
}

/// How the test plays the outside unwrapper.
#[derive(Clone, Copy, Debug)]
enum Outside {
    /// Unwraps the data key with the right keyring.
    Right,
    /// Supplies nothing: the decryptor's keyring unwraps.
    Fallback,
    /// Supplies a key of the right length that is not the message's.
    Wrong,
}

/// The data key, unwrapped by a keyring outside the decryptor.
fn unwrap(dec: &Decryptor<RawAesKeyring>) -> Option<DataKey> {
    let req = dec.awaiting_key().unwrap();
    let context = req.header.encryption_context.clone();
    let mut m = DecryptionMaterials::new(req.header.suite, context);
    keyring("outside")
        .on_decrypt(&mut m, &req.header.encrypted_data_keys)
        .ok()?;
    m.data_key
}

fn supply(dec: &mut Decryptor<RawAesKeyring>, how: Outside) -> Result<(), Error> {
    let key = match how {
        Outside::Right => Some(unwrap(dec).unwrap()),
        Outside::Fallback => None,
        Outside::Wrong => {
            let len = dec.awaiting_key().unwrap().data_key_len();
            Some(DataKey::new(vec![0x5a; len]))
        }
    };
    dec.supply_key(key)
}

/// Decrypts `message` fed in pieces of `piece` bytes with `update`, supplying the key as
/// `how` says when it is awaited; what was released and how it ended.
fn through_update(message: &[u8], piece: usize, how: Outside) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(keyring("outside"), config()).unwrap_outside();
    let mut out = Vec::new();
    for p in message.chunks(piece) {
        if let Err(e) = dec.update(p, &mut out) {
            return (out, Err(e));
        }
        if dec.awaiting_key().is_some() {
            assert!(out.is_empty(), "plaintext before the data key");
            if let Err(e) = supply(&mut dec, how) {
                assert!(dec.awaiting_key().is_none());
                return (out, Err(e));
            }
            // What `update` kept while the key was awaited.
            if let Err(e) = dec.update(&[], &mut out) {
                return (out, Err(e));
            }
        }
    }
    let r = dec.finish();
    (out, r)
}

/// The same through `update_deferred`, opening each run with core's own path.
fn through_deferred(message: &[u8], piece: usize, how: Outside) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(keyring("outside"), config()).unwrap_outside();
    let mut out = Vec::new();
    let mut run = Deferred::new(8);
    for p in message.chunks(piece) {
        let mut input = p;
        loop {
            let n = match dec.update_deferred(input, &mut out, &mut run) {
                Ok(n) => n,
                Err(e) => return (out, Err(e)),
            };
            input = &input[n..];
            if dec.awaiting_key().is_some() {
                assert!(out.is_empty(), "plaintext before the data key");
                if let Err(e) = supply(&mut dec, how) {
                    return (out, Err(e));
                }
                continue;
            }
            if run.count() == 0 {
                assert!(
                    input.is_empty(),
                    "input left without a run or a key request"
                );
                break;
            }
            if let Err(e) = dec.open_deferred(&mut run, &mut out) {
                return (out, Err(e));
            }
        }
    }
    let r = dec.finish();
    (out, r)
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_key_from_outside_or_from_the_keyring_gives_the_plaintext_in_any_pieces() {
    for &suite in AlgorithmSuite::ALL {
        let plain = data(FRAME as usize * 5 + 9);
        let message = encrypt(suite, &plain);
        for piece in [1, 7, 96, message.len()] {
            for how in [Outside::Right, Outside::Fallback] {
                let what = format!("{suite} piece {piece} {how:?}");
                let (out, r) = through_update(&message, piece, how);
                assert!(r.is_ok(), "{what}: {r:?}");
                assert_eq!(out, plain, "{what}");
                let (out, r) = through_deferred(&message, piece, how);
                assert!(r.is_ok(), "{what} deferred: {r:?}");
                assert_eq!(out, plain, "{what} deferred");
            }
        }
    }
}

#[test]
fn a_wrong_key_from_outside_fails_on_the_header_and_releases_nothing() {
    for &suite in AlgorithmSuite::ALL {
        let message = encrypt(suite, &data(FRAME as usize * 3));
        for piece in [1, 96, message.len()] {
            let (out, r) = through_update(&message, piece, Outside::Wrong);
            let (dout, dr) = through_deferred(&message, piece, Outside::Wrong);
            for (out, r) in [(out, r), (dout, dr)] {
                assert!(out.is_empty(), "{suite}: released {} bytes", out.len());
                match r {
                    Err(Error::CommitmentMismatch) => assert!(suite.is_committing()),
                    Err(Error::HeaderAuthentication) => assert!(!suite.is_committing()),
                    other => panic!("{suite}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn the_decryptor_waits_for_the_key_and_refuses_misuse() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let message = encrypt(suite, &data(300));
    let mut dec = Decryptor::new(keyring("outside"), config()).unwrap_outside();
    let mut out = Vec::new();
    let mut run = Deferred::new(8);
    // Nothing awaited before the header is whole.
    dec.update_deferred(&message[..20], &mut out, &mut run)
        .unwrap();
    assert!(dec.awaiting_key().is_none());
    // It stops right at the header's end, and goes no further while the key is awaited.
    let used = dec
        .update_deferred(&message[20..], &mut out, &mut run)
        .unwrap();
    let req = dec.awaiting_key().unwrap();
    let header_len = 20 + used;
    assert_eq!(req.header.suite, suite);
    assert!(header_len < message.len() && out.is_empty() && run.count() == 0);
    assert!(
        dec.header().is_none(),
        "the header is not authenticated yet"
    );
    assert_eq!(
        dec.update_deferred(&message[header_len..], &mut out, &mut run)
            .unwrap(),
        0
    );
    // Ending while the key is awaited is the caller's mistake.
    assert!(matches!(dec.finish(), Err(Error::Misuse(_))));

    // Supplying a key when none is awaited fails the decryptor.
    let mut dec = Decryptor::new(keyring("outside"), config()).unwrap_outside();
    assert!(matches!(dec.supply_key(None), Err(Error::Misuse(_))));
    assert!(dec.update(&message, &mut out).is_err());

    // Without unwrap_outside nothing is ever awaited.
    let mut dec = Decryptor::new(keyring("outside"), config());
    dec.update(&message, &mut out).unwrap();
    dec.finish().unwrap();
    assert!(dec.awaiting_key().is_none());
}

/// The raw RSA keyring `name` of the test key pair (RSA-2048, OAEP-SHA256), which names its
/// data keys by `name` alone.
fn rsa(name: &str) -> RawRsaKeyring {
    let public = include_bytes!("keys/public.pem");
    let private = include_bytes!("keys/plain.pem");
    RawRsaKeyring::new("MyAppKeys", name, RsaPadding::OaepSha256)
        .unwrap()
        .with_public_key(public)
        .unwrap()
        .with_private_key(private)
        .unwrap()
}

#[test]
fn candidates_follow_the_name_the_order_and_the_attempt_limit() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    // Six data keys: other, outside, other, outside, outside, outside.
    let names = ["other", "outside", "other", "outside", "outside", "outside"];
    let children: Vec<Box<dyn Keyring>> = names[1..]
        .iter()
        .map(|n| Box::new(rsa(n)) as Box<dyn Keyring>)
        .collect();
    let multi = MultiKeyring::new(Some(Box::new(rsa(names[0]))), children).unwrap();
    let message = encrypt_with(&multi, suite, &data(100));
    for (max, expected) in [(None, vec![1, 3, 4, 5]), (Some(2), vec![1, 3])] {
        let config = DecryptConfig {
            max_key_attempts: max,
            ..config()
        };
        let mut dec = Decryptor::new(rsa("outside"), config).unwrap_outside();
        dec.update(&message, &mut Vec::new()).unwrap();
        let req = dec.awaiting_key().unwrap();
        let all = &req.header.encrypted_data_keys;
        let picked: Vec<usize> = req
            .candidates("MyAppKeys", b"outside")
            .map(|c| all.iter().position(|e| std::ptr::eq(e, c)).unwrap())
            .collect();
        assert_eq!(picked, expected, "limit {max:?}");
        assert_eq!(req.data_key_len(), 32);
    }
}

#[test]
fn a_context_that_does_not_match_is_refused_before_any_key() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let config = EncryptConfig {
        suite: Some(suite),
        frame_length: FRAME,
        encryption_context: [("purpose".to_string(), "test".to_string())].into(),
        ..Default::default()
    };
    let mut enc = Encryptor::new(&keyring("outside"), &config).unwrap();
    let mut message = Vec::new();
    enc.update(b"hello", &mut message).unwrap();
    enc.finish(&mut message).unwrap();
    let expect = DecryptConfig {
        encryption_context: [("purpose".to_string(), "other".to_string())].into(),
        ..self::config()
    };
    let mut dec = Decryptor::new(keyring("outside"), expect).unwrap_outside();
    let r = dec.update(&message, &mut Vec::new());
    assert!(matches!(r, Err(Error::EncryptionContext(_))), "{r:?}");
    assert!(dec.awaiting_key().is_none());
}
