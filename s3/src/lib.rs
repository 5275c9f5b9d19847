//! Signed S3 requests for `cse`: SigV4 signing, the S3 XML documents we use, and retries with
//! backoff. The same code runs in the native tool (reqwest over rustls) and in the browser page
//! (reqwest over `fetch`, compiled to `wasm32-unknown-unknown`).
//!
//! Requests carry plain bodies with `Content-Length` and no flexible-checksum or aws-chunked
//! encoding, which every S3-compatible store accepts. The signing time always comes from
//! [`now`], which reads the browser clock on wasm32 (where `SystemTime::now` traps).
#![forbid(unsafe_code)]

mod error;
mod xml;

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use bytes::Bytes;
use md5::Md5;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use error::S3Error;
pub use xml::{Element, escape as xml_escape, parse as parse_xml};

/// Largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// Smallest part other than the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Largest part.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// Largest XML answer read (a listing page of 1 000 keys of 1 024 bytes is about 1.5 MB).
pub const MAX_XML_ANSWER: u64 = 16 << 20;
/// Bytes of an error answer read; the rest is dropped.
const MAX_ERROR_ANSWER: u64 = 64 << 10;
/// Characters of a server's error code and message kept (they are shown to people).
const MAX_ERROR_TEXT: usize = 300;
/// Depth of XML element nesting accepted (S3 documents use four levels).
pub const MAX_XML_DEPTH: usize = 32;

/// The current time: the browser clock on wasm32, the system clock elsewhere.
pub fn now() -> SystemTime {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        SystemTime::UNIX_EPOCH + Duration::from_millis(js_sys::Date::now() as u64)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        SystemTime::now()
    }
}

async fn sleep(d: Duration) {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            if let Ok(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into()) {
                let set_timeout: js_sys::Function = set_timeout.into();
                let _ = set_timeout.call2(&global, &resolve, &(d.as_millis() as f64).into());
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    tokio::time::sleep(d).await;
}

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

/// Size and identity of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Object key.
    pub key: String,
    /// Length in bytes.
    pub size: u64,
    /// ETag with its quotes.
    pub etag: String,
    /// Last-Modified as the server wrote it (ISO 8601 in listings, HTTP date in HEAD).
    pub last_modified: String,
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct ListPage {
    /// Objects on this page.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
    /// Token for the next page, if the listing continues.
    pub next_token: Option<String>,
}

/// An unfinished multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadInfo {
    /// Object key it will create.
    pub key: String,
    /// Its id.
    pub upload_id: String,
    /// When it started.
    pub initiated: String,
}

/// Part size for a multipart upload of `total` bytes: at least `wanted` (and 5 MiB), grown in
/// whole MiB until the upload fits in 10 000 parts.
pub fn plan_part_size(total: u64, wanted: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let needed = total.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    wanted.max(MIN_PART_SIZE).max(needed).min(MAX_PART_SIZE)
}

/// Hex SHA-256 of a payload, as SigV4 signs it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `s3://bucket/key` split into bucket and key (the key may be empty).
pub fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// Characters escaped in an object key in a path (everything but unreserved and `/`).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// Characters escaped in a query value (everything but unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request body and how it is signed.
#[derive(Clone, Debug, Default)]
pub struct Body {
    /// The bytes sent.
    pub data: Bytes,
    /// Their hex SHA-256, when the caller already has it (computed here otherwise, unless the
    /// client signs `UNSIGNED-PAYLOAD`).
    pub sha256: Option<String>,
}

impl From<Bytes> for Body {
    fn from(data: Bytes) -> Self {
        Self { data, sha256: None }
    }
}

impl From<Vec<u8>> for Body {
    fn from(data: Vec<u8>) -> Self {
        Bytes::from(data).into()
    }
}

struct Request<'a> {
    method: &'static str,
    bucket: &'a str,
    key: Option<&'a str>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Body,
    /// Largest successful answer body accepted.
    max_answer: u64,
}

impl<'a> Request<'a> {
    fn new(method: &'static str, bucket: &'a str, key: Option<&'a str>) -> Self {
        Self {
            method,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::default(),
            max_answer: MAX_XML_ANSWER,
        }
    }
    fn max_answer(mut self, bytes: u64) -> Self {
        self.max_answer = bytes;
        self
    }
    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
    fn describe(&self) -> String {
        let sub = self
            .query
            .first()
            .map(|(q, _)| format!(" ({q})"))
            .unwrap_or_default();
        format!(
            "{} s3://{}/{}{sub}",
            self.method,
            self.bucket,
            self.key.unwrap_or("")
        )
    }
}

