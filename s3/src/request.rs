//! A request before it is signed (method, bucket, key, query, headers, body, the bound of its
//! answer), its URL, and a successful answer.

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::xml::{self, Element};
use crate::{Addressing, Config, S3Error};

/// Largest XML answer read (a listing page of 1 000 keys of 1 024 bytes is about 1.5 MB).
pub const MAX_XML_ANSWER: u64 = 16 << 20;

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

pub(crate) struct Request<'a> {
    pub(crate) method: &'static str,
    pub(crate) bucket: &'a str,
    pub(crate) key: Option<&'a str>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
    /// Largest successful answer body accepted.
    pub(crate) max_answer: u64,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: &'static str, bucket: &'a str, key: Option<&'a str>) -> Self {
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
    pub(crate) fn max_answer(mut self, bytes: u64) -> Self {
        self.max_answer = bytes;
        self
    }
    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub(crate) fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
    pub(crate) fn describe(&self) -> String {
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

/// The URL of `bucket`, `key` and `query` at the configured endpoint, escaped.
pub(crate) fn url(
    config: &Config,
    bucket: &str,
    key: Option<&str>,
    query: &[(&'static str, String)],
) -> String {
    let endpoint = config.endpoint.trim_end_matches('/');
    let mut url = match config.addressing {
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
        None if config.addressing == Addressing::VirtualHost => url.push('/'),
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

/// A response that succeeded.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The body as an XML document whose root element is `root`.
    pub(crate) fn xml(&self, root: &str, op: &str) -> Result<Element, S3Error> {
        let proto = |detail: String| S3Error::Protocol {
            operation: op.to_string(),
            detail,
        };
        let el = xml::parse(&self.body).map_err(proto)?;
        if el.name != root {
            return Err(proto(format!("expected <{root}>, got <{}>", el.name)));
        }
        Ok(el)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_client;

    #[test]
    fn urls_escape_keys_and_query_values() {
        let c = test_client(Addressing::Path);
        let q = [
            ("uploadId", "a/b+c=".to_string()),
            ("partNumber", "3".into()),
        ];
        assert_eq!(
            url(c.config(), "bkt", Some("dir/a b+&ü.txt"), &q),
            "http://127.0.0.1:9000/bkt/dir/a%20b%2B%26%C3%BC.txt?uploadId=a%2Fb%2Bc%3D&partNumber=3"
        );
        assert_eq!(
            url(c.config(), "bkt", None, &[("uploads", String::new())]),
            "http://127.0.0.1:9000/bkt?uploads"
        );
        let v = test_client(Addressing::VirtualHost);
        assert_eq!(
            url(v.config(), "bkt", Some("k"), &[]),
            "http://bkt.127.0.0.1:9000/k"
        );
        assert_eq!(
            url(v.config(), "bkt", None, &[]),
            "http://bkt.127.0.0.1:9000/"
        );
    }
}
