//! Errors of the core. Each variant names one cause; authentication failures say where, not why.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// An encrypted data key as shown in an error: provider id and a printable provider info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdkSummary {
    /// The provider id (key namespace for raw keyrings).
    pub provider_id: String,
    /// The provider info made printable (the key name for raw keyrings).
    pub provider_info: String,
}

impl fmt::Display for EdkSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider_id, self.provider_info)
    }
}

/// Everything that can go wrong while encrypting or decrypting a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the message was complete.
    Truncated,
    /// More bytes followed a complete message.
    TrailingData,
    /// The input looks like base64 text, not a binary message.
    Base64Input,
    /// The first byte is not a known message format version.
    UnsupportedVersion(u8),
    /// The suite id is not an ESDK algorithm suite.
    UnsupportedSuite(u16),
    /// The suite does not belong to the header's format version.
    SuiteVersionMismatch {
        /// The suite read.
        suite: AlgorithmSuite,
        /// The header version read.
        version: u8,
    },
    /// A header field breaks the format (the text says which).
    MalformedHeader(String),
    /// A body or footer field breaks the format (the text says which).
    MalformedBody(String),
    /// The header lists more encrypted data keys than allowed.
    TooManyEncryptedDataKeys {
        /// Number in the header (or produced by the keyrings).
        count: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The header is larger than the configured limit.
    HeaderTooLarge {
        /// The configured maximum in bytes.
        limit: usize,
    },
    /// The frame length or non-framed content is larger than the configured limit.
    BodyTooLarge {
        /// The configured maximum in bytes.
        limit: u64,
    },
    /// The suite is not allowed by the commitment policy.
    PolicyForbidsSuite {
        /// The suite asked for or read.
        suite: AlgorithmSuite,
        /// The policy in force.
        policy: CommitmentPolicy,
    },
    /// The message is signed and signed messages were refused.
    SignedMessageRefused(AlgorithmSuite),
    /// The header authentication tag did not verify.
    HeaderAuthentication,
    /// The key commitment in the header does not match the data key.
    CommitmentMismatch,
    /// A frame's authentication tag did not verify (frames count from 1).
    FrameAuthentication {
        /// The frame's sequence number.
        sequence: u32,
    },
    /// The non-framed body's authentication tag did not verify.
    BodyAuthentication,
    /// The footer signature did not verify.
    SignatureVerification,
    /// The suite is signed but the context lacks `aws-crypto-public-key`, or the reverse.
    PublicKeyMismatch(&'static str),
    /// No keyring could decrypt any of the message's data keys.
    NoDecryptableKey {
        /// The data keys the message holds.
        available: Vec<EdkSummary>,
        /// What each keyring tried and why it failed.
        attempts: Vec<String>,
    },
    /// An encryption context rule was broken (the text says which).
    EncryptionContext(String),
    /// A key could not be loaded or used (the text says why; it never holds key bytes).
    Key(String),
    /// A setting is out of range (the text says which).
    Config(String),
    /// The system random number generator failed.
    Random,
    /// The caller used the API out of order (the text says how).
    Misuse(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated message: the input ended before the message was complete"),
            Self::TrailingData => f.write_str("unexpected bytes after the end of the message"),
            Self::Base64Input => f.write_str("the input looks base64-encoded; decode it to binary first"),
            Self::UnsupportedVersion(v) => write!(f, "not an ESDK message: unknown format version {v:#04x}"),
            Self::UnsupportedSuite(id) => write!(f, "unknown or non-ESDK algorithm suite {id:#06x}"),
            Self::SuiteVersionMismatch { suite, version } => {
                write!(f, "suite {suite} cannot appear in a version {version} header")
            }
            Self::MalformedHeader(what) => write!(f, "malformed header: {what}"),
            Self::MalformedBody(what) => write!(f, "malformed message body: {what}"),
            Self::TooManyEncryptedDataKeys { count, max } => {
                write!(f, "{count} encrypted data keys exceed the maximum of {max}")
            }
            Self::HeaderTooLarge { limit } => write!(f, "header larger than the limit of {limit} bytes"),
            Self::BodyTooLarge { limit } => write!(f, "frame or body larger than the limit of {limit} bytes"),
            Self::PolicyForbidsSuite { suite, policy } => {
                write!(f, "algorithm suite {suite:?} is not allowed by commitment policy {policy:?}")
            }
            Self::SignedMessageRefused(s) => write!(f, "message is signed (suite {s}) and signed messages were refused"),
            Self::HeaderAuthentication => f.write_str("header authentication failed: the header was altered, or the encryption context given does not match"),
            Self::CommitmentMismatch => f.write_str("key commitment mismatch: the data key does not match the message header"),
            Self::FrameAuthentication { sequence } => write!(f, "authentication failed in frame {sequence}: the body was altered"),
            Self::BodyAuthentication => f.write_str("authentication failed in the non-framed body: the body was altered"),
            Self::SignatureVerification => f.write_str("footer signature verification failed: the message was altered"),
            Self::PublicKeyMismatch(what) => write!(f, "signature key mismatch: {what}"),
            Self::NoDecryptableKey { available, attempts } => {
                f.write_str("no keyring could decrypt any of these data keys: ")?;
                for (i, e) in available.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                if !attempts.is_empty() {
                    write!(f, " ({})", attempts.join("; "))?;
                }
                Ok(())
            }
            Self::EncryptionContext(what) => write!(f, "encryption context: {what}"),
            Self::Key(what) => write!(f, "key: {what}"),
            Self::Config(what) => write!(f, "invalid setting: {what}"),
            Self::Random => f.write_str("the system random number generator failed"),
            Self::Misuse(what) => write!(f, "API misuse: {what}"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::Truncated => std::io::ErrorKind::UnexpectedEof,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
