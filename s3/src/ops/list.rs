//! Listings: one page of `ListObjectsV2`, or every page.

use crate::error::printable_ascii;
use crate::request::Request;
use crate::{Client, ObjectInfo, S3Error};

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

impl Client {
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
        let root = resp.xml("ListBucketResult", &op)?;
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
}
