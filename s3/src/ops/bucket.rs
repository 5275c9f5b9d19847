//! Buckets: creation, in the configured region.

use crate::request::Request;
use crate::{Client, S3Error, xml};

impl Client {
    /// Creates a bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        let region = &self.config().region;
        let mut req = Request::new("PUT", bucket, None);
        if region != "us-east-1" {
            let body = format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                xml::escape(region)
            );
            req = req.body(body.into_bytes().into());
        }
        self.send(req).await.map(drop)
    }
}
