//! Private keys protected by a passphrase: PKCS #8 `EncryptedPrivateKeyInfo` with PBES2
//! (RFC 8018), as `openssl genpkey -aes256` and `openssl pkcs8 -topk8 -v2 aes-256-cbc
//! [-scrypt]` write them: PBKDF2 (HMAC-SHA-1/224/256/384/512) or scrypt, then AES-CBC.
//!
//! The structures are parsed by `pkcs8`/`pkcs5`; the key derivation and the cipher run here so
//! that the derived key, the cipher state and the decrypted key are zeroized on drop (the
//! `pkcs5` crate leaves its derived key on the stack).

use alloc::string::String;
use alloc::vec::Vec;

use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use pkcs5::pbes2::{self, EncryptionScheme as Scheme, Kdf, Pbkdf2Prf};
use pkcs8::der::{Decode, Encode, asn1::OctetStringRef};
use pkcs8::{EncryptedPrivateKeyInfoRef, LineEnding};
use zeroize::Zeroizing;

use crate::error::Error;

/// PEM label of an encrypted PKCS #8 key.
pub(super) const PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// PBKDF2 rounds [`encrypt_private_key_pem`] uses (HMAC-SHA-256; OWASP's 2023 advice).
pub const KEYGEN_PBKDF2_ROUNDS: u32 = 600_000;

/// Bounds on what a key file may ask for, so a hostile file cannot take minutes or gigabytes.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SCRYPT_BYTES: u64 = 1 << 30;

fn wrong_passphrase() -> Error {
    Error::Key(
        "cannot decrypt the private key: wrong passphrase (or the key file is damaged)".into(),
    )
}

fn unsupported(what: &str) -> Error {
    Error::Key(alloc::format!(
        "cannot read the encrypted private key: {what}; re-encrypt it with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW` (PBES2)"
    ))
}

/// Derives the `len`-byte key of `kdf` from `passphrase`.
fn derive(kdf: &Kdf, passphrase: &[u8], len: usize) -> Result<Zeroizing<[u8; 32]>, Error> {
    if let Some(l) = kdf.key_length()
        && usize::from(l) != len
    {
        return Err(unsupported(
            "the key length in the file does not fit the cipher",
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    let out = &mut key[..len];
    match kdf {
        Kdf::Pbkdf2(p) => {
            if p.iteration_count == 0 || p.iteration_count > MAX_PBKDF2_ROUNDS {
                return Err(unsupported("PBKDF2 iteration count out of range"));
            }
            let (salt, n) = (p.salt.as_bytes(), p.iteration_count);
            match p.prf {
                Pbkdf2Prf::HmacWithSha1 => {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, n, out)
                }
                Pbkdf2Prf::HmacWithSha224 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha224>(passphrase, salt, n, out)
                }
                Pbkdf2Prf::HmacWithSha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, n, out)
                }
                Pbkdf2Prf::HmacWithSha384 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha384>(passphrase, salt, n, out)
                }
                Pbkdf2Prf::HmacWithSha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase, salt, n, out)
                }
                _ => return Err(unsupported("unknown PBKDF2 hash")),
            }
        }
        Kdf::Scrypt(s) => {
            let n = s.cost_parameter;
            let (r, p) = (u32::from(s.block_size), u32::from(s.parallelization));
            if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 || p > 16 {
                return Err(unsupported("scrypt parameters out of range"));
            }
            // scrypt holds 128 · r · N bytes.
            if 128u64.saturating_mul(u64::from(r)).saturating_mul(n) > MAX_SCRYPT_BYTES {
                return Err(unsupported("scrypt asks for more than 1 GiB of memory"));
            }
            let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| unsupported("scrypt N"))?;
            let params = scrypt::Params::new(log_n, r, p)
                .map_err(|_| unsupported("scrypt parameters out of range"))?;
            scrypt::scrypt(passphrase, s.salt.as_bytes(), &params, out)
                .map_err(|_| unsupported("scrypt output length"))?;
        }
        _ => return Err(unsupported("unknown key derivation function")),
    }
    Ok(key)
}

