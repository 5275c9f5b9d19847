//! `hash_outside`: the signature hash computed by the caller (as the page does in a Worker of
//! its own). The bytes handed out are exactly the message before its footer, in order,
//! whatever pieces it is written or read in; a message hashed outside is like any other; the
//! decryptor holds the last plaintext until the supplied digest verifies the signature, and a
//! wrong digest, bytes not taken or a digest of the wrong length release nothing more.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

mod common;

use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, Decryptor, Deferred, EncryptConfig, Encryptor,
    Error, RawAesKeyring,
};
use sha2::Digest;

const FRAME: u32 = 64;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("MyAppKeys", "hash", &[0x55; 32]).unwrap()
}

fn digest_of(suite: AlgorithmSuite, bytes: &[u8]) -> Vec<u8> {
    match suite.signature().map(|s| s.digest_len()) {
        Some(48) => sha2::Sha384::digest(bytes).to_vec(),
        Some(32) => sha2::Sha256::digest(bytes).to_vec(),
        other => panic!("no digest for {other:?}"),
    }
}

fn config(suite: AlgorithmSuite) -> EncryptConfig {
    common::writing(suite, FRAME)
}

fn decrypt_config() -> DecryptConfig {
    DecryptConfig {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..Default::default()
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 % 253) as u8).collect()
}

/// Encrypts `plain` in pieces of `piece` bytes with the hash outside; the message and the
/// bytes handed out to hash.
fn encrypt_outside(suite: AlgorithmSuite, plain: &[u8], piece: usize) -> (Vec<u8>, Vec<u8>) {
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    let signed = enc.hash_outside().unwrap();
    assert_eq!(signed, suite.is_signed());
    let (mut out, mut hashed) = (Vec::new(), Vec::new());
    for p in plain.chunks(piece) {
        enc.update(p, &mut out).unwrap();
        enc.take_hash_input(|b| hashed.extend_from_slice(b));
    }
    if !signed {
        enc.finish(&mut out).unwrap();
        enc_nothing_taken(&hashed);
        return (out, hashed);
    }
    enc.finish_frames(&mut out).unwrap();
    enc.take_hash_input(|b| hashed.extend_from_slice(b));
    enc.finish_with_digest(&digest_of(suite, &hashed), &mut out)
        .unwrap();
    (out, hashed)
}

fn enc_nothing_taken(hashed: &[u8]) {
    assert!(hashed.is_empty(), "an unsigned message has nothing to hash");
}

fn footer_len(suite: AlgorithmSuite) -> usize {
    suite.signature().map_or(0, |s| 2 + s.fixed_signature_len())
}

#[test]
fn encrypting_with_the_hash_outside_hands_out_the_message_before_its_footer() {
    for &suite in AlgorithmSuite::ALL {
        let plain = data(FRAME as usize * 4 + 5);
        for piece in [1, 7, 96, plain.len()] {
            let (message, hashed) = encrypt_outside(suite, &plain, piece);
            if suite.is_signed() {
                assert_eq!(
                    hashed,
                    message[..message.len() - footer_len(suite)],
                    "{suite}"
                );
            }
            let (back, _) = cse_core::decrypt(keyring(), decrypt_config(), &message).unwrap();
            assert_eq!(back, plain, "{suite} piece {piece}");
        }
    }
}

fn outside_decryptor() -> Decryptor<RawAesKeyring> {
    let mut dec = Decryptor::new(keyring(), decrypt_config());
    dec.hash_outside().unwrap();
    dec
}

/// Decrypts with the hash outside, fed in pieces (through `update_deferred` when `deferred`),
/// supplying `digest(taken)` once awaited: released plaintext, what was released before the
/// digest, the bytes taken, and the outcome.
fn decrypt_outside(
    message: &[u8],
    piece: usize,
    deferred: bool,
    digest: impl Fn(&[u8]) -> Vec<u8>,
) -> (Vec<u8>, usize, Vec<u8>, Result<(), Error>) {
    let mut dec = outside_decryptor();
    let (mut out, mut taken) = (Vec::new(), Vec::new());
    let mut run = Deferred::new(4);
    let mut before_digest = 0;
    for p in message.chunks(piece) {
        let r = if deferred {
            let mut input = p;
            loop {
                match dec.update_deferred(input, &mut out, &mut run) {
                    Ok(n) => input = &input[n..],
                    Err(e) => break Err(e),
                }
                dec.take_hash_input(|b| taken.extend_from_slice(b));
                if run.count() == 0 {
                    break Ok(());
                }
                if let Err(e) = dec.open_deferred(&mut run, &mut out) {
                    break Err(e);
                }
            }
        } else {
            let r = dec.update(p, &mut out);
            dec.take_hash_input(|b| taken.extend_from_slice(b));
            r
        };
        if let Err(e) = r {
            return (out, before_digest, taken, Err(e));
        }
    }
    if dec.awaiting_digest() {
        before_digest = out.len();
        if let Err(e) = dec.supply_digest(&digest(&taken), &mut out) {
            return (out, before_digest, taken, Err(e));
        }
    }
    let r = dec.finish();
    (out, before_digest, taken, r)
}

