//! What a message says about itself, without any key: its header, and the sizes that follow
//! from the object's size. The tool (`cse inspect`) and the page (its Inspect view) share it.
//!
//! Only the start of the message is read, in growing ranges ([`FIRST_READ`], then four times
//! more each time) until the header parses or the limit is reached, and, for a signed
//! message, its last [`TAIL`] bytes, which hold the footer. Never the body.

use std::future::Future;

use bytes::Bytes;
use cse_core::header::parse_header;
use cse_core::{ContentType, Header};
use cse_s3::Client;

use crate::Error;

/// The first read of a message's start; each next one is four times larger, up to the limit.
pub const FIRST_READ: u64 = 64 << 10;
/// Bytes at the end of a message that hold any ECDSA footer.
pub const TAIL: u64 = 140;
/// Data keys listed one by one; the rest are counted ("and N more").
pub const SHOWN_KEYS: usize = 20;
/// A non-framed body besides its ciphertext: the IV, a 64-bit length and the tag.
const NON_FRAMED_OVERHEAD: u64 = 12 + 8 + 16;

/// Where a message is: its size, and the bytes asked for.
pub trait Ranges {
    /// The message's size in bytes.
    fn size(&self) -> u64;
    /// Bytes `start..end` of the message (`start < end <= size`).
    fn read(&mut self, start: u64, end: u64) -> impl Future<Output = Result<Bytes, Error>>;
}

/// What a message's header and size tell.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The header (not authenticated: no key was used).
    pub header: Header,
    /// Bytes of the header, its authentication section included.
    pub header_len: u64,
    /// Bytes of the whole message.
    pub size: u64,
    /// Bytes of plaintext; `None` when the sizes fit no body layout (or a signed message's
    /// footer was not found).
    pub plaintext: Option<u64>,
}

impl Facts {
    /// The message id in lowercase hex.
    pub fn message_id_hex(&self) -> String {
        self.header
            .message_id
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Every data key as `namespace/name`, escaped (they come from an unauthenticated header).
    pub fn data_keys(&self) -> Vec<String> {
        self.header
            .encrypted_data_keys
            .iter()
            .map(|k| k.summary().to_string())
            .collect()
    }

    /// The first [`SHOWN_KEYS`] data keys, and how many more the message holds.
    pub fn shown_data_keys(&self) -> (Vec<String>, usize) {
        let all = &self.header.encrypted_data_keys;
        let shown = all
            .iter()
            .take(SHOWN_KEYS)
            .map(|k| k.summary().to_string())
            .collect();
        (shown, all.len().saturating_sub(SHOWN_KEYS))
    }
}

/// The facts of the message in `src`, reading at most `max_header` bytes of its start (a
/// longer header is [`Error::HeaderTooLong`]) and, when it is signed, its last [`TAIL`] bytes.
pub async fn facts<R: Ranges + ?Sized>(src: &mut R, max_header: u64) -> Result<Facts, Error> {
    facts_from(src, FIRST_READ, max_header).await
}

async fn facts_from<R: Ranges + ?Sized>(
    src: &mut R,
    first_read: u64,
    max_header: u64,
) -> Result<Facts, Error> {
    let size = src.size();
    let most = size.min(max_header);
    let mut want = first_read.min(most);
    let (header, header_len) = loop {
        let start = match want {
            0 => Bytes::new(),
            n => src.read(0, n).await?,
        };
        match parse_header(&start) {
            // The authentication section counts, as in the decryptor's limit.
            Ok((h, body_len)) => match (body_len + h.auth_len()) as u64 {
                len if len > max_header => return Err(Error::HeaderTooLong { max: max_header }),
                len => break (h, len),
            },
            Err(cse_core::Error::Truncated) if want < most => {
                want = want.saturating_mul(4).clamp(1, most);
            }
            Err(cse_core::Error::Truncated) if size > max_header => {
                return Err(Error::HeaderTooLong { max: max_header });
            }
            Err(e) => return Err(e.into()),
        }
    };
    // The footer's length, from the last bytes after the header (a small message's body and
    // footer may be fewer than TAIL bytes).
    let after = size.saturating_sub(header_len).min(TAIL);
    let footer = if !header.suite.is_signed() {
        Some(0)
    } else if after > 0 {
        let tail = src.read(size - after, size).await?;
        cse_core::footer_len_from_tail(&tail).map(|n| n as u64)
    } else {
        None
    };
    let body = footer.and_then(|f| size.checked_sub(header_len.checked_add(f)?));
    let plaintext = match (header.content_type, body) {
        (ContentType::Framed, Some(body)) => {
            cse_core::framed_plaintext_len(header.frame_length, body)
        }
        (ContentType::NonFramed, Some(body)) => body.checked_sub(NON_FRAMED_OVERHEAD),
        (_, None) => None,
    };
    Ok(Facts {
        header,
        header_len,
        size,
        plaintext,
    })
}

/// An object read with ranged GETs pinned to the ETag it had when it was looked up.
#[derive(Debug)]
pub struct Object<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    size: u64,
    etag: String,
}

