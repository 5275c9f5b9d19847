//! Errors of S3 requests: the operation, the S3 code and status, and a kind a front end
//! turns into advice in its own words.

use core::fmt;

/// Characters of a server's error code and message kept (they are shown to people).
const MAX_ERROR_TEXT: usize = 300;

/// What went wrong with an S3 request.
#[derive(Debug)]
#[non_exhaustive]
pub enum S3Error {
    /// The server answered with an error status.
    Service {
        /// `GET s3://bucket/key` and the like.
        operation: String,
        /// HTTP status.
        status: u16,
        /// The S3 error code (`NoSuchKey`, `SignatureDoesNotMatch`, ...), if the body had one.
        code: String,
        /// The server's message, if any.
        message: String,
    },
    /// No answer: connection refused or reset, timeout, DNS, TLS, or (in a browser) CORS.
    Network {
        /// `GET s3://bucket/key` and the like.
        operation: String,
        /// The transport's description.
        detail: String,
    },
    /// An answer we could not understand.
    Protocol {
        /// `GET s3://bucket/key` and the like.
        operation: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A setting is missing or invalid (endpoint, credentials, bucket name...).
    Config(String),
}

impl S3Error {
    /// The S3 error code, for service errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for service errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Service { status, code, .. } => {
                matches!(status, 500 | 502 | 503 | 504 | 429)
                    || matches!(
                        code.as_str(),
                        "SlowDown"
                            | "InternalError"
                            | "RequestTimeout"
                            | "ServiceUnavailable"
                            | "Throttling"
                            | "ThrottlingException"
                    )
            }
            Self::Network { .. } => true,
            Self::Protocol { .. } | Self::Config(_) => false,
        }
    }

    /// What kind of failure this is, for a front end to choose its words and its exit
    /// status. Retryable service errors (throttling, 5xx) are [`ErrorKind::Throttled`] whatever
    /// their code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Network { .. } => ErrorKind::Network,
            Self::Config(_) => ErrorKind::Config,
            Self::Protocol { .. } => ErrorKind::Other,
            Self::Service { .. } if self.is_transient() => ErrorKind::Throttled,
            Self::Service { status, code, .. } => match (*status, code.as_str()) {
                (
                    _,
                    "AccessDenied"
                    | "SignatureDoesNotMatch"
                    | "InvalidAccessKeyId"
                    | "RequestTimeTooSkewed"
                    | "ExpiredToken"
                    | "InvalidToken",
                )
                | (401 | 403, _) => ErrorKind::Denied,
                (_, "NoSuchBucket" | "NoSuchKey" | "NoSuchUpload" | "NotFound") | (404, _) => {
                    ErrorKind::NotFound
                }
                (_, "PreconditionFailed") | (412, _) => ErrorKind::PreconditionFailed,
                _ => ErrorKind::Other,
            },
        }
    }
}

/// The kinds of [`S3Error`]: what a person can do about it. The exact S3 code, when there is
/// one, is in [`S3Error::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No answer: connection refused or reset, timeout, DNS, TLS, or (in a browser) CORS.
    Network,
    /// The server refused the credentials or the signature, or they may not do this
    /// (`AccessDenied`, `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
    /// `RequestTimeTooSkewed`...).
    Denied,
    /// No such bucket, key or multipart upload.
    NotFound,
    /// A condition of the request did not hold (`If-Match`: the object changed).
    PreconditionFailed,
    /// The store is busy or failed (429, 5xx, `SlowDown`...); the request was already
    /// retried.
    Throttled,
    /// A setting is missing or invalid (endpoint, credentials, CA bundle...).
    Config,
    /// Anything else: another service error, or an answer we could not understand.
    Other,
}

/// A server-given text cut to a length fit for a message.
pub(crate) fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A header value for a message: visible ASCII kept, the rest escaped, the length capped.
pub(crate) fn printable_ascii(text: &str) -> String {
    let mut out = String::new();
    for c in capped(text).chars() {
        if c == '…' || (c.is_ascii() && !c.is_ascii_control()) {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service {
                operation,
                status,
                code,
                message,
            } => {
                write!(f, "{operation}: HTTP {status}")?;
                if !code.is_empty() {
                    write!(f, " {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Self::Network { operation, detail } => write!(f, "{operation}: {detail}"),
            Self::Protocol { operation, detail } => {
                write!(f, "{operation}: unexpected answer: {detail}")
            }
            Self::Config(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for S3Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(status: u16, code: &str) -> S3Error {
        S3Error::Service {
            operation: "PUT".into(),
            status,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn transient_errors_are_told_apart() {
        assert!(svc(503, "SlowDown").is_transient());
        assert!(svc(500, "InternalError").is_transient());
        assert!(!svc(403, "SignatureDoesNotMatch").is_transient());
        assert!(!svc(404, "NoSuchBucket").is_transient());
    }

    #[test]
    fn errors_have_a_kind_a_code_and_a_status() {
        let e = svc(403, "SignatureDoesNotMatch");
        assert_eq!(e.kind(), ErrorKind::Denied);
        assert_eq!(
            (e.code(), e.status()),
            (Some("SignatureDoesNotMatch"), Some(403))
        );
        assert_eq!(svc(404, "NoSuchBucket").kind(), ErrorKind::NotFound);
        assert_eq!(svc(404, "").kind(), ErrorKind::NotFound);
        assert_eq!(
            svc(412, "PreconditionFailed").kind(),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(svc(503, "SlowDown").kind(), ErrorKind::Throttled);
        assert_eq!(svc(200, "InternalError").kind(), ErrorKind::Throttled);
        assert_eq!(svc(301, "PermanentRedirect").kind(), ErrorKind::Other);
        assert_eq!(svc(400, "EntityTooSmall").kind(), ErrorKind::Other);
        let net = S3Error::Network {
            operation: "GET".into(),
            detail: "refused".into(),
        };
        assert_eq!(
            (net.kind(), net.code(), net.status()),
            (ErrorKind::Network, None, None)
        );
        assert_eq!(S3Error::Config("x".into()).kind(), ErrorKind::Config);
    }

    #[test]
    fn server_text_is_capped() {
        let long = "é".repeat(5000);
        let c = capped(&long);
        assert_eq!(c.chars().count(), MAX_ERROR_TEXT + 1);
        assert_eq!(printable_ascii("a\u{1b}]0;x\u{7}"), "a\\u{1b}]0;x\\u{7}");
    }
}
