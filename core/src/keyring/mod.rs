//! Keyrings wrap and unwrap the data key (spec `framework/keyring-interface.md`).
//!
//! A keyring that finds no data key it owns answers [`Error::NoDecryptableKey`] with what it
//! tried; any other error is a hard failure.

mod keyfile;
mod multi;
mod raw_aes;
mod raw_rsa;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

pub use keyfile::{KEYGEN_PBKDF2_ROUNDS, encrypt_private_key_pem};
pub use multi::MultiKeyring;
pub use raw_aes::RawAesKeyring;
pub use raw_rsa::{
    RawRsaKeyring, RsaPadding, decrypt_private_key, is_encrypted_private_key, load_private_key,
    load_private_key_with_passphrase, load_public_key, private_key_pkcs8_der,
};

use crate::context::EncryptionContext;
use crate::crypto::CryptoProvider;
use crate::error::Error;
use crate::header::EncryptedDataKey;
use crate::suite::AlgorithmSuite;

/// A plaintext data key. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// A fresh random key for `suite`.
    pub fn generate(suite: AlgorithmSuite) -> Result<Self, Error> {
        let mut k = Zeroizing::new(alloc::vec![0u8; suite.data_key_len()]);
        crate::crypto::fill_random(&mut k)?;
        Ok(Self(k))
    }
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({} bytes, redacted)", self.0.len())
    }
}

/// What keyrings see and fill in on encrypt.
#[derive(Debug)]
pub struct EncryptionMaterials {
    /// The message's suite.
    pub suite: AlgorithmSuite,
    /// The full context: stored pairs, `aws-crypto-public-key`, and required (unstored) pairs.
    pub encryption_context: EncryptionContext,
    /// The data key, once generated.
    pub data_key: Option<DataKey>,
    /// Encrypted copies of the data key.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Which implementation provides the primitives.
    pub provider: CryptoProvider,
}

/// What keyrings see and fill in on decrypt.
#[derive(Debug)]
pub struct DecryptionMaterials {
    /// The message's suite.
    pub suite: AlgorithmSuite,
    /// The full context: stored pairs plus required pairs supplied by the caller.
    pub encryption_context: EncryptionContext,
    /// The data key, once a keyring has unwrapped one.
    pub data_key: Option<DataKey>,
    /// Which implementation provides the primitives.
    pub provider: CryptoProvider,
    /// Unwrap attempts made so far, and how many are allowed (shared by every keyring).
    attempts: usize,
    max_attempts: Option<usize>,
}

impl DecryptionMaterials {
    /// Materials for one message, with no limit on unwrap attempts.
    pub fn new(suite: AlgorithmSuite, encryption_context: EncryptionContext) -> Self {
        Self {
            suite,
            encryption_context,
            data_key: None,
            provider: CryptoProvider::default(),
            attempts: 0,
            max_attempts: None,
        }
    }

    /// The same, with primitives from `provider`.
    pub fn with_provider(mut self, provider: CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The same, allowing at most `max` unwrap attempts across all keyrings.
    pub fn with_attempt_limit(mut self, max: Option<usize>) -> Self {
        self.max_attempts = max;
        self
    }

    /// Counts one unwrap attempt; keyrings call it before each private-key (or unwrapping)
    /// operation, and stop with its error when the limit is reached.
    pub fn count_attempt(&mut self) -> Result<(), Error> {
        if let Some(max) = self.max_attempts
            && self.attempts >= max
        {
            return Err(Error::LimitExceeded {
                limit: crate::error::Limit::KeyAttempts,
                found: self.attempts as u64 + 1,
                max: max as u64,
            });
        }
        self.attempts += 1;
        Ok(())
    }
}

/// A keyring.
pub trait Keyring: Send + Sync + fmt::Debug {
    /// Generates the data key if absent, and adds encrypted copies of it.
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), Error>;
    /// Unwraps one of `edks` into `materials.data_key`, or answers
    /// [`Error::NoDecryptableKey`] listing what it tried.
    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<(), Error>;
}

impl<K: Keyring + ?Sized> Keyring for &K {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: &mut DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<(), Error> {
        (**self).on_decrypt(m, e)
    }
}

impl<K: Keyring + ?Sized> Keyring for Box<K> {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: &mut DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<(), Error> {
        (**self).on_decrypt(m, e)
    }
}

impl<K: Keyring + ?Sized> Keyring for Arc<K> {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: &mut DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<(), Error> {
        (**self).on_decrypt(m, e)
    }
}

/// Namespace checks shared by the raw keyrings (spec: raw keyrings must not claim `aws-kms`).
fn check_namespace(namespace: &str) -> Result<(), Error> {
    if namespace.starts_with("aws-kms") {
        return Err(Error::Config(alloc::format!(
            "key namespace {namespace:?} is reserved for AWS KMS keyrings"
        )));
    }
    Ok(())
}

/// The "nothing of mine decrypted" answer; lists the first data keys and counts the rest.
fn not_decrypted(edks: &[EncryptedDataKey], attempts: Vec<alloc::string::String>) -> Error {
    Error::NoDecryptableKey {
        available: edks
            .iter()
            .take(crate::error::MAX_SHOWN_KEYS)
            .map(EncryptedDataKey::summary)
            .collect(),
        total: edks.len(),
        attempts,
    }
}

/// Refuses materials that already hold a data key (shared preamble of every `on_decrypt`).
fn check_no_key_yet(m: &DecryptionMaterials) -> Result<(), Error> {
    if m.data_key.is_some() {
        return Err(Error::Misuse(
            "decryption materials already hold a data key",
        ));
    }
    Ok(())
}