impl<'a> Object<'a> {
    /// `bucket/key`, with the size and ETag from a HEAD request.
    pub async fn head(client: &'a Client, bucket: &'a str, key: &'a str) -> Result<Self, Error> {
        let info = client.head_object(bucket, key).await?;
        Ok(Self {
            client,
            bucket,
            key,
            size: info.size,
            etag: info.etag,
        })
    }
}

impl Ranges for Object<'_> {
    fn size(&self) -> u64 {
        self.size
    }
    async fn read(&mut self, start: u64, end: u64) -> Result<Bytes, Error> {
        let etag = Some(self.etag.as_str());
        Ok(self
            .client
            .get_range(self.bucket, self.key, start, end, etag)
            .await?)
    }
}

/// The facts of `bucket/key`: a HEAD for its size and ETag, then ranged GETs of the header
/// (and of a signed message's last bytes) pinned to that ETag.
pub async fn inspect_object(
    client: &Client,
    bucket: &str,
    key: &str,
    max_header: u64,
) -> Result<Facts, Error> {
    let mut object = Object::head(client, bucket, key).await?;
    facts(&mut object, max_header).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::tests::block_on;
    use cse_core::{AlgorithmSuite, EncryptConfig, EncryptionContext, RawAesKeyring};

    /// A message in memory that records the ranges read.
    struct Memory {
        data: Vec<u8>,
        reads: Vec<(u64, u64)>,
    }

    impl Memory {
        fn new(data: Vec<u8>) -> Self {
            Self {
                data,
                reads: Vec::new(),
            }
        }
    }

    impl Ranges for Memory {
        fn size(&self) -> u64 {
            self.data.len() as u64
        }
        async fn read(&mut self, start: u64, end: u64) -> Result<Bytes, Error> {
            assert!(start < end && end <= self.size(), "range {start}..{end}");
            self.reads.push((start, end));
            Ok(Bytes::copy_from_slice(
                &self.data[start as usize..end as usize],
            ))
        }
    }

    fn keyring() -> RawAesKeyring {
        RawAesKeyring::new("MyAppKeys", "S3AesKey", &[7u8; 32]).expect("keyring")
    }

    fn message(suite: AlgorithmSuite, plaintext: usize, frame: u32) -> Vec<u8> {
        message_with(suite, plaintext, frame, "alpha")
    }

    fn message_with(suite: AlgorithmSuite, plaintext: usize, frame: u32, project: &str) -> Vec<u8> {
        let mut ctx = EncryptionContext::new();
        ctx.insert("project".into(), project.into());
        let config = EncryptConfig {
            suite: Some(suite),
            frame_length: frame,
            encryption_context: ctx,
            commitment_policy: if suite.is_committing() {
                cse_core::CommitmentPolicy::RequireEncryptRequireDecrypt
            } else {
                cse_core::CommitmentPolicy::ForbidEncryptAllowDecrypt
            },
            ..EncryptConfig::default()
        };
        cse_core::encrypt(&keyring(), &config, &vec![0x5a; plaintext]).expect("encrypt")
    }

    fn header_len(msg: &[u8]) -> u64 {
        let (h, body) = parse_header(msg).expect("header");
        (body + h.auth_len()) as u64
    }

    const SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    const UNSIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;

    #[test]
    fn whole_header_in_the_first_read() {
        let msg = message(UNSIGNED, 100_000, 4096);
        let mut src = Memory::new(msg.clone());
        let f = block_on(facts(&mut src, 1 << 20)).expect("facts");
        assert_eq!(src.reads, vec![(0, FIRST_READ)]);
        assert_eq!(f.size, msg.len() as u64);
        assert_eq!(f.header_len, header_len(&msg));
        assert_eq!(f.plaintext, Some(100_000));
        assert_eq!(f.header.suite, UNSIGNED);
        assert_eq!(f.data_keys(), vec!["MyAppKeys/S3AesKey".to_string()]);
        assert_eq!(f.message_id_hex().len(), 64);
        assert_eq!(
            f.header
                .encryption_context
                .get("project")
                .map(String::as_str),
            Some("alpha")
        );
        // A message shorter than the first read is read once, whole.
        let small = message(UNSIGNED, 10, 4096);
        let mut src = Memory::new(small.clone());
        let f = block_on(facts(&mut src, 1 << 20)).expect("facts");
        assert_eq!(src.reads, vec![(0, small.len() as u64)]);
        assert_eq!(f.plaintext, Some(10));
    }

    #[test]
    fn a_header_longer_than_the_first_read_is_read_in_growing_steps() {
        let msg = message_with(UNSIGNED, 5000, 1000, &"alpha ".repeat(60));
        let len = header_len(&msg);
        assert!(len > 256 && len <= 1024, "header of {len} bytes");
        let mut src = Memory::new(msg);
        let f = block_on(facts_from(&mut src, 64, 1 << 20)).expect("facts");
        assert_eq!(src.reads, vec![(0, 64), (0, 256), (0, 1024)]);
        assert_eq!(f.header_len, len);
        assert_eq!(f.plaintext, Some(5000));
        assert_eq!(f.header.frame_length, 1000);
    }

    #[test]
    fn a_header_longer_than_the_limit_is_refused() {
        let msg = message(UNSIGNED, 5000, 4096);
        let len = header_len(&msg);
        // Cut in the header's body, then in its authentication tag (which counts too).
        for max in [len / 2, len - 1] {
            let mut src = Memory::new(msg.clone());
            let e = block_on(facts_from(&mut src, 64, max)).expect_err("refused");
            assert!(
                matches!(e, Error::HeaderTooLong { max: m } if m == max),
                "{e}"
            );
            assert_eq!(e.class(), crate::ErrorClass::Refused);
            assert_eq!(
                e.to_string(),
                format!("the header is longer than {max} bytes")
            );
            // Never more than the limit was read.
            assert!(
                src.reads.iter().all(|&(_, end)| end <= max),
                "{:?}",
                src.reads
            );
        }
        let mut src = Memory::new(msg);
        assert!(block_on(facts_from(&mut src, 64, len)).is_ok());
        // The default first read is no larger than the limit either.
        let mut src = Memory::new(message(UNSIGNED, 5000, 4096));
        assert!(block_on(facts(&mut src, 100)).is_err());
        assert_eq!(src.reads, vec![(0, 100)]);
    }

    #[test]
    fn a_header_cut_short_is_truncated_and_junk_is_refused() {
        let msg = message(UNSIGNED, 10, 4096);
        let cut = (header_len(&msg) - 20) as usize;
        let mut src = Memory::new(msg[..cut].to_vec());
        let e = block_on(facts_from(&mut src, 64, 1 << 20)).expect_err("truncated");
        assert!(
            matches!(e, Error::Message(cse_core::Error::Truncated)),
            "{e}"
        );
        let mut src = Memory::new(b"\x1b]52;c;x\x07 not a message".to_vec());
        let e = block_on(facts(&mut src, 1 << 20)).expect_err("junk");
        assert_eq!(e.class(), crate::ErrorClass::Rejected);
        let mut src = Memory::new(Vec::new());
        assert!(block_on(facts(&mut src, 1 << 20)).is_err());
        assert!(src.reads.is_empty());
    }

    #[test]
    fn a_signed_message_reads_its_footer_from_the_last_bytes() {
        let p256 = AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256;
        for (suite, plaintext) in [0, 1, 4095, 4096, 100_001]
            .into_iter()
            .flat_map(|n| [(SIGNED, n), (p256, n)])
        {
            let msg = message(suite, plaintext, 4096);
            let size = msg.len() as u64;
            let mut src = Memory::new(msg.clone());
            let f = block_on(facts(&mut src, 1 << 20)).expect("facts");
            assert!(f.header.suite.is_signed());
            assert_eq!(
                f.plaintext,
                Some(plaintext as u64),
                "{suite}: {plaintext} bytes"
            );
            let tail = (size - header_len(&msg)).min(TAIL);
            assert_eq!(*src.reads.last().expect("reads"), (size - tail, size));
            assert_eq!(f.header_len, header_len(&msg));
        }
        // A signed message whose footer is damaged: the plaintext size is unknown.
        let mut msg = message(SIGNED, 5000, 4096);
        let n = msg.len();
        msg[n - 130..].fill(0xff);
        let f = block_on(facts(&mut Memory::new(msg), 1 << 20)).expect("facts");
        assert_eq!(f.plaintext, None);
    }

    /// A non-framed message: cse-core writes none, so its header is a real one made
    /// non-framed, serialized by cse-core, and the body's lengths are laid out by hand.
    fn non_framed(suite: AlgorithmSuite, plaintext: u64) -> Vec<u8> {
        let framed = message(suite, 0, 4096);
        let (mut h, _) = parse_header(&framed).expect("header");
        h.content_type = ContentType::NonFramed;
        h.frame_length = 0;
        let mut out = h.serialize_body().expect("serialize");
        out.extend(std::iter::repeat_n(0xa5, h.auth_len()));
        out.extend([1u8; 12]);
        out.extend(plaintext.to_be_bytes());
        out.extend(std::iter::repeat_n(0x3c, plaintext as usize + 16));
        if suite.is_signed() {
            let footer = cse_core::footer_len_from_tail(&framed).expect("footer");
            out.extend_from_slice(&framed[framed.len() - footer..]);
        }
        out
    }

    #[test]
    fn non_framed_plaintext_is_the_body_less_iv_length_and_tag() {
        for (suite, plaintext) in [(UNSIGNED, 0), (UNSIGNED, 5000), (SIGNED, 777)] {
            let msg = non_framed(suite, plaintext);
            let f = block_on(facts(&mut Memory::new(msg), 1 << 20)).expect("facts");
            assert_eq!(f.header.content_type, ContentType::NonFramed);
            assert_eq!(f.plaintext, Some(plaintext), "{suite}");
        }
        // A message written by the official Python SDK (signed, non-framed, 1 byte).
        let official = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../vectors/esdk-python/ciphertexts/0578-aes-256-nonframed-s1-noec");
        let msg = std::fs::read(official).expect("vector");
        let f = block_on(facts(&mut Memory::new(msg), 1 << 20)).expect("facts");
        assert_eq!(f.header.content_type, ContentType::NonFramed);
        assert_eq!(f.plaintext, Some(1));
    }

    #[test]
    fn many_data_keys_are_shown_capped() {
        let keyrings: Vec<Box<dyn cse_core::Keyring>> = (0..24)
            .map(|i| {
                let k = RawAesKeyring::new("MyAppKeys", &format!("k{i}"), &[i as u8; 32]);
                Box::new(k.expect("keyring")) as Box<dyn cse_core::Keyring>
            })
            .collect();
        let mut keyrings = keyrings.into_iter();
        let generator = keyrings.next();
        let multi =
            cse_core::MultiKeyring::new(generator, keyrings.collect()).expect("multi keyring");
        let msg = cse_core::encrypt(&multi, &EncryptConfig::default(), b"x").expect("encrypt");
        let f = block_on(facts(&mut Memory::new(msg), 1 << 20)).expect("facts");
        assert_eq!(f.data_keys().len(), 24);
        let (shown, more) = f.shown_data_keys();
        assert_eq!((shown.len(), more), (SHOWN_KEYS, 4));
        assert_eq!(shown[0], "MyAppKeys/k0");
    }
}
