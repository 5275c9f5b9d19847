//! Errors of S3 requests, each with the likely fix in plain words.

use core::fmt;

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

    /// The likely fix, when the error says enough to guess it.
    pub fn hint(&self) -> Option<String> {
        // The page and the command line name their settings differently.
        let web = cfg!(target_arch = "wasm32");
        let hint = match self {
            Self::Service { code, status, .. } => match code.as_str() {
                "SignatureDoesNotMatch" if web => {
                    "the secret key does not match the access key: check the secret key"
                }
                "SignatureDoesNotMatch" => {
                    "the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY \
                     or aws_secret_access_key in the profile used"
                }
                "InvalidAccessKeyId" if web => {
                    "the server does not know this access key: check the access key and the \
                     endpoint"
                }
                "InvalidAccessKeyId" => {
                    "the server does not know this access key: check AWS_ACCESS_KEY_ID, the \
                     profile, and that the endpoint is the right service"
                }
                "NoSuchBucket" if web => {
                    "the bucket does not exist on this endpoint: check the bucket name and the \
                     endpoint"
                }
                "NoSuchBucket" => {
                    "the bucket does not exist on this endpoint: check its name and \
                     --endpoint-url (create it with `cse mb s3://BUCKET`)"
                }
                "NoSuchKey" => "no object has this key: list the bucket with `cse ls`",
                "AccessDenied" => {
                    "the credentials are valid but not allowed to do this on this bucket"
                }
                "RequestTimeTooSkewed" => {
                    "this machine's clock differs too much from the server's: fix the clock"
                }
                "NoSuchUpload" => "the multipart upload was already completed or aborted",
                "EntityTooSmall" => "a part other than the last is below the 5 MiB minimum",
                "PreconditionFailed" => "the object changed while it was being downloaded",
                _ if (*status == 301 || code == "PermanentRedirect") && web => {
                    "the bucket lives in another region or needs another endpoint: check the \
                     region"
                }
                _ if *status == 301 || code == "PermanentRedirect" => {
                    "the bucket lives in another region or needs another endpoint: set --region"
                }
                _ if *status == 501 => "this S3-compatible server does not implement the request",
                _ => return None,
            },
            Self::Network { .. } if cfg!(target_arch = "wasm32") => {
                "the browser could not reach the endpoint, or the bucket has no CORS rule for \
                 this page: the bucket needs a CORS rule allowing this origin, the methods GET, \
                 PUT, POST, DELETE and HEAD, all request headers (AllowedHeaders: *), and \
                 ExposeHeaders: ETag"
            }
            Self::Network { .. } => {
                "the endpoint did not answer: check --endpoint-url and the network"
            }
            _ => return None,
        };
        Some(hint.to_string())
    }
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
