//! `cse inspect`: what a message says about itself, without any key. The reading is
//! `cse_transfer::inspect` (from S3 only the header, with ranged GETs, and for signed messages
//! the footer's few last bytes); here are the arguments and the local file (`printer` prints).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use cse_transfer::inspect::{self as engine, Facts, Ranges};

use crate::cli::InspectArgs;
use crate::config::Config;
use crate::error::{Failure, Kind, shown};
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
/// Inspect view reads them the same way); `printer::inspected` prints them.
pub fn run(args: &InspectArgs, config: &Config) -> Result<Facts, Failure> {
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
        Ok(facts) => Ok(facts),
        Err(cse_transfer::Error::HeaderTooLong { max }) => Err(Failure::new(
            Kind::Message,
            format!("the header is longer than {max} bytes (raise --max-header-size)"),
        )),
        Err(e) => Err(Failure::transfer(e, None)),
    }
}
