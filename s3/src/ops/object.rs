//! Objects: put, head, ranged and whole get, delete (one, or a thousand at once).

use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest, Md5};

use crate::error::printable_ascii;
use crate::request::Request;
use crate::{Body, Client, S3Error, xml};

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

impl Client {
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
            // A browser hides Content-Range unless the bucket's CORS rule exposes it: the
            // length is still checked below, and the decryptor authenticates the bytes.
            (206, None) => {}
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
        let root = resp.xml("DeleteResult", "POST delete")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Addressing;
    use crate::config::test_client;

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
    fn empty_ranges_are_refused_without_a_request() {
        let c = test_client(Addressing::Path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let r = rt.block_on(c.get_range("b", "k", 5, 5, None));
        assert!(matches!(r, Err(S3Error::Config(_))));
    }
}
