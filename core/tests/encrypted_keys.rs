//! Passphrase-protected private keys written by openssl 3 (test keys, RSA-2048, not secret):
//! `keys/plain.pem` from `openssl genpkey`, then with the passphrase `correct horse battery`:
//! `pbkdf2.pem` (`openssl pkcs8 -topk8 -v2 aes-256-cbc`), `scrypt.pem` (the same with
//! `-scrypt`), `pbkdf2-sha512.der` (`-v2 aes-128-cbc -v2prf hmacWithSHA512 -outform DER`).
#![allow(clippy::unwrap_used)]

use cse_core::keyring::{
    encrypt_private_key_pem, is_encrypted_private_key, load_private_key,
    load_private_key_with_passphrase,
};
use cse_core::{DecryptConfig, EncryptConfig, Error, RawRsaKeyring, RsaPadding};

const PASS: &[u8] = b"correct horse battery";
const PLAIN: &[u8] = include_bytes!("keys/plain.pem");
const PUBLIC: &[u8] = include_bytes!("keys/public.pem");
const PBKDF2: &[u8] = include_bytes!("keys/pbkdf2.pem");
const SCRYPT: &[u8] = include_bytes!("keys/scrypt.pem");
const PBKDF2_SHA512_DER: &[u8] = include_bytes!("keys/pbkdf2-sha512.der");

fn keyring() -> RawRsaKeyring {
    RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256).unwrap()
}

#[test]
fn openssl_encrypted_keys_open_with_their_passphrase() {
    let expected = load_private_key(PLAIN).unwrap();
    let message = cse_core::encrypt(
        &keyring().with_public_key(PUBLIC).unwrap(),
        &EncryptConfig::default(),
        b"hello",
    )
    .unwrap();
    for (name, key) in [
        ("pbkdf2", PBKDF2),
        ("scrypt", SCRYPT),
        ("pbkdf2-sha512 DER", PBKDF2_SHA512_DER),
    ] {
        assert!(is_encrypted_private_key(key), "{name}");
        let loaded = load_private_key_with_passphrase(key, PASS).unwrap();
        assert!(loaded == expected, "{name}: another key");
        let k = keyring().with_encrypted_private_key(key, PASS).unwrap();
        let (plain, _) = cse_core::decrypt(&k, DecryptConfig::default(), &message).unwrap();
        assert_eq!(plain, b"hello", "{name}");
    }
    assert!(!is_encrypted_private_key(PLAIN));
    // Unlocked once into plain PKCS #8 DER (what the page keeps), it loads without a passphrase.
    let der = cse_core::keyring::decrypt_private_key(SCRYPT, PASS).unwrap();
    assert!(load_private_key(&der).unwrap() == expected);
    assert!(cse_core::keyring::decrypt_private_key(SCRYPT, b"nope").is_err());
    assert!(cse_core::keyring::decrypt_private_key(PLAIN, PASS).is_err());
    // A plain key is taken as it is.
    assert!(load_private_key_with_passphrase(PLAIN, b"unused").unwrap() == expected);
}

#[test]
fn a_wrong_passphrase_is_a_key_error_that_says_so() {
    for key in [PBKDF2, SCRYPT, PBKDF2_SHA512_DER] {
        for wrong in [&b"correct horse"[..], b"", b"correct horse battery\n"] {
            let e = load_private_key_with_passphrase(key, wrong).unwrap_err();
            assert!(matches!(e, Error::Key(_)), "{e:?}");
            assert!(e.to_string().contains("wrong passphrase"), "{e}");
        }
    }
    // Without a passphrase the loader says one is needed.
    let e = load_private_key(PBKDF2).unwrap_err();
    assert!(e.to_string().contains("passphrase"), "{e}");
}

#[test]
fn encrypted_keys_we_write_read_back() {
    let der = {
        use pkcs8::EncodePrivateKey;
        load_private_key(PLAIN).unwrap().to_pkcs8_der().unwrap()
    };
    let pem = encrypt_private_key_pem(der.as_bytes(), b"s3cret").unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let back = load_private_key_with_passphrase(pem.as_bytes(), b"s3cret").unwrap();
    assert!(back == load_private_key(PLAIN).unwrap());
    assert!(load_private_key_with_passphrase(pem.as_bytes(), b"S3cret").is_err());
}
