//! # cse-core: the AWS Encryption SDK message format in pure Rust
//!
//! Messages written here are read by the official ESDKs, and the other way round: every
//! algorithm suite, header versions 1 and 2, framed and non-framed bodies (non-framed are
//! read only), ECDSA footers, key commitment, encryption context, and the raw RSA, raw AES
//! and multi keyrings.
//!
//! The engine is sans-IO: [`Encryptor`] and [`Decryptor`] take bytes and give bytes, in any
//! piece sizes, with memory bounded by one frame. The [`stream`] module wraps them for
//! `std::io`; the browser drives them directly.
//!
//! ```
//! use cse_core::{decrypt, encrypt, DecryptConfig, EncryptConfig, RawAesKeyring};
//!
//! let keyring = RawAesKeyring::new("MyAppKeys", "demo", &[7u8; 32])?;
//! let mut config = EncryptConfig::default(); // suite 0x0578, frames of 4096 bytes
//! config.encryption_context.insert("purpose".into(), "example".into());
//! let message = encrypt(&keyring, &config, b"hello")?;
//! let (plaintext, header) = decrypt(&keyring, DecryptConfig::default(), &message)?;
//! assert_eq!(plaintext, b"hello");
//! assert_eq!(header.suite.id(), 0x0578);
//! # Ok::<(), cse_core::Error>(())
//! ```
//!
//! Decryption releases a frame's plaintext only after its tag verifies and, for signed
//! suites, holds the final frame until the footer signature verifies. A caller that
//! streams plaintext out must still treat it as unverified until [`Decryptor::finish`]
//! succeeds (write to a temporary file, rename after).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod body;
mod codec;
pub mod context;
pub mod crypto;
mod decrypt;
mod encrypt;
pub mod error;
pub mod header;
pub mod keyring;
#[cfg(feature = "std")]
pub mod stream;
mod suite;

use alloc::vec::Vec;

pub use body::FrameAad;
pub use context::EncryptionContext;
pub use decrypt::{
    DEFAULT_MAX_ENCRYPTED_DATA_KEYS, DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_KEY_ATTEMPTS, DEFAULT_MAX_NON_FRAMED_SIZE, DecryptConfig, Decryptor, Deferred,
    KeyRequest, Opened,
};
pub use encrypt::{
    DEFAULT_FRAME_LENGTH, EncryptConfig, Encryptor, ResumeSecret, Staged, footer_len_from_tail,
    framed_message_len, framed_plaintext_len,
};
pub use error::{EdkSummary, Error, Limit, printable};
pub use header::{ContentType, EncryptedDataKey, Header};
pub use keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding};
pub use suite::{AlgorithmSuite, CommitmentPolicy, Kdf, SignatureAlgorithm};

/// Encrypts `plaintext` into one message in memory.
pub fn encrypt<K: Keyring + ?Sized>(
    keyring: &K,
    config: &EncryptConfig,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut enc = Encryptor::new(keyring, config)?;
    let mut out =
        Vec::with_capacity(usize::try_from(enc.message_len(plaintext.len() as u64)).unwrap_or(0));
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Decrypts one whole message in memory; nothing is returned unless everything verifies.
pub fn decrypt<K: Keyring>(
    keyring: K,
    config: DecryptConfig,
    message: &[u8],
) -> Result<(Vec<u8>, Header), Error> {
    let mut dec = Decryptor::new(keyring, config);
    let mut out = Vec::with_capacity(message.len());
    dec.update(message, &mut out)?;
    dec.finish()?;
    let header = dec.header().cloned().ok_or(Error::Truncated)?;
    Ok((out, header))
}
