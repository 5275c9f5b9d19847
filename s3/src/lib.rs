//! Signed S3 requests for `cse`: SigV4 signing, the S3 XML documents we use, and retries with
//! backoff. The same code runs in the native tool (reqwest over rustls) and in the browser page
//! (reqwest over `fetch`, compiled to `wasm32-unknown-unknown`).
//!
//! Requests carry plain bodies with `Content-Length` and no flexible-checksum or aws-chunked
//! encoding, which every S3-compatible store accepts. The signing time always comes from
//! [`now`], which reads the browser clock on wasm32 (where `SystemTime::now` traps).
//!
//! | module | holds |
//! |---|---|
//! | `config` | [`Config`], [`Credentials`], [`Addressing`], [`RetryPolicy`] |
//! | `request` | a request before signing, its URL, [`Body`] |
//! | `sign` | SigV4 through `aws-sigv4` |
//! | `transport` | [`Client`]: reqwest, timeouts, CA bundle, retries, bounded answers |
//! | `rt` | the clock and timer of the native and browser runtimes |
//! | `ops` | the operations: objects, multipart uploads, listings, buckets |
//! | `xml` | a small element tree over quick-xml |
//! | `error` | [`S3Error`] and its [`ErrorKind`]; front ends phrase the advice |
//!
//! ```no_run
//! # async fn demo() -> Result<(), cse_s3::S3Error> {
//! use cse_s3::{Addressing, Client, Config, Credentials, RetryPolicy};
//!
//! let client = Client::new(Config {
//!     endpoint: "http://127.0.0.1:9000".into(),
//!     region: "us-east-1".into(),
//!     addressing: Addressing::Path,
//!     credentials: Credentials {
//!         access_key_id: "AKIDEXAMPLE".into(),
//!         secret_access_key: String::from("secret").into(),
//!         session_token: None,
//!     },
//!     unsigned_payload: false,
//!     retry: RetryPolicy::default(),
//!     ca_bundle: None,
//! })?;
//! client.put_object("bucket", "hello.txt", b"hello".to_vec().into(), None).await?;
//! let info = client.head_object("bucket", "hello.txt").await?;
//! assert_eq!(info.size, 5);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod ops;
mod request;
mod rt;
mod sign;
mod transport;
mod xml;

pub use config::{Addressing, Config, Credentials, RetryPolicy};
pub use error::{ErrorKind, S3Error};
pub use ops::list::ListPage;
pub use ops::multipart::{
    MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PartInfo, UploadInfo, plan_part_size,
};
pub use ops::object::ObjectInfo;
pub use request::{Body, MAX_XML_ANSWER};
pub use rt::now;
pub use sign::sha256_hex;
pub use transport::Client;
pub use xml::{Element, MAX_XML_DEPTH, escape as xml_escape, parse as parse_xml};
