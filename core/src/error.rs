//! Errors of the core. Each variant names one cause; authentication failures say where, not why.
//!
//! Errors are inert: text that comes from a message (provider ids and infos, context keys) is
//! escaped with [`printable`] and capped before it is stored in an error, and lists are capped,
//! so that printing an error never sends control bytes to a terminal nor floods it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::fmt::Write as _;

use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// At most this many characters of one untrusted field are kept in an error.
pub const MAX_SHOWN_CHARS: usize = 80;
/// At most this many data keys are listed in an error; the rest are counted.
pub const MAX_SHOWN_KEYS: usize = 5;

/// `text` made safe to print on a terminal: control characters (C0, DEL, C1), bidirectional
/// and other invisible format characters and backslashes are escaped (`\x1b`, `\u{202e}`, `\\`),
/// and the result is cut after `max_chars` characters with an ellipsis.
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (shown, c) in text.chars().enumerate() {
        if shown == max_chars {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // Zero-width, bidirectional and other format characters that could disguise text.
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A limit of [`crate::DecryptConfig`] that a message went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// `max_encrypted_data_keys`: data keys in the header.
    EncryptedDataKeys,
    /// `max_key_attempts`: data keys the keyrings tried to unwrap (RSA private-key operations).
    KeyAttempts,
    /// `max_header_size`: bytes of the header.
    HeaderSize,
    /// `max_frame_length`: the frame length the header declares (one frame is buffered).
    FrameLength,
    /// `max_non_framed_size`: the length of a non-framed body (buffered whole).
    NonFramedSize,
}

impl Limit {
    /// The name of the [`crate::DecryptConfig`] field that sets this limit.
    pub fn setting(self) -> &'static str {
        match self {
            Self::EncryptedDataKeys => "max_encrypted_data_keys",
            Self::KeyAttempts => "max_key_attempts",
            Self::HeaderSize => "max_header_size",
            Self::FrameLength => "max_frame_length",
            Self::NonFramedSize => "max_non_framed_size",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::EncryptedDataKeys => "encrypted data keys",
            Self::KeyAttempts => "data-key unwrap attempts",
            Self::HeaderSize => "header bytes",
            Self::FrameLength => "bytes of frame length",
            Self::NonFramedSize => "bytes of non-framed body",
        }
    }
}

/// An encrypted data key as shown in an error: provider id and a printable provider info,
/// both escaped with [`printable`].
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
    /// A message went over a limit of the decryption settings (checked as soon as the field
    /// is read, before anything is allocated for it).
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// What the message declares (or would need).
        found: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The keyrings produced more encrypted data keys than allowed (on encrypt).
    TooManyEncryptedDataKeys {
        /// Number in the header (or produced by the keyrings).
        count: usize,
        /// The configured maximum.
        max: usize,
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
        /// The first data keys the message holds (at most [`MAX_SHOWN_KEYS`]).
        available: Vec<EdkSummary>,
        /// How many data keys the message holds in all.
        total: usize,
        /// What each keyring tried and why it failed (one line per keyring).
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
            Self::LimitExceeded { limit, found, max } => write!(
                f,
                "message refused: {found} {} exceed the limit of {max} ({})",
                limit.what(),
                limit.setting()
            ),
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
            Self::NoDecryptableKey {
                available,
                total,
                attempts,
            } => {
                f.write_str("no keyring could decrypt any of these data keys: ")?;
                for (i, e) in available.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                if *total > available.len() {
                    write!(f, " and {} more", total - available.len())?;
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
