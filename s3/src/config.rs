//! Where the store is and how to reach it: endpoint, region, addressing, credentials, retries
//! and extra trust roots.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::S3Error;

/// Access key, secret key and optional session token. The secret is zeroized on drop and
/// never printed.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How a bucket appears in request URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// `https://endpoint/bucket/key` (what S3-compatible stores expect).
    Path,
    /// `https://bucket.endpoint/key` (AWS's default).
    VirtualHost,
}

/// When to retry and how long to wait.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Base of the exponential backoff; each wait is uniform in [0, base · 2^attempt].
    pub base_delay: Duration,
    /// Ceiling of one wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Where and how to reach the store.
#[derive(Clone, Debug)]
pub struct Config {
    /// `https://host[:port]` (a path after the host is kept as a prefix).
    pub endpoint: String,
    /// Signing region.
    pub region: String,
    /// Path-style or virtual-host addressing.
    pub addressing: Addressing,
    /// The keys that sign requests.
    pub credentials: Credentials,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256 (saves one hash pass; over
    /// TLS the transport already protects the body).
    pub unsigned_payload: bool,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// PEM certificates (a site CA) trusted beside the system's roots for https endpoints
    /// (native only: the browser uses its own trust store).
    pub ca_bundle: Option<Vec<u8>>,
}

impl Config {
    /// Whether bodies are signed as `UNSIGNED-PAYLOAD` when nothing says otherwise: over
    /// https, as the AWS SDKs do (TLS protects the body, and one SHA-256 pass over every part
    /// is saved); over plain http each body is signed with its SHA-256.
    pub fn unsigned_payload_by_default(endpoint: &str) -> bool {
        endpoint.starts_with("https://")
    }

    /// Checks the endpoint's scheme and that there are credentials.
    pub(crate) fn check(&self) -> Result<(), S3Error> {
        let endpoint = self.endpoint.trim_end_matches('/');
        let ok = (endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            && endpoint.split("://").nth(1).is_some_and(|h| !h.is_empty());
        if !ok {
            return Err(S3Error::Config(format!(
                "the endpoint URL {:?} must start with http:// or https://",
                self.endpoint
            )));
        }
        if self.credentials.access_key_id.is_empty()
            || self.credentials.secret_access_key.is_empty()
        {
            return Err(S3Error::Config(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 aws_access_key_id/aws_secret_access_key in ~/.aws/credentials"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A client of a local endpoint with example keys, for the unit tests.
#[cfg(test)]
pub(crate) fn test_client(addressing: Addressing) -> crate::Client {
    crate::Client::new(Config {
        endpoint: "http://127.0.0.1:9000/".into(),
        region: "us-east-1".into(),
        addressing,
        credentials: Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("secret".into()),
            session_token: None,
        },
        unsigned_payload: false,
        retry: RetryPolicy::default(),
        ca_bundle: None,
    })
    .expect("client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = test_client(Addressing::Path);
        let text = format!("{:?}", c.config().credentials);
        assert!(!text.contains("secret\"") && text.contains("<redacted>"));
    }
}
