//! `cse inspect`: what a message says about itself, without any key. The reading is
//! `cse_transfer::inspect` (from S3 only the header, with ranged GETs, and for signed messages
//! the footer's few last bytes); here are the arguments, the local file and the printing.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use cse_core::ContentType;
use cse_transfer::inspect::{self as engine, Facts, Ranges, SHOWN_KEYS};
use serde_json::json;

use crate::cli::InspectArgs;
use crate::config::Config;
use crate::error::{Failure, Kind, shown, tell};
use crate::s3url::parse_s3_url;

/// A message file, read where asked.
struct Local(File, u64);

impl Ranges for Local {
    fn size(&self) -> u64 {
        self.1
    }
    async fn read(&mut self, start: u64, end: u64) -> Result<Bytes, cse_transfer::Error> {
        let mut buf = Vec::new();
        self.0
            .seek(SeekFrom::Start(start))
            .and_then(|_| (&mut self.0).take(end - start).read_to_end(&mut buf))
            .map_err(|e| cse_transfer::Error::Local(format!("read: {e}")))?;
        Ok(buf.into())
    }
}

/// `cse inspect FILE | s3://bucket/key`: the facts come from `cse-transfer` (the page's
/// Inspect view reads them the same way); this prints them.
pub fn run(args: &InspectArgs, config: &Config) -> Result<(), Failure> {
    let limit = args.max_header_size.0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("async runtime: {e}")))?;
    let found = match parse_s3_url(&args.target) {
        Some((bucket, key)) if !key.is_empty() => {
            let client = cse_s3::Client::new(config.s3()?.clone())?;
            rt.block_on(engine::inspect_object(&client, bucket, key, limit))
        }
        Some(_) => return Err(Failure::config("give an object: s3://bucket/key")),
        None => {
            let f = File::open(&args.target)
                .map_err(|e| Failure::other(format!("{}: {e}", shown(&args.target))))?;
            let size = f
                .metadata()
                .map_err(|e| Failure::other(format!("{}: {e}", shown(&args.target))))?
                .len();
            rt.block_on(engine::facts(&mut Local(f, size), limit))
        }
    };
    match found {
        Ok(facts) => print(args, &facts),
        Err(cse_transfer::Error::HeaderTooLong { max }) => Err(Failure::new(
            Kind::Message,
            format!("the header is longer than {max} bytes (raise --max-header-size)"),
        )),
        Err(e) => Err(Failure::transfer(e, None)),
    }
}

fn print(args: &InspectArgs, facts: &Facts) -> Result<(), Failure> {
    let (h, header_len, size, plaintext) =
        (&facts.header, facts.header_len, facts.size, facts.plaintext);
    let keys = facts.data_keys();
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
            "message_id": facts.message_id_hex(),
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
    tell(&format!("message id      {}", facts.message_id_hex()))?;
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
