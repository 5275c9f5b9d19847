//! `s3://bucket/key` URLs on the command line.

/// `s3://bucket/key` split into bucket and key (the key may be empty).
pub fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split() {
        assert_eq!(parse_s3_url("s3://b/k/x"), Some(("b", "k/x")));
        assert_eq!(parse_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(parse_s3_url("s3:///k"), None);
        assert_eq!(parse_s3_url("/tmp/x"), None);
    }
}