/// A response that succeeded.
struct Response {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// An S3 client: cheap to clone, safe to share between tasks.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    config: std::sync::Arc<Config>,
    identity: Identity,
}

impl Client {
    /// A client for `config`; checks the endpoint.
    pub fn new(config: Config) -> Result<Self, S3Error> {
        let endpoint = config.endpoint.trim_end_matches('/');
        let ok = (endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            && endpoint.split("://").nth(1).is_some_and(|h| !h.is_empty());
        if !ok {
            return Err(S3Error::Config(format!(
                "the endpoint URL {:?} must start with http:// or https://",
                config.endpoint
            )));
        }
        if config.credentials.access_key_id.is_empty()
            || config.credentials.secret_access_key.is_empty()
        {
            return Err(S3Error::Config(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 aws_access_key_id/aws_secret_access_key in ~/.aws/credentials"
                    .into(),
            ));
        }
        let creds = &config.credentials;
        let identity = AwsCredentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.as_str(),
            creds.session_token.as_ref().map(|t| t.to_string()),
            None,
            "cse",
        )
        .into();
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
            config: std::sync::Arc::new(config),
            identity,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn url(&self, bucket: &str, key: Option<&str>, query: &[(&'static str, String)]) -> String {
        let endpoint = self.config.endpoint.trim_end_matches('/');
        let mut url = match self.config.addressing {
            Addressing::Path => format!("{endpoint}/{bucket}"),
            Addressing::VirtualHost => {
                let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
                format!("{scheme}://{bucket}.{host}")
            }
        };
        match key {
            Some(key) => {
                url.push('/');
                url.extend(utf8_percent_encode(key, KEY));
            }
            None if self.config.addressing == Addressing::VirtualHost => url.push('/'),
            None => {}
        }
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            if !value.is_empty() {
                url.push('=');
                url.extend(utf8_percent_encode(value, QUERY));
            }
        }
        url
    }

    fn build(&self, req: &Request<'_>, url: &str) -> Result<reqwest::Request, S3Error> {
        let payload_hash = if self.config.unsigned_payload {
            "UNSIGNED-PAYLOAD".to_string()
        } else {
            req.body
                .sha256
                .clone()
                .unwrap_or_else(|| sha256_hex(&req.body.data))
        };
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let config_err = |e: &dyn fmt::Display| S3Error::Config(format!("signing: {e}"));
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.config.region)
            .name("s3")
            .time(now())
            .settings(settings)
            .build()
            .map_err(|e| config_err(&e))?
            .into();
        let signable = SignableRequest::new(
            req.method,
            url,
            req.headers.iter().map(|(n, v)| (*n, v.as_str())),
            SignableBody::Precomputed(payload_hash),
        )
        .map_err(|e| config_err(&e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| config_err(&e))?
            .into_parts();
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| config_err(&e))?;
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
            .map_err(|e| config_err(&e))
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
        // An error document is read only in part; a success must fit its bound.
        let limit = if ok { req.max_answer } else { MAX_ERROR_ANSWER };
        let body = read_body(resp, limit, ok).await.map_err(|e| match e {
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
    async fn send(&self, req: Request<'_>) -> Result<Response, S3Error> {
        let url = self.url(req.bucket, req.key, &req.query);
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

    /// Creates a bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        let mut req = Request::new("PUT", bucket, None);
        if self.config.region != "us-east-1" {
            let body = format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                xml::escape(&self.config.region)
            );
            req = req.body(body.into_bytes().into());
        }
        self.send(req).await.map(drop)
    }

    /// Uploads an object in one request; returns its ETag.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Body,
        content_type: Option<&str>,
    ) -> Result<String, S3Error> {
        let mut req = Request::new("PUT", bucket, Some(key)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self.send(req).await?;
        Ok(resp.header("etag").unwrap_or_default())
    }

    /// Size, ETag and date of an object.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        let resp = self.send(Request::new("HEAD", bucket, Some(key))).await?;
        let size = resp
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| S3Error::Protocol {
                operation: format!("HEAD s3://{bucket}/{key}"),
                detail: "no Content-Length".into(),
            })?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag: resp.header("etag").unwrap_or_default(),
            last_modified: resp.header("last-modified").unwrap_or_default(),
        })
    }

    /// Bytes `start..end` of an object. With `if_match`, fails if the object's ETag changed.
    /// The answer must be exactly those bytes: its length and `Content-Range` are checked,
    /// and no more than `end - start` bytes are read.
    pub async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
        if_match: Option<&str>,
    ) -> Result<Bytes, S3Error> {
        let op = || format!("GET s3://{bucket}/{key}");
        let proto = |detail: String| S3Error::Protocol {
            operation: op(),
            detail,
        };
        if end <= start {
            return Err(S3Error::Config(format!(
                "{}: empty range {start}..{end}",
                op()
            )));
        }
        let want = end - start;
        let mut req = Request::new("GET", bucket, Some(key))
            .header("range", format!("bytes={}-{}", start, end - 1))
            .max_answer(want);
        if let Some(etag) = if_match.filter(|e| !e.is_empty()) {
            req = req.header("if-match", etag);
        }
        let resp = self.send(req).await?;
        match (resp.status, resp.header("content-range")) {
            (206, Some(range)) => match parse_content_range(&range) {
                Some((first, last, _)) if first == start && last.checked_add(1) == Some(end) => {}
                _ => {
                    return Err(proto(format!(
                        "asked for bytes {start}..{end}, the answer says {:?}",
                        printable_ascii(&range)
                    )));
                }
            },
            (206, None) => return Err(proto("a partial answer without Content-Range".into())),
            // A server that ignores Range sends the whole object: only right from the start.
            (200, _) if start == 0 => {}
            (status, _) => {
                return Err(proto(format!(
                    "asked for bytes {start}..{end}, got HTTP {status}"
                )));
            }
        }
        if resp.body.len() as u64 != want {
            return Err(proto(format!(
                "asked for bytes {start}..{end}, received {} bytes",
                resp.body.len()
            )));
        }
        Ok(resp.body)
    }

    /// A whole object.
    /// The object is read whole into memory: at most `max_size` bytes are accepted.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        max_size: u64,
    ) -> Result<Bytes, S3Error> {
        Ok(self
            .send(Request::new("GET", bucket, Some(key)).max_answer(max_size))
            .await?
            .body)
    }

    /// Deletes one object (no error if it does not exist).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.send(Request::new("DELETE", bucket, Some(key)))
            .await
            .map(drop)
    }

    /// Deletes up to 1000 objects in one request; returns the keys that failed with their
    /// error codes.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, S3Error> {
        let mut doc = String::from("<Delete><Quiet>true</Quiet>");
        for key in keys {
            doc.push_str("<Object><Key>");
            doc.push_str(&xml::escape(key));
            doc.push_str("</Key></Object>");
        }
        doc.push_str("</Delete>");
        // S3 requires an integrity header on DeleteObjects: Content-MD5 is the one every
        // S3-compatible store knows.
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(doc.as_bytes()));
        let req = Request::new("POST", bucket, None)
            .query("delete", "")
            .header("content-md5", md5)
            .header("content-type", "application/xml")
            .body(doc.into_bytes().into());
        let resp = self.send(req).await?;
        let root = self.xml(&resp, "DeleteResult", "POST delete")?;
        Ok(root
            .all("Error")
            .map(|e| {
                (
                    e.text_of("Key").unwrap_or_default().to_string(),
                    e.text_of("Code").unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    fn xml(&self, resp: &Response, root: &str, op: &str) -> Result<Element, S3Error> {
        let proto = |detail: String| S3Error::Protocol {
            operation: op.to_string(),
            detail,
        };
        let el = xml::parse(&resp.body).map_err(proto)?;
        if el.name != root {
            return Err(proto(format!("expected <{root}>, got <{}>", el.name)));
        }
        Ok(el)
    }

    /// One page of `ListObjectsV2`.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<ListPage, S3Error> {
        let mut req = Request::new("GET", bucket, None).query("list-type", "2");
        if let Some(t) = token {
            req = req.query("continuation-token", t);
        }
        if let Some(d) = delimiter {
            req = req.query("delimiter", d);
        }
        if !prefix.is_empty() {
            req = req.query("prefix", prefix);
        }
        let op = req.describe();
        let resp = self.send(req).await?;
        let root = self.xml(&resp, "ListBucketResult", &op)?;
        let objects = root
            .all("Contents")
            .map(|c| {
                let size = c.text_of("Size").unwrap_or_default();
                Ok(ObjectInfo {
                    key: c.text_of("Key").unwrap_or_default().to_string(),
                    size: size.trim().parse().map_err(|_| S3Error::Protocol {
                        operation: op.clone(),
                        detail: format!("object size {:?} is not a number", printable_ascii(size)),
                    })?,
                    etag: c.text_of("ETag").unwrap_or_default().to_string(),
                    last_modified: c.text_of("LastModified").unwrap_or_default().to_string(),
                })
            })
            .collect::<Result<_, S3Error>>()?;
        let prefixes = root
            .all("CommonPrefixes")
            .filter_map(|p| p.text_of("Prefix").map(str::to_string))
            .collect();
        let truncated = root.text_of("IsTruncated") == Some("true");
        let next_token = root
            .text_of("NextContinuationToken")
            .filter(|t| truncated && !t.is_empty())
            .map(str::to_string);
        if truncated && next_token.is_none() {
            return Err(S3Error::Protocol {
                operation: op,
                detail: "a truncated listing without NextContinuationToken".into(),
            });
        }
        Ok(ListPage {
            objects,
            prefixes,
            next_token,
        })
    }

    /// Every object under `prefix`, following continuation tokens.
    pub async fn list_all(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .list_objects(bucket, prefix, None, token.as_deref())
                .await?;
            all.extend(page.objects);
            match page.next_token {
                Some(t) if token.as_ref() == Some(&t) => {
                    return Err(S3Error::Protocol {
                        operation: format!("GET s3://{bucket}/ (list-type)"),
                        detail: "the listing gave the same continuation token twice".into(),
                    });
                }
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    /// Starts a multipart upload; returns its id.
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<String, S3Error> {
        let mut req = Request::new("POST", bucket, Some(key)).query("uploads", "");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let op = req.describe();
        let resp = self.send(req).await?;
        let root = self.xml(&resp, "InitiateMultipartUploadResult", &op)?;
        root.text_of("UploadId")
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or(S3Error::Protocol {
                operation: op,
                detail: "no UploadId".into(),
            })
    }

    /// Uploads part `number` (from 1); returns its ETag.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Body,
    ) -> Result<String, S3Error> {
        let req = Request::new("PUT", bucket, Some(key))
            .query("partNumber", number.to_string())
            .query("uploadId", upload_id)
            .body(body);
        let op = req.describe();
        let resp = self.send(req).await?;
        resp.header("etag")
            .filter(|e| !e.is_empty())
            .ok_or(S3Error::Protocol {
                operation: op,
                detail: "no ETag in the answer (in a browser: the bucket's CORS rule must \
                         expose the ETag header)"
                    .into(),
            })
    }

    /// Completes a multipart upload from its `(part number, ETag)` list, in order.
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<String, S3Error> {
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            doc.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let req = Request::new("POST", bucket, Some(key))
            .query("uploadId", upload_id)
            .header("content-type", "application/xml")
            .body(doc.into_bytes().into());
        let op = req.describe();
        let resp = self.send(req).await?;
        // S3 may answer 200 with an <Error> document once the body has started.
        let root = xml::parse(&resp.body).map_err(|detail| S3Error::Protocol {
            operation: op.clone(),
            detail,
        })?;
        if root.name == "Error" {
            return Err(S3Error::Service {
                operation: op,
                status: 200,
                code: capped(root.text_of("Code").unwrap_or_default()),
                message: capped(root.text_of("Message").unwrap_or_default()),
            });
        }
        Ok(root.text_of("ETag").unwrap_or_default().to_string())
    }

    /// Aborts a multipart upload; its parts are freed.
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        let req = Request::new("DELETE", bucket, Some(key)).query("uploadId", upload_id);
        match self.send(req).await {
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Unfinished multipart uploads under `prefix`, every page.
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<UploadInfo>, S3Error> {
        let mut all = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut req = Request::new("GET", bucket, None).query("uploads", "");
            if let Some((key, id)) = &markers {
                req = req
                    .query("key-marker", key.clone())
                    .query("upload-id-marker", id.clone());
            }
            if !prefix.is_empty() {
                req = req.query("prefix", prefix);
            }
            let op = req.describe();
            let resp = self.send(req).await?;
            let root = self.xml(&resp, "ListMultipartUploadsResult", &op)?;
            all.extend(root.all("Upload").map(|u| UploadInfo {
                key: u.text_of("Key").unwrap_or_default().to_string(),
                upload_id: u.text_of("UploadId").unwrap_or_default().to_string(),
                initiated: u.text_of("Initiated").unwrap_or_default().to_string(),
            }));
            let next = (
                root.text_of("NextKeyMarker").unwrap_or_default(),
                root.text_of("NextUploadIdMarker").unwrap_or_default(),
            );
            if root.text_of("IsTruncated") != Some("true") || next.0.is_empty() {
                return Ok(all);
            }
            let next = (next.0.to_string(), next.1.to_string());
            if markers.as_ref() == Some(&next) {
                return Err(S3Error::Protocol {
                    operation: op,
                    detail: "the listing gave the same markers twice".into(),
                });
            }
            markers = Some(next);
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

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let digits = |t: &str| {
        let t = t.trim();
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = (digits(first)?, digits(last)?);
    let total = match total.trim() {
        "*" => None,
        t => Some(digits(t)?),
    };
    (first <= last && total.is_none_or(|t| last < t)).then_some((first, last, total))
}

/// A server-given text cut to a length fit for a message.
fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A header value for a message: visible ASCII kept, the rest escaped, the length capped.
fn printable_ascii(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(addressing: Addressing) -> Client {
        Client::new(Config {
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

    #[test]
    fn urls_escape_keys_and_query_values() {
        let c = client(Addressing::Path);
        let q = [
            ("uploadId", "a/b+c=".to_string()),
            ("partNumber", "3".into()),
        ];
        assert_eq!(
            c.url("bkt", Some("dir/a b+&ü.txt"), &q),
            "http://127.0.0.1:9000/bkt/dir/a%20b%2B%26%C3%BC.txt?uploadId=a%2Fb%2Bc%3D&partNumber=3"
        );
        assert_eq!(
            c.url("bkt", None, &[("uploads", String::new())]),
            "http://127.0.0.1:9000/bkt?uploads"
        );
        let v = client(Addressing::VirtualHost);
        assert_eq!(v.url("bkt", Some("k"), &[]), "http://bkt.127.0.0.1:9000/k");
        assert_eq!(v.url("bkt", None, &[]), "http://bkt.127.0.0.1:9000/");
    }

    #[test]
    fn signed_requests_carry_the_payload_hash_and_no_checksum_headers() {
        let c = client(Addressing::Path);
        let req = Request::new("PUT", "b", Some("k")).body(b"hello".to_vec().into());
        let built = c.build(&req, &c.url("b", Some("k"), &[])).expect("builds");
        let h = built.headers();
        assert_eq!(
            h["x-amz-content-sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let auth = h["authorization"].to_str().expect("ascii");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(auth.contains("/us-east-1/s3/aws4_request"));
        assert!(!auth.contains("secret"));
        assert!(h.keys().all(|k| !k.as_str().starts_with("x-amz-checksum")));
        assert!(h.get("x-amz-sdk-checksum-algorithm").is_none());
        assert!(h.get("content-encoding").is_none());
    }

    #[test]
    fn part_size_grows_to_fit_ten_thousand_parts() {
        const MIB: u64 = 1 << 20;
        assert_eq!(plan_part_size(100 * MIB, 8 * MIB), 8 * MIB);
        assert_eq!(plan_part_size(100 * MIB, MIB), 5 * MIB);
        let big = 200u64 << 30;
        let p = plan_part_size(big, 8 * MIB);
        assert!(big.div_ceil(p) <= MAX_PARTS && p.is_multiple_of(MIB) && p > 8 * MIB);
    }

    #[test]
    fn s3_urls_split() {
        assert_eq!(parse_s3_url("s3://b/k/x"), Some(("b", "k/x")));
        assert_eq!(parse_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(parse_s3_url("s3:///k"), None);
        assert_eq!(parse_s3_url("/tmp/x"), None);
    }

    #[test]
    fn transient_errors_are_told_apart() {
        let svc = |status, code: &str| S3Error::Service {
            operation: "PUT".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(svc(503, "SlowDown").is_transient());
        assert!(svc(500, "InternalError").is_transient());
        assert!(!svc(403, "SignatureDoesNotMatch").is_transient());
        assert!(!svc(404, "NoSuchBucket").is_transient());
        assert!(svc(403, "SignatureDoesNotMatch").hint().is_some());
    }

    #[test]
    fn content_ranges_parse_strictly() {
        assert_eq!(
            parse_content_range("bytes 0-99/200"),
            Some((0, 99, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5, None)));
        for bad in [
            "",
            "bytes",
            "bytes 9-1/200",
            "bytes 0-200/200",
            "bytes -1-5/9",
            "bytes 0-99999999999999999999999/1",
            "bytes 0-1/+5",
            "items 0-1/2",
            "bytes 0-1",
            "bytes \u{1b}0-1/2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn server_text_is_capped() {
        let long = "é".repeat(5000);
        let c = capped(&long);
        assert_eq!(c.chars().count(), MAX_ERROR_TEXT + 1);
        assert_eq!(printable_ascii("a\u{1b}]0;x\u{7}"), "a\\u{1b}]0;x\\u{7}");
    }

    #[test]
    fn empty_ranges_are_refused_without_a_request() {
        let c = client(Addressing::Path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let r = rt.block_on(c.get_range("b", "k", 5, 5, None));
        assert!(matches!(r, Err(S3Error::Config(_))));
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = client(Addressing::Path);
        let text = format!("{:?}", c.config().credentials);
        assert!(!text.contains("secret\"") && text.contains("<redacted>"));
    }
}
