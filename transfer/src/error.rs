//! Errors of a transfer, and one classification of them into what the user should do.

use std::fmt;

use cse_s3::S3Error;

/// What the user should do about a failure; the tool turns it into an exit status and the
/// page into an error kind, each with its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Fix a setting (endpoint, credentials, an option): exit 5, page `config`.
    Settings,
    /// Give a usable key file: exit 5, page `key`.
    Key,
    /// The object was encrypted for another key: load the matching private key. Exit 4,
    /// page `wrong-key`.
    WrongKey,
    /// Refused before anything was decrypted: over a safety limit. Exit 4, page `refused`.
    Refused,
    /// Refused by a policy the user asked for (required context pairs, refuse signed, the
    /// commitment policy). Exit 4, page `refused`.
    Policy,
    /// Altered, truncated, damaged, or a wrong key that only shows at authentication. Exit 4,
    /// page `tampered`.
    Rejected,
    /// The store answered with an error: exit 3, page `s3`.
    Storage,
    /// The store could not be reached: exit 3, page `network`.
    Network,
    /// Reading the input or writing the output failed here: exit 1, page `output`.
    Local,
    /// Cancelled by the user (Ctrl-C, SIGTERM, Cancel): exit 130/143/129, page `cancelled`.
    Cancelled,
    /// A bug or a combination the library refuses: exit 1, page `config`.
    Internal,
}

impl ErrorClass {
    /// The class of a message-engine error.
    pub fn of_message(e: &cse_core::Error) -> Self {
        use cse_core::Error as E;
        match e {
            E::Key(_) => Self::Key,
            E::Config(_) | E::Misuse(_) | E::Random => Self::Internal,
            E::NoDecryptableKey { .. } => Self::WrongKey,
            E::LimitExceeded { .. } | E::TooManyEncryptedDataKeys { .. } => Self::Refused,
            E::EncryptionContext(_) | E::PolicyForbidsSuite { .. } | E::SignedMessageRefused(_) => {
                Self::Policy
            }
            _ => Self::Rejected,
        }
    }

    /// The class of an S3 error.
    pub fn of_s3(e: &S3Error) -> Self {
        match e.kind() {
            cse_s3::ErrorKind::Config => Self::Settings,
            cse_s3::ErrorKind::Network => Self::Network,
            _ => Self::Storage,
        }
    }

    /// The page's name for it (`error.kind`).
    pub fn page_kind(self) -> &'static str {
        match self {
            Self::Settings | Self::Internal => "config",
            Self::Key => "key",
            Self::WrongKey => "wrong-key",
            Self::Refused | Self::Policy => "refused",
            Self::Rejected => "tampered",
            Self::Storage => "s3",
            Self::Network => "network",
            Self::Local => "output",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a transfer failed.
#[derive(Debug)]
pub enum Error {
    /// The message engine refused (encrypting or decrypting).
    Message(cse_core::Error),
    /// An S3 request failed.
    S3(S3Error),
    /// The object holds no bytes: not an encrypted message.
    EmptyObject,
    /// The header goes on past this many bytes: refused before more of it is read.
    HeaderTooLong { max: u64 },
    /// Reading the input or writing the output failed.
    Local(String),
    /// Cancelled.
    Cancelled,
    /// A multipart upload failed and could not be aborted: its parts stay until removed.
    Unaborted {
        error: Box<Error>,
        upload_id: String,
        abort: S3Error,
    },
    /// A resumable multipart upload stopped and was kept: running the same upload again
    /// continues it.
    Suspended {
        error: Box<Error>,
        upload_id: String,
        /// Parts stored so far.
        stored: u32,
    },
    /// A bug.
    Internal(&'static str),
}

impl Error {
    /// What the user should do about it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Message(e) => ErrorClass::of_message(e),
            Self::S3(e) => ErrorClass::of_s3(e),
            Self::EmptyObject => ErrorClass::Rejected,
            Self::HeaderTooLong { .. } => ErrorClass::Refused,
            Self::Local(_) => ErrorClass::Local,
            Self::Cancelled => ErrorClass::Cancelled,
            Self::Unaborted { error, .. } | Self::Suspended { error, .. } => error.class(),
            Self::Internal(_) => ErrorClass::Internal,
        }
    }
}

impl From<cse_core::Error> for Error {
    fn from(e: cse_core::Error) -> Self {
        Self::Message(e)
    }
}

impl From<S3Error> for Error {
    fn from(e: S3Error) -> Self {
        Self::S3(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(e) => e.fmt(f),
            Self::S3(e) => e.fmt(f),
            Self::EmptyObject => f.write_str("the object is empty: not an encrypted message"),
            Self::HeaderTooLong { max } => write!(f, "the header is longer than {max} bytes"),
            Self::Local(m) => f.write_str(m),
            Self::Cancelled => f.write_str("cancelled"),
            Self::Unaborted { error, .. } | Self::Suspended { error, .. } => error.fmt(f),
            Self::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_errors_are_classified_once() {
        use cse_core::Error as E;
        assert_eq!(ErrorClass::of_message(&E::Key("x".into())), ErrorClass::Key);
        assert_eq!(
            ErrorClass::of_message(&E::TooManyEncryptedDataKeys { count: 9, max: 1 }),
            ErrorClass::Refused
        );
        assert_eq!(
            ErrorClass::of_message(&E::HeaderAuthentication),
            ErrorClass::Rejected
        );
        assert_eq!(ErrorClass::of_message(&E::Truncated), ErrorClass::Rejected);
        assert_eq!(Error::Cancelled.class().page_kind(), "cancelled");
        assert_eq!(Error::EmptyObject.class().page_kind(), "tampered");
    }
}
