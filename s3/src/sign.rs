//! SigV4 through `aws-sigv4`: a [`SignableRequest`] is signed and the resulting headers are
//! copied onto the HTTP request. The payload is signed by its SHA-256, or as
//! `UNSIGNED-PAYLOAD` when the configuration asks for it.

use std::fmt;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningInstructions,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use sha2::{Digest, Sha256};

use crate::request::Request;
use crate::{Config, Credentials, S3Error, now};

/// Hex SHA-256 of a payload, as SigV4 signs it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The signing identity of `creds`.
pub(crate) fn identity(creds: &Credentials) -> Identity {
    AwsCredentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.as_str(),
        creds.session_token.as_ref().map(|t| t.to_string()),
        None,
        "cse",
    )
    .into()
}

/// A request that could not be signed or built: a setting is at fault.
pub(crate) fn signing_error(e: &dyn fmt::Display) -> S3Error {
    S3Error::Config(format!("signing: {e}"))
}

/// The headers that sign `req` sent to `url`, at the current time.
pub(crate) fn signature(
    config: &Config,
    identity: &Identity,
    req: &Request<'_>,
    url: &str,
) -> Result<SigningInstructions, S3Error> {
    let payload_hash = if config.unsigned_payload {
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
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(&config.region)
        .name("s3")
        .time(now())
        .settings(settings)
        .build()
        .map_err(|e| signing_error(&e))?
        .into();
    let signable = SignableRequest::new(
        req.method,
        url,
        req.headers.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::Precomputed(payload_hash),
    )
    .map_err(|e| signing_error(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| signing_error(&e))?
        .into_parts();
    Ok(instructions)
}

#[cfg(test)]
mod tests {
    use crate::Addressing;
    use crate::config::test_client;
    use crate::request::{Request, url};

    #[test]
    fn signed_requests_carry_the_payload_hash_and_no_checksum_headers() {
        let c = test_client(Addressing::Path);
        let req = Request::new("PUT", "b", Some("k")).body(b"hello".to_vec().into());
        let built = c
            .build(&req, &url(c.config(), "b", Some("k"), &[]))
            .expect("builds");
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
}