#[test]
fn decrypting_with_the_hash_outside_releases_the_end_only_once_the_digest_verifies() {
    for &suite in AlgorithmSuite::ALL {
        let plain = data(FRAME as usize * 6 + 11);
        let (message, _) = encrypt_outside(suite, &plain, plain.len());
        for piece in [1, 7, 96, message.len()] {
            for deferred in [false, true] {
                let what = format!("{suite} piece {piece} deferred {deferred}");
                let right = |b: &[u8]| digest_of(suite, b);
                let (out, before, taken, r) = decrypt_outside(&message, piece, deferred, right);
                assert!(r.is_ok(), "{what}: {r:?}");
                assert_eq!(out, plain, "{what}");
                if !suite.is_signed() {
                    assert!(taken.is_empty(), "{what}");
                    continue;
                }
                assert_eq!(
                    taken,
                    message[..message.len() - footer_len(suite)],
                    "{what}"
                );
                assert!(
                    before < plain.len(),
                    "{what}: all released before the digest"
                );

                // A wrong digest (of the right length): nothing more, and the decryptor fails.
                let wrong = |b: &[u8]| {
                    let mut d = digest_of(suite, b);
                    d[0] ^= 1;
                    d
                };
                let (out, before, _, r) = decrypt_outside(&message, piece, deferred, wrong);
                assert!(
                    matches!(r, Err(Error::SignatureVerification)),
                    "{what}: {r:?}"
                );
                assert_eq!(out.len(), before, "{what}: released after a wrong digest");
                assert!(before < plain.len(), "{what}");
            }
        }
    }
}

#[test]
fn the_digest_is_refused_when_misused() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let plain = data(300);
    let (message, _) = encrypt_outside(suite, &plain, 300);

    // Bytes left untaken, or a digest of another length: refused, nothing more released.
    for case in ["untaken", "short"] {
        let mut dec = outside_decryptor();
        let mut out = Vec::new();
        dec.update(&message, &mut out).unwrap();
        assert!(dec.awaiting_digest());
        let held = out.len();
        let mut taken = Vec::new();
        if case != "untaken" {
            dec.take_hash_input(|b| taken.extend_from_slice(b));
        }
        let mut d = digest_of(suite, &message[..message.len() - footer_len(suite)]);
        if case == "short" {
            d.truncate(32);
        }
        let r = dec.supply_digest(&d, &mut out);
        assert!(matches!(r, Err(Error::Misuse(_))), "{case}: {r:?}");
        assert_eq!(out.len(), held, "{case}");
        assert!(dec.finish().is_err());
    }

    // Too late once the header is accepted.
    let mut dec = Decryptor::new(keyring(), decrypt_config());
    dec.update(&message[..message.len() / 2], &mut Vec::new())
        .unwrap();
    assert!(matches!(dec.hash_outside(), Err(Error::Misuse(_))));

    // Ending while the digest is awaited; bytes after the footer.
    let mut dec = outside_decryptor();
    dec.update(&message, &mut Vec::new()).unwrap();
    assert!(matches!(dec.finish(), Err(Error::Misuse(_))));
    let mut dec = outside_decryptor();
    let mut longer = message.clone();
    longer.push(0);
    assert!(matches!(
        dec.update(&longer, &mut Vec::new()),
        Err(Error::TrailingData)
    ));

    // The encryptor: finish() with the hash outside, the digest before the final frame, a
    // digest of another length, and hash_outside once the header is out.
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    enc.hash_outside().unwrap();
    let mut out = Vec::new();
    enc.update(&plain, &mut out).unwrap();
    assert!(matches!(enc.finish(&mut out), Err(Error::Misuse(_))));
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    enc.hash_outside().unwrap();
    enc.update(&plain, &mut out).unwrap();
    enc.take_hash_input(|_| {});
    assert!(matches!(
        enc.finish_with_digest(&[0; 48], &mut out),
        Err(Error::Misuse(_))
    ));
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    enc.hash_outside().unwrap();
    enc.finish_frames(&mut out).unwrap();
    assert!(
        enc.update(&plain, &mut out).is_err(),
        "input after the final frame"
    );
    enc.take_hash_input(|_| {});
    assert!(matches!(
        enc.finish_with_digest(&[0; 32], &mut out),
        Err(Error::Misuse(_))
    ));
    let mut enc = Encryptor::new(&keyring(), &config(suite)).unwrap();
    enc.update(&plain, &mut Vec::new()).unwrap();
    assert!(matches!(enc.hash_outside(), Err(Error::Misuse(_))));
}

#[test]
fn the_hash_may_go_outside_while_the_data_key_is_awaited() {
    // As the page's downloads do: the suite is known at the key request, the hash goes
    // outside then, and the header's own bytes are among those handed out.
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let plain = data(FRAME as usize * 3 + 1);
    let (message, _) = encrypt_outside(suite, &plain, plain.len());
    let mut dec = Decryptor::new(keyring(), decrypt_config()).unwrap_outside();
    let (mut out, mut taken) = (Vec::new(), Vec::new());
    dec.update(&message, &mut out).unwrap();
    let len = dec
        .awaiting_key()
        .unwrap()
        .header
        .suite
        .signature()
        .unwrap()
        .digest_len();
    assert_eq!(len, 48);
    dec.hash_outside().unwrap();
    dec.supply_key(None).unwrap();
    dec.update(&[], &mut out).unwrap();
    dec.take_hash_input(|b| taken.extend_from_slice(b));
    assert!(dec.awaiting_digest());
    assert_eq!(taken, message[..message.len() - footer_len(suite)]);
    dec.supply_digest(&digest_of(suite, &taken), &mut out)
        .unwrap();
    dec.finish().unwrap();
    assert_eq!(out, plain);
}
