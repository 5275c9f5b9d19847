//! Message header: layout, parsing and serialization (spec `data-format/message-header.md`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::{Reader, Short, put_u16_prefixed};
use crate::context::{self, EncryptionContext};
use crate::error::{EdkSummary, Error, Limit, MAX_SHOWN_CHARS, printable};
use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// Header type byte of v1 headers: customer authenticated encrypted data.
const V1_TYPE: u8 = 0x80;
/// Commitment key length in v2 headers (the "algorithm suite data").
pub const COMMITMENT_LEN: usize = 32;

/// One encrypted copy of the data key (spec `framework/structures.md#encrypted-data-key`).
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Provider id: the key namespace for raw keyrings.
    pub provider_id: String,
    /// Provider info: the key name for raw RSA; name ‖ tag bits ‖ IV length ‖ IV for raw AES.
    pub provider_info: Vec<u8>,
    /// The wrapped data key.
    pub ciphertext: Vec<u8>,
}

impl EncryptedDataKey {
    /// A printable form for messages: provider id and the readable part of the provider info,
    /// escaped and cut to [`MAX_SHOWN_CHARS`] characters each (the fields come from an
    /// unauthenticated header).
    pub fn summary(&self) -> EdkSummary {
        // Raw AES provider info ends with 4 + 4 + 12 binary bytes after the key name.
        let info = &self.provider_info;
        let shown = match core::str::from_utf8(info) {
            Ok(s) => printable(s, MAX_SHOWN_CHARS),
            Err(_)
                if info.len() >= 20 && core::str::from_utf8(&info[..info.len() - 20]).is_ok() =>
            {
                printable(
                    &String::from_utf8_lossy(&info[..info.len() - 20]),
                    MAX_SHOWN_CHARS,
                )
            }
            Err(_) => {
                let hex: String = info
                    .iter()
                    .take(MAX_SHOWN_CHARS / 2)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if info.len() > MAX_SHOWN_CHARS / 2 {
                    hex + "…"
                } else {
                    hex
                }
            }
        };
        EdkSummary {
            provider_id: printable(&self.provider_id, MAX_SHOWN_CHARS),
            provider_info: shown,
        }
    }
}

impl core::fmt::Debug for EncryptedDataKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptedDataKey")
            .field("provider", &format!("{}", self.summary()))
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Body layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// One IV, one length, one ciphertext and one tag (read-only: never written).
    NonFramed,
    /// A sequence of frames of `frame_length` bytes, then a final frame.
    Framed,
}

/// A parsed message header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The algorithm suite; it fixes the format version.
    pub suite: AlgorithmSuite,
    /// Random message id: 16 bytes (v1) or 32 bytes (v2).
    pub message_id: Vec<u8>,
    /// The stored encryption context (including `aws-crypto-public-key` for signed suites).
    pub encryption_context: EncryptionContext,
    /// The encrypted data keys, in header order.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Framed or not.
    pub content_type: ContentType,
    /// Frame length; 0 for non-framed bodies.
    pub frame_length: u32,
    /// Key commitment (v2 headers only).
    pub commitment: Option<[u8; COMMITMENT_LEN]>,
}

/// What a header parse may refuse early, before reading all of it.
#[derive(Clone, Debug)]
pub(crate) struct ParseRules {
    pub(crate) policy: CommitmentPolicy,
    pub(crate) max_encrypted_data_keys: Option<usize>,
    pub(crate) refuse_signed: bool,
    pub(crate) max_header_size: Option<usize>,
}

/// Finds where a header ends while its bytes arrive in pieces, walking each field once.
///
/// [`HeaderScan::advance`] is called with the bytes of the message received so far (always
/// from the message's first byte); it resumes where the previous call stopped, so the work
/// over a header of `n` bytes is O(n) whatever the piece sizes. The checks that can refuse a
/// message early (version, suite, commitment policy, signed messages, the number of data keys,
/// the header size limit) run as soon as their field is there. Nothing is allocated.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderScan {
    /// Bytes walked so far.
    pos: usize,
    at: ScanAt,
}

#[derive(Clone, Copy, Debug, Default)]
enum ScanAt {
    #[default]
    Start,
    MessageId(AlgorithmSuite),
    Context(AlgorithmSuite),
    KeyCount(AlgorithmSuite),
    /// Within the data keys: keys left (counting this one) and the field of this key (0..3).
    KeyField(AlgorithmSuite, u16, u8),
    /// Content type, v1 reserved bytes and IV length, frame length, commitment, header tag.
    Tail(AlgorithmSuite),
    /// The header (authentication section included) is this many bytes.
    Done(usize),
}