/// Decrypts the DER of an `EncryptedPrivateKeyInfo` into the DER of the PKCS #8 key inside.
pub(super) fn decrypt_der(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let info = EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|_| Error::Key("cannot read the RSA private key: bad encrypted PKCS #8".into()))?;
    let params = info
        .encryption_algorithm
        .pbes2()
        .ok_or_else(|| unsupported("PBES1 (an old DES/RC2 scheme) is not supported"))?;
    let mut buf = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
    let plain_len = {
        let plain = match params.encryption {
            Scheme::Aes128Cbc { iv } => {
                let k = derive(&params.kdf, passphrase, 16)?;
                cbc::Decryptor::<aes::Aes128>::new_from_slices(&k[..16], &iv)
                    .map_err(|_| unsupported("AES-128-CBC parameters"))?
                    .decrypt_padded::<Pkcs7>(&mut buf)
            }
            Scheme::Aes192Cbc { iv } => {
                let k = derive(&params.kdf, passphrase, 24)?;
                cbc::Decryptor::<aes::Aes192>::new_from_slices(&k[..24], &iv)
                    .map_err(|_| unsupported("AES-192-CBC parameters"))?
                    .decrypt_padded::<Pkcs7>(&mut buf)
            }
            Scheme::Aes256Cbc { iv } => {
                let k = derive(&params.kdf, passphrase, 32)?;
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&k[..32], &iv)
                    .map_err(|_| unsupported("AES-256-CBC parameters"))?
                    .decrypt_padded::<Pkcs7>(&mut buf)
            }
            _ => return Err(unsupported("only AES-CBC ciphers are supported")),
        };
        plain.map_err(|_| wrong_passphrase())?.len()
    };
    buf.truncate(plain_len);
    // A wrong passphrase passes the padding check about once in 256 tries: the content must
    // still be a PKCS #8 structure.
    if pkcs8::PrivateKeyInfoRef::from_der(&buf).is_err() {
        return Err(wrong_passphrase());
    }
    Ok(buf)
}

/// Encrypts a PKCS #8 private key (DER) under `passphrase` as PEM `ENCRYPTED PRIVATE KEY`:
/// PBES2 with PBKDF2-HMAC-SHA-256 ([`KEYGEN_PBKDF2_ROUNDS`] rounds, 16-byte random salt) and
/// AES-256-CBC, which every openssl since 1.0 reads (`openssl pkey -in KEY`).
pub fn encrypt_private_key_pem(
    pkcs8_der: &[u8],
    passphrase: &[u8],
) -> Result<Zeroizing<String>, Error> {
    encrypt_with_rounds(pkcs8_der, passphrase, KEYGEN_PBKDF2_ROUNDS)
}

pub(super) fn encrypt_with_rounds(
    pkcs8_der: &[u8],
    passphrase: &[u8],
    rounds: u32,
) -> Result<Zeroizing<String>, Error> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    crate::crypto::fill_random(&mut salt)?;
    crate::crypto::fill_random(&mut iv)?;
    let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(rounds, &salt, iv)
        .map_err(|_| Error::Key("PBES2 parameters".into()))?;
    let key = derive(&params.kdf, passphrase, 32)?;
    let mut buf = Zeroizing::new(alloc::vec![0u8; pkcs8_der.len() + 16]);
    buf[..pkcs8_der.len()].copy_from_slice(pkcs8_der);
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key[..], &iv)
        .map_err(|_| Error::Key("AES-256-CBC parameters".into()))?
        .encrypt_padded::<Pkcs7>(&mut buf, pkcs8_der.len())
        .map_err(|_| Error::Key("AES-256-CBC encryption failed".into()))?
        .to_vec();
    let info = EncryptedPrivateKeyInfoRef {
        encryption_algorithm: params.into(),
        encrypted_data: OctetStringRef::new(&ciphertext)
            .map_err(|_| Error::Key("encrypted key too long".into()))?,
    };
    let der = info
        .to_der()
        .map_err(|_| Error::Key("encoding the encrypted private key".into()))?;
    let pem = pkcs8::der::pem::encode_string(PEM_LABEL, LineEnding::LF, &der)
        .map_err(|_| Error::Key("PEM encoding".into()))?;
    Ok(Zeroizing::new(pem))
}
