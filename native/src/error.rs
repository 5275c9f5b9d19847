//! Failures of a command: one or two lines for a person, and an exit status for scripts.
//!
//! Whatever reaches the terminal is inert: text from a server or a message (object keys,
//! error documents, data-key names) is escaped with `cse_core::error::printable` where it is
//! put in a message, and every line printed passes [`inert`] again, so no control byte (ESC,
//! OSC, CR, BEL...) gets out and no line runs on.

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;

use cse_core::Limit;
use cse_core::error::printable;
use cse_s3::{ErrorKind as S3ErrorKind, S3Error};
use cse_transfer::ErrorClass;

/// Characters of one untrusted field shown in a message (an S3 key is at most 1 024 bytes).
pub const FIELD_CHARS: usize = 1024;
/// Bytes of a message line printed on stderr (a failure is at most two lines).
const LINE_BYTES: usize = 1500;
/// Bytes of a line printed on stdout (room for any S3 key escaped).
const OUT_LINE_BYTES: usize = 8192;

/// An untrusted value (an object key, a path, a server's text) made printable.
pub fn shown(value: &impl fmt::Display) -> String {
    printable(&value.to_string(), FIELD_CHARS)
}

/// `text` with every control or invisible format character escaped, cut (with `…`) to at
/// most `max_bytes` bytes; unlike `printable`, backslashes are kept, so already escaped text
/// is not escaped twice.
pub fn inert(text: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_bytes));
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        let code = c as u32;
        if code < 0x20 || (0x7f..0xa0).contains(&code) {
            piece.push_str(&format!("\\x{code:02x}"));
        } else if matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
        {
            piece.push_str(&format!("\\u{{{code:x}}}"));
        } else {
            piece.push(c);
        }
        if out.len() + piece.len() > max_bytes {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Writes lines to stderr, made inert; a closed stderr is ignored (never a panic).
pub fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(err, "{}", inert(line, LINE_BYTES));
    }
}

/// Writes one line to stdout, made inert (tabs, which separate columns, are kept; the
/// fields themselves were escaped with [`shown`]).
pub fn tell(line: &str) -> Result<(), Failure> {
    let fields: Vec<String> = line.split('\t').map(|f| inert(f, OUT_LINE_BYTES)).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", fields.join("\t")).map_err(|e| Failure::other(format!("stdout: {e}")))
}