impl HeaderScan {
    /// `Ok(Ok(n))`: the whole header, authentication section included, is the first `n`
    /// bytes of `data`. `Ok(Err(Need(n)))`: at least `n` bytes are needed.
    pub(crate) fn advance(
        &mut self,
        data: &[u8],
        rules: &ParseRules,
    ) -> Result<Result<usize, Short>, Error> {
        loop {
            let mut r = Reader::at(data, self.pos);
            let next = match self.walk(&mut r, data, rules) {
                Ok(next) => next,
                Err(Parse::Bad(e)) => return Err(e),
                Err(Parse::Short(Short::Need(n))) => {
                    if let Some(limit) = rules.max_header_size
                        && n > limit
                    {
                        return Err(header_too_large(n, limit));
                    }
                    return Ok(Err(Short::Need(n)));
                }
            };
            self.pos = r.position();
            self.at = next;
            if let ScanAt::Done(n) = next {
                return Ok(Ok(n));
            }
        }
    }

    fn walk(&self, r: &mut Reader<'_>, data: &[u8], rules: &ParseRules) -> Result<ScanAt, Parse> {
        Ok(match self.at {
            ScanAt::Start => ScanAt::MessageId(Header::parse_prefix(r, data, rules)?),
            ScanAt::MessageId(suite) => {
                r.take(suite.message_id_len())?;
                ScanAt::Context(suite)
            }
            ScanAt::Context(suite) => {
                r.u16_prefixed()?;
                ScanAt::KeyCount(suite)
            }
            ScanAt::KeyCount(suite) => {
                let count = r.u16()?;
                check_key_count(usize::from(count), rules)?;
                ScanAt::KeyField(suite, count, 0)
            }
            ScanAt::KeyField(suite, left, field) => {
                r.u16_prefixed()?;
                match (left, field) {
                    (1, 2) => ScanAt::Tail(suite),
                    (_, 2) => ScanAt::KeyField(suite, left - 1, 0),
                    _ => ScanAt::KeyField(suite, left, field + 1),
                }
            }
            ScanAt::Tail(suite) => {
                let v1 = suite.message_version() == 1;
                let tail = 1
                    + if v1 { 5 } else { 0 }
                    + 4
                    + if suite.is_committing() {
                        COMMITMENT_LEN
                    } else {
                        0
                    }
                    + if v1 { 12 + 16 } else { 16 };
                r.take(tail)?;
                let n = r.position();
                if let Some(limit) = rules.max_header_size
                    && n > limit
                {
                    return Err(Parse::Bad(header_too_large(n, limit)));
                }
                ScanAt::Done(n)
            }
            ScanAt::Done(n) => ScanAt::Done(n),
        })
    }
}

fn header_too_large(found: usize, max: usize) -> Error {
    Error::LimitExceeded {
        limit: Limit::HeaderSize,
        found: found as u64,
        max: max as u64,
    }
}

fn check_key_count(count: usize, rules: &ParseRules) -> Result<(), Parse> {
    if count == 0 {
        return Err(bad("no encrypted data keys".into()));
    }
    if let Some(max) = rules.max_encrypted_data_keys
        && count > max
    {
        return Err(Error::LimitExceeded {
            limit: Limit::EncryptedDataKeys,
            found: count as u64,
            max: max as u64,
        }
        .into());
    }
    Ok(())
}

impl Header {
    /// Header format version (1 or 2).
    pub fn version(&self) -> u8 {
        self.suite.message_version()
    }

    /// Bytes of the header authentication section that follows the header body.
    pub fn auth_len(&self) -> usize {
        if self.version() == 1 { 12 + 16 } else { 16 }
    }

    /// Serializes the header body (everything the header authentication tag covers).
    pub fn serialize_body(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(256);
        let v = self.version();
        out.push(v);
        if v == 1 {
            out.push(V1_TYPE);
        }
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        let ec = context::serialize(&self.encryption_context)?;
        put_u16_prefixed(&mut out, &ec);
        let n = u16::try_from(self.encrypted_data_keys.len()).map_err(|_| {
            Error::Config(format!(
                "{} encrypted data keys exceed 65535",
                self.encrypted_data_keys.len()
            ))
        })?;
        if n == 0 {
            return Err(Error::Misuse(
                "a message needs at least one encrypted data key",
            ));
        }
        out.extend_from_slice(&n.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            for part in [
                edk.provider_id.as_bytes(),
                &edk.provider_info,
                &edk.ciphertext,
            ] {
                if part.len() > usize::from(u16::MAX) {
                    return Err(Error::Config(
                        "an encrypted data key field exceeds 65535 bytes".into(),
                    ));
                }
                put_u16_prefixed(&mut out, part);
            }
        }
        out.push(match self.content_type {
            ContentType::NonFramed => 1,
            ContentType::Framed => 2,
        });
        if v == 1 {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.push(crate::crypto::IV_LEN as u8);
        }
        out.extend_from_slice(&self.frame_length.to_be_bytes());
        if let Some(c) = &self.commitment {
            out.extend_from_slice(c);
        }
        Ok(out)
    }

