//! The HTTP side: the reqwest client (timeouts, extra CA roots, proxies from the environment),
//! one signed exchange with its answer read within a bound, and retries with jittered
//! exponential backoff.

use std::sync::Arc;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Duration;

use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

use crate::error::capped;
use crate::request::{Request, Response, url};
use crate::rt::sleep;
use crate::sign::{identity, signature, signing_error};
use crate::{Config, S3Error, xml};

/// Bytes of an error answer read; the rest is dropped.
const MAX_ERROR_ANSWER: u64 = 64 << 10;

/// An S3 client: cheap to clone, safe to share between tasks.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<Config>,
    identity: Identity,
}

impl Client {
    /// A client for `config`; checks the endpoint.
    pub fn new(config: Config) -> Result<Self, S3Error> {
        config.check()?;
        let identity = identity(&config.credentials);
        let builder = reqwest::Client::builder();
        #[cfg(not(target_arch = "wasm32"))]
        let builder = builder
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(32);
        #[cfg(not(target_arch = "wasm32"))]
        let builder = match &config.ca_bundle {
            Some(pem) => {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .ok()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| {
                        S3Error::Config(
                            "the CA bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                                .into(),
                        )
                    })?;
                builder.tls_certs_merge(certs)
            }
            None => builder,
        };
        // Proxies come from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, as the AWS
        // tools read them (reqwest's default).
        let http = builder
            .build()
            .map_err(|e| S3Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            config: Arc::new(config),
            identity,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `req` for `url` as an HTTP request, signed now.
    pub(crate) fn build(&self, req: &Request<'_>, url: &str) -> Result<reqwest::Request, S3Error> {
        let instructions = signature(&self.config, &self.identity, req, url)?;
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| signing_error(&e))?;
        let mut builder = self.http.request(method, url);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        for (name, value) in instructions.headers() {
            builder = builder.header(name, value);
        }
        builder
            .body(req.body.data.clone())
            .build()
            .map_err(|e| signing_error(&e))
    }

    async fn send_once(&self, req: &Request<'_>, url: &str) -> Result<Response, S3Error> {
        let op = || req.describe();
        let request = self.build(req, url)?;
        let resp = self
            .http
            .execute(request)
            .await
            .map_err(|e| S3Error::Network {
                operation: op(),
                detail: error_chain(&e),
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let ok = (200..300).contains(&status);
        // An error document is read only in part; a success must fit its bound. A HEAD answer
        // has no body: its Content-Length is the object's (and a browser shows it), not a
        // body to bound.
        let limit = match (ok, req.method) {
            (true, "HEAD") => 0,
            (true, _) => req.max_answer,
            (false, _) => MAX_ERROR_ANSWER,
        };
        let body = if ok && req.method == "HEAD" {
            Ok(Bytes::new())
        } else {
            read_body(resp, limit, ok).await
        };
        let body = body.map_err(|e| match e {
            ReadError::Http(e) => S3Error::Network {
                operation: op(),
                detail: format!("reading the answer: {}", error_chain(&e)),
            },
            ReadError::TooLarge(announced) => S3Error::Protocol {
                operation: op(),
                detail: format!(
                    "the answer is larger than the {limit} bytes expected{}",
                    announced
                        .map(|n| format!(" (Content-Length {n})"))
                        .unwrap_or_default()
                ),
            },
        })?;
        if ok {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let (code, message) = match xml::parse(&body) {
            Ok(root) if root.name == "Error" => (
                capped(root.text_of("Code").unwrap_or_default()),
                capped(root.text_of("Message").unwrap_or_default()),
            ),
            _ => (default_code(status).to_string(), String::new()),
        };
        Err(S3Error::Service {
            operation: op(),
            status,
            code,
            message,
        })
    }

    /// Sends a request, re-signing and retrying transient failures with jittered backoff.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Response, S3Error> {
        let url = url(&self.config, req.bucket, req.key, &req.query);
        let policy = self.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(&req, &url).await {
                Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                    let ceiling = policy
                        .base_delay
                        .saturating_mul(1 << attempt.min(16))
                        .min(policy.max_delay);
                    sleep(ceiling.mul_f64(jitter())).await;
                }
                other => return other,
            }
        }
    }
}

/// Why an answer body was not read.
enum ReadError {
    Http(reqwest::Error),
    /// More than the bound (the announced length, if that is what said so).
    TooLarge(Option<u64>),
}

/// The body, at most `limit` bytes. Over the limit, a success (`strict`) is an error, and
/// anything else is cut there (an error document is only shown). Natively it is copied chunk
/// by chunk into one buffer, so a large body is held once rather than as chunks plus their
/// concatenation, and the announced length reserves no more than the limit.
async fn read_body(resp: reqwest::Response, limit: u64, strict: bool) -> Result<Bytes, ReadError> {
    let announced = resp.content_length();
    if strict && announced.is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge(announced));
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut resp = resp;
        let cap = usize::try_from(announced.unwrap_or(0).min(limit)).unwrap_or(0);
        let mut buf = bytes::BytesMut::with_capacity(cap);
        while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
            let room = usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_sub(buf.len());
            if chunk.len() > room {
                if strict {
                    return Err(ReadError::TooLarge(None));
                }
                buf.extend_from_slice(&chunk[..room]);
                break;
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
    #[cfg(target_arch = "wasm32")]
    {
        let body = resp.bytes().await.map_err(ReadError::Http)?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        match body.len() > limit {
            true if strict => Err(ReadError::TooLarge(None)),
            true => Ok(body.slice(..limit)),
            false => Ok(body),
        }
    }
}

/// The S3 error code an error status stands for when its answer has no error document.
fn default_code(status: u16) -> &'static str {
    match status {
        301 => "PermanentRedirect",
        403 => "AccessDenied",
        404 => "NotFound",
        412 => "PreconditionFailed",
        429 => "SlowDown",
        503 => "ServiceUnavailable",
        _ => "",
    }
}

/// A uniform draw in [0, 1) for backoff jitter.
fn jitter() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// An error and its causes on one line (reqwest hides the useful part in `source()`).
fn error_chain(e: &dyn std::error::Error) -> String {
    // In a browser the causes carry JavaScript stacks: keep their first lines.
    let first_line = |s: String| s.lines().next().unwrap_or_default().to_string();
    let mut text = first_line(e.to_string());
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = first_line(c.to_string());
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}