/// The flag that raises a limit.
pub fn limit_flag(limit: Limit) -> &'static str {
    match limit {
        Limit::EncryptedDataKeys => "--max-encrypted-data-keys",
        Limit::KeyAttempts => "--max-key-attempts",
        Limit::HeaderSize => "--max-header-size",
        Limit::FrameLength => "--max-frame-length",
        Limit::NonFramedSize => "--max-body-size",
        _ => "the matching --max-* option",
    }
}

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
    /// Ctrl-C (130), SIGTERM (143) or SIGHUP (129).
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

    /// The exit status's kind for what the user should do (one classification, in
    /// `cse-transfer`, shared with the page).
    pub fn kind_of(class: ErrorClass) -> Kind {
        match class {
            ErrorClass::Settings | ErrorClass::Key => Kind::Config,
            ErrorClass::WrongKey
            | ErrorClass::Refused
            | ErrorClass::Policy
            | ErrorClass::Rejected => Kind::Message,
            ErrorClass::Storage | ErrorClass::Network => Kind::S3,
            ErrorClass::Local | ErrorClass::Internal => Kind::Other,
            ErrorClass::Cancelled => Kind::Interrupted,
        }
    }

    /// Maps a failed transfer, naming the key we tried when no data key matched.
    pub fn transfer(e: cse_transfer::Error, keyring: Option<&str>) -> Self {
        use cse_transfer::Error as T;
        match e {
            T::Message(m) => Self::message(m, keyring),
            T::S3(s) => s.into(),
            T::Cancelled => Self::interrupted(crate::signal::stop_name()),
            T::Unaborted {
                error,
                upload_id,
                abort,
            } => {
                let mut f = Self::transfer(*error, keyring);
                let id = shown(&upload_id);
                f.message = format!(
                    "{}; the multipart upload {id} could not be aborted: {}",
                    f.message,
                    shown(&abort)
                );
                f.hint = Some(format!(
                    "remove it later with `cse mpu abort s3://BUCKET/KEY --upload-id {id}`"
                ));
                f
            }
            T::Suspended {
                error,
                upload_id,
                stored,
            } => {
                let mut f = Self::transfer(*error, keyring);
                f.message = format!(
                    "{}; the upload is kept for later ({stored} parts stored)",
                    f.message
                );
                f.hint = Some(format!(
                    "run the same command again to continue it, or discard it with                      `cse mpu abort s3://BUCKET/KEY --upload-id {}`",
                    shown(&upload_id)
                ));
                f
            }
            other => Self::new(Self::kind_of(other.class()), other.to_string()),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            Kind::Other => 1,
            Kind::S3 => 3,
            Kind::Message => 4,
            Kind::Config => 5,
            Kind::Interrupted => crate::signal::exit_status(),
        })
    }

    /// Maps a message error, naming the key we tried when no data key matched.
    pub fn message(e: cse_core::Error, keyring: Option<&str>) -> Self {
        use cse_core::Error as E;
        match &e {
            E::LimitExceeded { limit, found, max } => Self::new(
                Kind::Message,
                format!(
                    "message refused: {}: {found} where at most {max} are allowed \
                     (raise it with {} if the message is trusted)",
                    limit_what(*limit),
                    limit_flag(*limit)
                ),
            ),
            E::TooManyEncryptedDataKeys { count, max } => Self::new(
                Kind::Message,
                format!(
                    "message refused: encrypted data keys: {count} where at most {max} are \
                     allowed (raise it with {} if the message is trusted)",
                    limit_flag(Limit::EncryptedDataKeys)
                ),
            ),
            E::NoDecryptableKey {
                available, total, ..
            } => {
                let held: Vec<String> = available.iter().map(ToString::to_string).collect();
                let more = total.saturating_sub(held.len());
                let mut list = held.join(", ");
                if list.is_empty() {
                    list = "no data keys".into();
                }
                if more > 0 {
                    list.push_str(&format!(" and {more} more"));
                }
                let mut f = Self::new(
                    Kind::Message,
                    format!(
                        "no data key in the message could be decrypted with {}; the message holds: {list}",
                        keyring.unwrap_or("the given key"),
                    ),
                );
                f.hint = Some(if keyring.is_some_and(|k| held.iter().any(|h| h == k)) {
                    if *total > 1 {
                        format!(
                            "the key name matches but the private key does not: this object \
                             was encrypted for {total} recipients' key pairs, none of them this one"
                        )
                    } else {
                        "the key name matches but the private key does not: this object was \
                         encrypted for another key pair"
                            .into()
                    }
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
            _ => Self::new(Self::kind_of(ErrorClass::of_message(&e)), e.to_string()),
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
        let kind = Self::kind_of(ErrorClass::of_s3(&e));
        Self {
            kind,
            hint: s3_hint(&e).map(str::to_string),
            message: printable(&e.to_string(), FIELD_CHARS),
        }
    }
}

/// The likely fix of a failed S3 request, in the words of the command line (its flags,
/// variables and commands), when the error says enough to guess it.
fn s3_hint(e: &S3Error) -> Option<&'static str> {
    use S3ErrorKind as K;
    let hint = match (e.kind(), e.code().unwrap_or_default()) {
        (K::Network, _) => "the endpoint did not answer: check --endpoint-url and the network",
        (K::Denied, "SignatureDoesNotMatch") => {
            "the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY or \
             aws_secret_access_key in the profile used"
        }
        (K::Denied, "InvalidAccessKeyId") => {
            "the server does not know this access key: check AWS_ACCESS_KEY_ID, the profile, \
             and that the endpoint is the right service"
        }
        (K::Denied, "AccessDenied") => {
            "the credentials are valid but not allowed to do this on this bucket"
        }
        (K::Denied, "RequestTimeTooSkewed") => {
            "this machine's clock differs too much from the server's: fix the clock"
        }
        (K::NotFound, "NoSuchBucket") => {
            "the bucket does not exist on this endpoint: check its name and --endpoint-url \
             (create it with `cse mb s3://BUCKET`)"
        }
        (K::NotFound, "NoSuchKey") => "no object has this key: list the bucket with `cse ls`",
        (K::NotFound, "NoSuchUpload") => "the multipart upload was already completed or aborted",
        (K::PreconditionFailed, _) => "the object changed while it was being downloaded",
        (_, "EntityTooSmall") => "a part other than the last is below the 5 MiB minimum",
        (_, code) if code == "PermanentRedirect" || e.status() == Some(301) => {
            "the bucket lives in another region or needs another endpoint: set --region"
        }
        _ if e.status() == Some(501) => "this S3-compatible server does not implement the request",
        _ => return None,
    };
    Some(hint)
}

/// What a limit counts, in words.
fn limit_what(limit: Limit) -> &'static str {
    match limit {
        Limit::EncryptedDataKeys => "encrypted data keys",
        Limit::KeyAttempts => "data keys to try with the private key",
        Limit::HeaderSize => "header bytes",
        Limit::FrameLength => "frame length in bytes",
        Limit::NonFramedSize => "non-framed body bytes",
        _ => "a limit",
    }
}

impl cse_transfer::ObjectError for Failure {
    fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Interrupted)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cse: {}", inert(&self.message, LINE_BYTES))?;
        if let Some(h) = &self.hint {
            write!(f, "\ncse: hint: {}", inert(h, LINE_BYTES))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_failures_hold_no_control_bytes() {
        let evil = "a\u{1b}]0;pwned\u{7}\r\u{1b}[2J\u{9b}31m\u{202e}b\\x1b".repeat(200);
        let f = Failure::other(evil.clone()).with_hint(evil);
        let text = f.to_string();
        assert!(text.lines().count() == 2, "{text}");
        assert!(text.len() < 4096);
        assert!(
            text.bytes()
                .all(|b| b == b'\n' || (0x20..0x7f).contains(&b) || b >= 0x80)
        );
        assert!(!text.contains('\u{9b}') && !text.contains('\u{202e}'));
        assert!(text.contains("\\x1b]0;pwned\\x07"));
    }

    #[test]
    fn s3_hints_name_the_command_line_settings() {
        let svc = |status, code: &str| S3Error::Service {
            operation: "PUT s3://b/k".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        let f = Failure::from(svc(403, "SignatureDoesNotMatch"));
        assert!(matches!(f.kind, Kind::S3));
        assert!(f.hint.is_some_and(|h| h.contains("AWS_SECRET_ACCESS_KEY")));
        let hint = |e| Failure::from(e).hint.unwrap_or_default();
        assert!(hint(svc(404, "NoSuchBucket")).contains("--endpoint-url"));
        assert!(hint(svc(301, "")).contains("--region"));
        assert!(hint(svc(404, "NoSuchUpload")).contains("aborted"));
        assert!(hint(svc(400, "InvalidArgument")).is_empty());
        let config = Failure::from(S3Error::Config("no endpoint".into()));
        assert!(matches!(config.kind, Kind::Config) && config.hint.is_none());
    }

    #[test]
    fn limits_name_their_flag() {
        let e = cse_core::Error::LimitExceeded {
            limit: Limit::FrameLength,
            found: 1 << 30,
            max: 8 << 20,
        };
        let f = Failure::message(e, Some("MyAppKeys/S3RSAKey"));
        assert!(matches!(f.kind, Kind::Message));
        let text = f.to_string();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("--max-frame-length") && text.contains("1073741824"));
        let e = cse_core::Error::TooManyEncryptedDataKeys { count: 9, max: 2 };
        assert!(
            Failure::message(e, None)
                .to_string()
                .contains("--max-encrypted-data-keys")
        );
    }
}