    /// Parses a header body from the start of `data`. `Ok(Err(Need(n)))` means at least `n`
    /// bytes are needed; `Ok(Ok((header, len)))` gives the header and its body length.
    pub(crate) fn parse_body(
        data: &[u8],
        rules: &ParseRules,
    ) -> Result<Result<(Header, usize), Short>, Error> {
        match Self::parse_inner(data, rules) {
            Ok(v) => Ok(Ok(v)),
            Err(Parse::Short(Short::Need(n))) => {
                if let Some(limit) = rules.max_header_size
                    && n > limit
                {
                    return Err(header_too_large(n, limit));
                }
                Ok(Err(Short::Need(n)))
            }
            Err(Parse::Bad(e)) => Err(e),
        }
    }

    /// Version, v1 message type and suite, with the checks that may refuse the message there.
    fn parse_prefix(
        r: &mut Reader<'_>,
        data: &[u8],
        rules: &ParseRules,
    ) -> Result<AlgorithmSuite, Parse> {
        let version = r.u8()?;
        if version != 1 && version != 2 {
            let second = data.get(1).copied();
            if version == b'A' && matches!(second, Some(b'Y' | b'g') | None) {
                return Err(Error::Base64Input.into());
            }
            return Err(Error::UnsupportedVersion(version).into());
        }
        if version == 1 {
            let t = r.u8()?;
            if t != V1_TYPE {
                return Err(bad(format!("unknown message type {t:#04x}")));
            }
        }
        let id = r.u16()?;
        let suite = AlgorithmSuite::from_id(id).ok_or(Error::UnsupportedSuite(id))?;
        if suite.message_version() != version {
            return Err(Error::SuiteVersionMismatch { suite, version }.into());
        }
        if !rules.policy.allows_decrypt(suite) {
            return Err(Error::PolicyForbidsSuite {
                suite,
                policy: rules.policy,
            }
            .into());
        }
        if rules.refuse_signed && suite.is_signed() {
            return Err(Error::SignedMessageRefused(suite).into());
        }
        Ok(suite)
    }

    fn parse_inner(data: &[u8], rules: &ParseRules) -> Result<(Header, usize), Parse> {
        let mut r = Reader::new(data);
        let suite = Self::parse_prefix(&mut r, data, rules)?;
        let version = suite.message_version();
        let message_id = r.take(suite.message_id_len())?.to_vec();
        let ec = r.u16_prefixed()?;
        let encryption_context = context::parse(ec)?;
        let count = usize::from(r.u16()?);
        check_key_count(count, rules)?;
        let mut encrypted_data_keys = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let pid = r.u16_prefixed()?;
            let provider_id = String::from_utf8(pid.to_vec())
                .map_err(|_| bad("provider id is not UTF-8".into()))?;
            let provider_info = r.u16_prefixed()?.to_vec();
            let ciphertext = r.u16_prefixed()?.to_vec();
            encrypted_data_keys.push(EncryptedDataKey {
                provider_id,
                provider_info,
                ciphertext,
            });
        }
        let content_type = match r.u8()? {
            1 => ContentType::NonFramed,
            2 => ContentType::Framed,
            t => return Err(bad(format!("unknown content type {t:#04x}"))),
        };
        if version == 1 {
            if r.array::<4>()? != [0; 4] {
                return Err(bad("reserved bytes are not zero".into()));
            }
            let iv_len = r.u8()?;
            if usize::from(iv_len) != crate::crypto::IV_LEN {
                return Err(bad(format!("IV length {iv_len}, the suite needs 12")));
            }
        }
        let frame_length = r.u32()?;
        match (content_type, frame_length) {
            (ContentType::NonFramed, 0) => {}
            (ContentType::NonFramed, _) => {
                return Err(bad("non-framed content with a non-zero frame length".into()));
            }
            (ContentType::Framed, 0) => {
                return Err(bad("framed content with frame length 0".into()));
            }
            (ContentType::Framed, _) => {}
        }
        let commitment = if suite.is_committing() {
            Some(r.array::<COMMITMENT_LEN>()?)
        } else {
            None
        };
        let header = Header {
            suite,
            message_id,
            encryption_context,
            encrypted_data_keys,
            content_type,
            frame_length,
            commitment,
        };
        Ok((header, r.position()))
    }
}

