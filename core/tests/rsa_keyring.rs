//! Raw RSA keyring: every padding, every key encoding, and the errors users meet.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a test failure")]

use cse_core::crypto::CryptoProvider;
use cse_core::{DecryptConfig, EncryptConfig, Error, RawRsaKeyring, RsaPadding};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use std::sync::OnceLock;

fn key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
}

fn pems() -> (String, String) {
    let k = key();
    (
        k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
        k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
    )
}

#[test]
fn every_padding_round_trips_across_providers() {
    let (public, private) = pems();
    for padding in RsaPadding::ALL {
        let enc = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
            .unwrap()
            .with_public_key(public.as_bytes())
            .unwrap();
        let dec = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
            .unwrap()
            .with_private_key(private.as_bytes())
            .unwrap();
        for writer in CryptoProvider::all() {
            for reader in CryptoProvider::all() {
                let config = EncryptConfig {
                    provider: *writer,
                    ..EncryptConfig::default()
                };
                let m = cse_core::encrypt(&enc, &config, b"rsa").unwrap();
                let config = DecryptConfig {
                    provider: *reader,
                    ..DecryptConfig::default()
                };
                let (pt, _) = cse_core::decrypt(&dec, config, &m).unwrap();
                assert_eq!(
                    pt,
                    b"rsa",
                    "{padding:?} {} -> {}",
                    writer.name(),
                    reader.name()
                );
                // A wrong key fails the same way under every provider.
                let wrong = cse_core::decrypt(
                    &dec,
                    DecryptConfig {
                        provider: *reader,
                        ..DecryptConfig::default()
                    },
                    &{
                        let mut bad = m.clone();
                        let n = bad.len();
                        bad[n / 3] ^= 0x40;
                        bad
                    },
                );
                assert!(wrong.is_err());
            }
        }
    }
}

#[test]
fn every_padding_round_trips() {
    let (public, private) = pems();
    for padding in RsaPadding::ALL {
        let enc = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
            .unwrap()
            .with_public_key(public.as_bytes())
            .unwrap();
        let dec = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", padding)
            .unwrap()
            .with_private_key(private.as_bytes())
            .unwrap();
        let m = cse_core::encrypt(&enc, &EncryptConfig::default(), b"rsa").unwrap();
        let (pt, h) = cse_core::decrypt(&dec, DecryptConfig::default(), &m).unwrap();
        assert_eq!(pt, b"rsa");
        let edk = &h.encrypted_data_keys[0];
        assert_eq!(edk.provider_id, "MyAppKeys");
        assert_eq!(edk.provider_info, b"S3RSAKey");
        assert_eq!(edk.ciphertext.len(), 256);
    }
}

#[test]
fn every_key_encoding_loads() {
    let k = key();
    let pubs: Vec<Vec<u8>> = vec![
        k.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
            .into_bytes(),
        k.to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .unwrap()
            .into_bytes(),
        k.to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
        k.to_public_key()
            .to_pkcs1_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
    ];
    let privs: Vec<Vec<u8>> = vec![
        k.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes().to_vec(),
        k.to_pkcs1_pem(LineEnding::LF).unwrap().as_bytes().to_vec(),
        k.to_pkcs8_der().unwrap().as_bytes().to_vec(),
        k.to_pkcs1_der().unwrap().as_bytes().to_vec(),
    ];
    for p in &pubs {
        cse_core::keyring::load_public_key(p).unwrap();
    }
    for p in &privs {
        cse_core::keyring::load_private_key(p).unwrap();
    }
}

#[test]
fn helpful_errors() {
    let (public, private) = pems();
    let e = cse_core::keyring::load_public_key(private.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("private key"), "{e}");
    let e = cse_core::keyring::load_private_key(public.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("public key"), "{e}");

    // A keyring with only the private key cannot encrypt; one with only the public key cannot decrypt.
    let only_private = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256)
        .unwrap()
        .with_private_key(private.as_bytes())
        .unwrap();
    assert!(matches!(
        cse_core::encrypt(&only_private, &EncryptConfig::default(), b"x"),
        Err(Error::Key(_))
    ));
    let only_public = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256)
        .unwrap()
        .with_public_key(public.as_bytes())
        .unwrap();
    let m = cse_core::encrypt(&only_public, &EncryptConfig::default(), b"x").unwrap();
    assert!(matches!(
        cse_core::decrypt(&only_public, DecryptConfig::default(), &m),
        Err(Error::NoDecryptableKey { .. })
    ));

    // A different key name: the error lists what the message holds.
    let other = RawRsaKeyring::new("MyAppKeys", "OtherKey", RsaPadding::OaepSha256)
        .unwrap()
        .with_private_key(private.as_bytes())
        .unwrap();
    let e = cse_core::decrypt(&other, DecryptConfig::default(), &m).unwrap_err();
    assert!(e.to_string().contains("MyAppKeys/S3RSAKey"), "{e}");

    // Wrong padding on the right key fails as "no data key", not as a crash.
    let wrong = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha1)
        .unwrap()
        .with_private_key(private.as_bytes())
        .unwrap();
    assert!(matches!(
        cse_core::decrypt(&wrong, DecryptConfig::default(), &m),
        Err(Error::NoDecryptableKey { .. })
    ));

    assert!(RawRsaKeyring::new("aws-kms", "x", RsaPadding::OaepSha256).is_err());
}

#[test]
fn every_private_key_encoding_gives_its_pkcs8_der() {
    use cse_core::keyring::private_key_pkcs8_der;
    let k = key();
    let pkcs8 = k.to_pkcs8_der().unwrap();
    let pkcs8_pem = k.to_pkcs8_pem(LineEnding::LF).unwrap();
    let pkcs1 = k.to_pkcs1_der().unwrap();
    let pkcs1_pem = k.to_pkcs1_pem(LineEnding::LF).unwrap();
    let inputs: [(&str, &[u8]); 4] = [
        ("PKCS #8 DER", pkcs8.as_bytes()),
        ("PKCS #8 PEM", pkcs8_pem.as_bytes()),
        ("PKCS #1 DER", pkcs1.as_bytes()),
        ("PKCS #1 PEM", pkcs1_pem.as_bytes()),
    ];
    for (what, input) in inputs {
        let der = private_key_pkcs8_der(input).unwrap();
        assert_eq!(der[..], *pkcs8.as_bytes(), "{what}");
    }
    // PKCS #8 as written is kept as written (its bytes, not a re-encoding).
    let written = include_bytes!("keys/plain.pem");
    let der = private_key_pkcs8_der(written).unwrap();
    let (_, expected) = pkcs8::der::pem::decode_vec(written).unwrap();
    assert_eq!(der[..], expected[..]);
    // What is not an unencrypted private key is an error.
    for bad in [
        &include_bytes!("keys/public.pem")[..],
        &include_bytes!("keys/pbkdf2.pem")[..],
        b"not a key",
    ] {
        assert!(matches!(private_key_pkcs8_der(bad), Err(Error::Key(_))));
    }
}
