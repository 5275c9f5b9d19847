//! Multipart uploads: the part limits, create, upload a part, complete, abort, and the
//! listing of unfinished uploads.

use crate::error::capped;
use crate::request::Request;
use crate::{Body, Client, S3Error, xml};

/// Largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// Smallest part other than the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Largest part.
pub const MAX_PART_SIZE: u64 = 5 << 30;

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

/// A part stored under an unfinished multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// Its number (from 1).
    pub number: u32,
    /// Its ETag, when the server gives one.
    pub etag: Option<String>,
    /// Its size in bytes, when the server gives one.
    pub size: Option<u64>,
}

/// Part size for a multipart upload of `total` bytes: at least `wanted` (and 5 MiB), grown in
/// whole MiB until the upload fits in 10 000 parts.
pub fn plan_part_size(total: u64, wanted: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let needed = total.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    wanted.max(MIN_PART_SIZE).max(needed).min(MAX_PART_SIZE)
}

impl Client {
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
        let root = resp.xml("InitiateMultipartUploadResult", &op)?;
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

    /// The parts stored under an unfinished upload, every page. An upload that is gone
    /// answers the service error `NoSuchUpload`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, S3Error> {
        let mut all: Vec<PartInfo> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut req = Request::new("GET", bucket, Some(key)).query("uploadId", upload_id);
            if let Some(m) = &marker {
                req = req.query("part-number-marker", m.clone());
            }
            let op = req.describe();
            let resp = self.send(req).await?;
            let root = resp.xml("ListPartsResult", &op)?;
            for p in root.all("Part") {
                let number = p
                    .text_of("PartNumber")
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=MAX_PARTS as u32).contains(n))
                    .ok_or_else(|| S3Error::Protocol {
                        operation: op.clone(),
                        detail: "a part without a valid PartNumber".into(),
                    })?;
                all.push(PartInfo {
                    number,
                    etag: p
                        .text_of("ETag")
                        .filter(|e| !e.is_empty())
                        .map(str::to_string),
                    size: p.text_of("Size").and_then(|n| n.parse().ok()),
                });
            }
            if all.len() as u64 > MAX_PARTS {
                return Err(S3Error::Protocol {
                    operation: op,
                    detail: "more than 10 000 parts listed".into(),
                });
            }
            let next = root.text_of("NextPartNumberMarker").unwrap_or_default();
            if root.text_of("IsTruncated") != Some("true") || next.is_empty() {
                return Ok(all);
            }
            if marker.as_deref() == Some(next) {
                return Err(S3Error::Protocol {
                    operation: op,
                    detail: "the listing gave the same marker twice".into(),
                });
            }
            marker = Some(next.to_string());
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
            let root = resp.xml("ListMultipartUploadsResult", &op)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_fit_ten_thousand_parts() {
        const MIB: u64 = 1 << 20;
        assert_eq!(plan_part_size(100 * MIB, 8 * MIB), 8 * MIB);
        assert_eq!(plan_part_size(100 * MIB, MIB), 5 * MIB);
        let big = 200u64 << 30;
        let p = plan_part_size(big, 8 * MIB);
        assert!(big.div_ceil(p) <= MAX_PARTS && p.is_multiple_of(MIB) && p > 8 * MIB);
    }
}
