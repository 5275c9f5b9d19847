//! `cse inspect`: what a message says about itself, without any key. From S3 it reads only the
//! header (ranged GETs) and, for signed messages, the footer's few last bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use cse_core::header::parse_header;
use cse_core::{ContentType, Error, Header};
use serde_json::json;

use crate::cli::InspectArgs;
use crate::error::{Failure, Kind, shown, tell};
use crate::s3url::parse_s3_url;
use crate::settings::{FileConfig, s3_config};

/// A header is read in steps of this many bytes until it parses (or the limit is reached).
const FIRST_READ: u64 = 64 << 10;
/// Bytes at the end of a message that hold any ECDSA footer.
const TAIL: u64 = 140;
/// Data keys listed one per line; the rest are counted.
const SHOWN_KEYS: usize = 20;

/// Where the message is: the bytes asked for are read from it.
trait Source {
    fn size(&self) -> u64;
    fn read(&mut self, start: u64, end: u64) -> Result<Vec<u8>, Failure>;
}

struct Local(File, u64);

impl Source for Local {
    fn size(&self) -> u64 {
        self.1
    }
    fn read(&mut self, start: u64, end: u64) -> Result<Vec<u8>, Failure> {
        let mut buf = Vec::new();
        self.0
            .seek(SeekFrom::Start(start))
            .and_then(|_| (&mut self.0).take(end - start).read_to_end(&mut buf))
            .map_err(|e| Failure::other(format!("read: {e}")))?;
        Ok(buf)
    }
}

struct Remote {
    rt: tokio::runtime::Runtime,
    client: cse_s3::Client,
    bucket: String,
    key: String,
    etag: String,
    size: u64,
}

impl Source for Remote {
    fn size(&self) -> u64 {
        self.size
    }
    fn read(&mut self, start: u64, end: u64) -> Result<Vec<u8>, Failure> {
        let r = self.rt.block_on(self.client.get_range(
            &self.bucket,
            &self.key,
            start,
            end,
            Some(&self.etag),
        ))?;
        Ok(r.to_vec())
    }
}

/// `cse inspect FILE | s3://bucket/key`.
pub fn run(
    args: &InspectArgs,
    file: &FileConfig,
    outer_s3: &crate::cli::S3Args,
) -> Result<(), Failure> {
    let mut source: Box<dyn Source> = match parse_s3_url(&args.target) {
        Some((bucket, key)) if !key.is_empty() => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failure::other(format!("async runtime: {e}")))?;
            let client = cse_s3::Client::new(s3_config(&args.s3.or(outer_s3), file)?)?;
            let info = rt.block_on(client.head_object(bucket, key))?;
            Box::new(Remote {
                rt,
                client,
                bucket: bucket.into(),
                key: key.into(),
                etag: info.etag,
                size: info.size,
            })
        }
        Some(_) => return Err(Failure::config("give an object: s3://bucket/key")),
        None => {
            let f = File::open(&args.target)
                .map_err(|e| Failure::other(format!("{}: {e}", shown(&args.target))))?;
            let size = f
                .metadata()
                .map_err(|e| Failure::other(format!("{}: {e}", shown(&args.target))))?
                .len();
            Box::new(Local(f, size))
        }
    };
    let size = source.size();
    let limit = args.max_header_size.0;
    // Read the start of the message, more while the header is longer, up to the limit.
    let mut want = FIRST_READ.min(size);
    let (header, header_len) = loop {
        let start = source.read(0, want)?;
        match parse_header(&start) {
            Ok((h, body_start)) => {
                let len = (body_start + h.auth_len()) as u64;
                break (h, len);
            }
            Err(Error::Truncated) if want < size.min(limit) => {
                want = (want * 4).min(size).min(limit);
            }
            Err(Error::Truncated) if size > limit => {
                return Err(Failure::new(
                    Kind::Message,
                    format!("the header is longer than {limit} bytes (raise --max-header-size)"),
                ));
            }
            Err(e) => return Err(Failure::message(e, None)),
        }
    };
    // The plaintext size follows from the object size (framed messages).
    let footer = match header.suite.is_signed() {
        true if size >= header_len + TAIL.min(size) => {
            let tail = source.read(size - TAIL.min(size - header_len), size)?;
            cse_core::footer_len_from_tail(&tail).map(|n| n as u64)
        }
        true => None,
        false => Some(0),
    };
    let body = footer.and_then(|f| size.checked_sub(header_len + f));
    let plaintext = match (header.content_type, body) {
        (ContentType::Framed, Some(body)) => {
            cse_core::framed_plaintext_len(header.frame_length, body)
        }
        // IV, a 64-bit length, the ciphertext and the tag.
        (ContentType::NonFramed, Some(body)) => body.checked_sub(12 + 8 + 16),
        (_, None) => None,
    };
    print(args, &header, header_len, size, plaintext)
}

fn print(
    args: &InspectArgs,
    h: &Header,
    header_len: u64,
    size: u64,
    plaintext: Option<u64>,
) -> Result<(), Failure> {
    let keys: Vec<String> = h
        .encrypted_data_keys
        .iter()
        .map(|k| k.summary().to_string())
        .collect();
    let context: Vec<(String, String)> = h
        .encryption_context
        .iter()
        .map(|(k, v)| (shown(k), shown(v)))
        .collect();
    if args.json {
        let v = json!({
            "object": shown(&args.target),
            "suite": h.suite.to_string(),
            "suite_name": h.suite.name(),
            "committing": h.suite.is_committing(),
            "signed": h.suite.is_signed(),
            "message_version": h.version(),
            "message_id": hex::encode(&h.message_id),
            "framed": h.content_type == ContentType::Framed,
            "frame_length": h.frame_length,
            "header_bytes": header_len,
            "message_bytes": size,
            "plaintext_bytes": plaintext,
            "encryption_context": context
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect::<serde_json::Map<_, _>>(),
            "encrypted_data_keys": keys,
        });
        return tell(&v.to_string());
    }
    let yes_no = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
    tell(&format!(
        "suite           {} {} ({}, {})",
        h.suite,
        h.suite.name(),
        yes_no(h.suite.is_committing(), "committing", "not committing"),
        yes_no(h.suite.is_signed(), "signed", "not signed")
    ))?;
    tell(&format!("message id      {}", hex::encode(&h.message_id)))?;
    tell(&match h.content_type {
        ContentType::Framed => format!(
            "body            framed, frames of {} bytes (format version {})",
            h.frame_length,
            h.version()
        ),
        ContentType::NonFramed => format!(
            "body            non-framed (format version {})",
            h.version()
        ),
    })?;
    tell(&format!("header          {header_len} bytes"))?;
    tell(&match plaintext {
        Some(p) => format!("size            {size} bytes, {p} bytes of plaintext"),
        None => format!("size            {size} bytes"),
    })?;
    if context.is_empty() {
        tell("context         (none)")?;
    }
    for (i, (k, v)) in context.iter().enumerate() {
        let label = if i == 0 { "context" } else { "" };
        tell(&format!("{label:<16}{k} = {v}"))?;
    }
    tell(&format!("data keys       {}", keys.len()))?;
    for k in keys.iter().take(SHOWN_KEYS) {
        tell(&format!("                {k}"))?;
    }
    if keys.len() > SHOWN_KEYS {
        tell(&format!(
            "                and {} more",
            keys.len() - SHOWN_KEYS
        ))?;
    }
    Ok(())
}
