//! Failures of a command: one or two lines for a person, and an exit status for scripts.

use std::fmt;
use std::process::ExitCode;

use cse_s3::S3Error;

/// Why a command failed; each kind has its own exit status.
#[derive(Debug)]
pub enum Kind {
    /// Anything else (local I/O...): 1.
    Other,
    /// An S3 request failed: 3.
    S3,
    /// The message was rejected (tampered, truncated, wrong key, policy): 4.
    Message,
    /// A key or a setting is missing or unusable: 5.
    Config,
    /// Ctrl-C: 130.
    Interrupted,
}

/// A failed command.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
        }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }
    pub fn interrupted(what: impl Into<String>) -> Self {
        Self::new(Kind::Interrupted, what)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Puts `what` (a file, an object) in front of the message.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            Kind::Other => 1,
            Kind::S3 => 3,
            Kind::Message => 4,
            Kind::Config => 5,
            Kind::Interrupted => 130,
        })
    }

    /// Maps a message error, naming the key we tried when no data key matched.
    pub fn message(e: cse_core::Error, keyring: Option<&str>) -> Self {
        use cse_core::Error as E;
        match &e {
            E::Key(_) => Self::config(e.to_string()),
            E::NoDecryptableKey { available, .. } => {
                let held: Vec<String> = available.iter().map(ToString::to_string).collect();
                let mut f = Self::new(
                    Kind::Message,
                    format!(
                        "no data key in the message could be decrypted with {}; the message holds: {}",
                        keyring.unwrap_or("the given key"),
                        held.join(", ")
                    ),
                );
                f.hint = Some(if keyring.is_some_and(|k| held.iter().any(|h| h == k)) {
                    "the key name matches but the private key does not: this object was \
                         encrypted for another key pair"
                        .into()
                } else {
                    "use the private key whose namespace/name the message holds \
                         (--key-namespace, --key-name)"
                        .into()
                });
                f
            }
            E::HeaderAuthentication | E::CommitmentMismatch if keyring.is_some() => {
                Self::new(Kind::Message, e.to_string()).with_hint(
                    "a wrong private key (or the wrong RSA padding) can also end here; otherwise \
                 the message was altered",
                )
            }
            E::Config(_) | E::Misuse(_) => Self::other(e.to_string()),
            _ => Self::new(Kind::Message, e.to_string()),
        }
    }

    /// Maps an I/O error from the streaming layer, which carries message errors inside.
    pub fn io(e: std::io::Error, keyring: Option<&str>) -> Self {
        let is_core = e
            .get_ref()
            .is_some_and(|inner| inner.is::<cse_core::Error>());
        if is_core {
            if let Some(inner) = e.into_inner()
                && let Ok(core) = inner.downcast::<cse_core::Error>()
            {
                return Self::message(*core, keyring);
            }
            return Self::new(Kind::Message, "the message was rejected");
        }
        Self::other(e.to_string())
    }
}

impl From<S3Error> for Failure {
    fn from(e: S3Error) -> Self {
        let kind = match e {
            S3Error::Config(_) => Kind::Config,
            _ => Kind::S3,
        };
        Self {
            kind,
            hint: e.hint(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cse: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\ncse: hint: {h}")?;
        }
        Ok(())
    }
}
