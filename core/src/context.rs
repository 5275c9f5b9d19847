//! Encryption context: serialization and rules (spec `framework/structures.md#encryption-context`).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::{Reader, put_u16_prefixed};
use crate::error::Error;

/// Key/value pairs bound to a message. `BTreeMap<String, String>` orders keys by their UTF-8
/// bytes, which is the canonical order of the serialization.
pub type EncryptionContext = BTreeMap<String, String>;

/// Keys with this prefix are reserved for the SDK; callers may not set them.
pub const RESERVED_PREFIX: &str = "aws-crypto-";
/// The context key that carries the signature verification key of signed suites.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";

/// Canonical serialization: empty context → no bytes; else count, then sorted key/value pairs,
/// each with a u16 length. Fails if it would not fit the u16 length fields of the header.
pub fn serialize(ctx: &EncryptionContext) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    if ctx.is_empty() {
        return Ok(out);
    }
    let count = u16::try_from(ctx.len())
        .map_err(|_| Error::EncryptionContext(format!("{} entries exceed 65535", ctx.len())))?;
    out.extend_from_slice(&count.to_be_bytes());
    for (k, v) in ctx {
        for part in [k, v] {
            if part.len() > usize::from(u16::MAX) {
                return Err(Error::EncryptionContext(
                    "a key or value is longer than 65535 bytes".into(),
                ));
            }
            put_u16_prefixed(&mut out, part.as_bytes());
        }
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(Error::EncryptionContext(format!(
            "serialized size {} exceeds 65535 bytes",
            out.len()
        )));
    }
    Ok(out)
}

/// Parses the serialization found in a header. Entries may come in any order (some official
/// SDKs wrote them unsorted); duplicates, invalid UTF-8 and trailing bytes are errors.
pub fn parse(bytes: &[u8]) -> Result<EncryptionContext, Error> {
    let mut ctx = EncryptionContext::new();
    if bytes.is_empty() {
        return Ok(ctx);
    }
    let bad = |what: &str| Error::MalformedHeader(format!("encryption context: {what}"));
    let mut r = Reader::new(bytes);
    let count = r
        .u16()
        .map_err(|_| bad("length too short for the entry count"))?;
    if count == 0 {
        return Err(bad("non-empty serialization with zero entries"));
    }
    for _ in 0..count {
        let k = r
            .u16_prefixed()
            .map_err(|_| bad("entry runs past its length"))?;
        let v = r
            .u16_prefixed()
            .map_err(|_| bad("entry runs past its length"))?;
        let k = core::str::from_utf8(k).map_err(|_| bad("key is not UTF-8"))?;
        let v = core::str::from_utf8(v).map_err(|_| bad("value is not UTF-8"))?;
        if ctx.insert(k.into(), v.into()).is_some() {
            return Err(bad("duplicate key"));
        }
    }
    if !r.is_empty() {
        return Err(bad("bytes left after the last entry"));
    }
    Ok(ctx)
}

/// Rejects caller contexts that use the reserved prefix.
pub(crate) fn check_caller_context(ctx: &EncryptionContext) -> Result<(), Error> {
    match ctx.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(k) => Err(Error::EncryptionContext(format!(
            "key {k:?} uses the reserved prefix {RESERVED_PREFIX:?}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn empty_is_zero_bytes() {
        assert!(serialize(&EncryptionContext::new()).unwrap().is_empty());
        assert!(parse(&[]).unwrap().is_empty());
        assert!(parse(&[0, 0]).is_err());
    }

    #[test]
    fn sorted_by_utf8_bytes_and_round_trips() {
        let c = ctx(&[("zeta", "1"), ("Älpha", "ü"), ("alpha", "")]);
        let s = serialize(&c).unwrap();
        assert_eq!(&s[..2], &[0, 3]);
        // "alpha" < "zeta" < "Älpha" (0xC3 lead byte) in byte order.
        assert_eq!(&s[2..9], b"\x00\x05alpha");
        assert_eq!(parse(&s).unwrap(), c);
    }

    #[test]
    fn rejects_duplicates_and_trailing() {
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert!(parse(&dup).is_err());
        let mut ok = serialize(&ctx(&[("a", "b")])).unwrap();
        ok.push(0);
        assert!(parse(&ok).is_err());
        assert!(parse(&[0, 1, 0, 1, 0xff, 0, 0]).is_err());
    }

    #[test]
    fn unsorted_input_is_accepted() {
        let s = [0, 2, 0, 1, b'b', 0, 0, 0, 1, b'a', 0, 0];
        assert_eq!(parse(&s).unwrap(), ctx(&[("a", ""), ("b", "")]));
    }

    #[test]
    fn reserved_prefix() {
        assert!(check_caller_context(&ctx(&[("aws-crypto-x", "1")])).is_err());
        assert!(check_caller_context(&ctx(&[("aws-cryptox", "1")])).is_ok());
    }
}