enum Parse {
    Short(Short),
    Bad(Error),
}

impl From<Short> for Parse {
    fn from(s: Short) -> Self {
        Self::Short(s)
    }
}

impl From<Error> for Parse {
    fn from(e: Error) -> Self {
        Self::Bad(e)
    }
}

fn bad(what: String) -> Parse {
    Parse::Bad(Error::MalformedHeader(what))
}

/// Parses a whole header body from complete bytes (for tools that inspect messages).
pub fn parse_header(data: &[u8]) -> Result<(Header, usize), Error> {
    let rules = ParseRules {
        policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        max_encrypted_data_keys: None,
        refuse_signed: false,
        max_header_size: None,
    };
    Header::parse_body(data, &rules)?.map_err(|_| Error::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(suite: AlgorithmSuite) -> Header {
        let mut ec = EncryptionContext::new();
        ec.insert("purpose".into(), "test ü".into());
        Header {
            suite,
            message_id: alloc::vec![9u8; suite.message_id_len()],
            encryption_context: ec,
            encrypted_data_keys: alloc::vec![EncryptedDataKey {
                provider_id: "MyAppKeys".into(),
                provider_info: b"S3RSAKey".to_vec(),
                ciphertext: alloc::vec![1, 2, 3],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            commitment: suite.is_committing().then_some([5u8; 32]),
        }
    }

    fn rules() -> ParseRules {
        ParseRules {
            policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            max_encrypted_data_keys: None,
            refuse_signed: false,
            max_header_size: None,
        }
    }

    #[test]
    fn round_trip_every_suite_and_every_prefix_is_short() {
        for s in AlgorithmSuite::ALL {
            let h = sample(*s);
            let bytes = h.serialize_body().unwrap();
            let (p, n) = Header::parse_body(&bytes, &rules()).unwrap().ok().unwrap();
            assert_eq!(p, h);
            assert_eq!(n, bytes.len());
            for cut in 0..bytes.len() {
                match Header::parse_body(&bytes[..cut], &rules()).unwrap() {
                    Err(Short::Need(need)) => assert!(need > cut),
                    Ok(_) => panic!("parsed a prefix of {cut} bytes"),
                }
            }
        }
    }

    #[test]
    fn rejects_bad_fields() {
        let h = sample(AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256);
        let good = h.serialize_body().unwrap();
        let check = |patch: &dyn Fn(&mut Vec<u8>), want: &str| {
            let mut b = good.clone();
            patch(&mut b);
            let e = Header::parse_body(&b, &rules()).expect_err(want);
            assert!(format!("{e}").contains(want), "{e} / {want}");
        };
        check(&|b| b[0] = 3, "unknown format version");
        check(&|b| b[1] = 0x81, "message type");
        check(&|b| b[2..4].copy_from_slice(&[0, 0x70]), "0x0070");
        check(
            &|b| b[2..4].copy_from_slice(&[0x05, 0x78]),
            "version 1 header",
        );
        check(
            &|b| {
                let n = b.len();
                b[n - 5] = 0
            },
            "IV length",
        );
        check(
            &|b| {
                let n = b.len();
                b[n - 4..].copy_from_slice(&[0; 4])
            },
            "frame length 0",
        );
        check(
            &|b| {
                let n = b.len();
                b[n - 6] = 1
            },
            "reserved",
        );
        check(&|b| b[0..2].copy_from_slice(b"AY"), "base64");
    }

    #[test]
    fn max_edks_checked_at_count() {
        let h = sample(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
        let bytes = h.serialize_body().unwrap();
        let mut r = rules();
        r.max_encrypted_data_keys = Some(0);
        // Cut right after the EDK count: the limit must already be enforced.
        let ec_len = usize::from(u16::from_be_bytes([bytes[35], bytes[36]]));
        let upto = 37 + ec_len + 2;
        assert!(matches!(
            Header::parse_body(&bytes[..upto], &r),
            Err(Error::LimitExceeded {
                limit: Limit::EncryptedDataKeys,
                found: 1,
                max: 0
            })
        ));
    }

    #[test]
    fn policy_and_refuse_signed_checked_early() {
        let h = sample(AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384);
        let bytes = h.serialize_body().unwrap();
        let mut r = rules();
        r.policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
        assert!(matches!(
            Header::parse_body(&bytes[..4], &r),
            Err(Error::PolicyForbidsSuite { .. })
        ));
        let mut r = rules();
        r.refuse_signed = true;
        assert!(matches!(
            Header::parse_body(&bytes[..4], &r),
            Err(Error::SignedMessageRefused(_))
        ));
    }
}
