//! `cse verify`: authenticate whole messages (commitment, header, every frame, signature) with
//! the private key and write nothing.

use std::path::Path;
use std::sync::Arc;

use cse_core::stream::decrypt_stream;
use cse_core::{Decryptor, RawRsaKeyring};
use futures_util::StreamExt;

use crate::cli::VerifyArgs;
use crate::commands::plan;
use crate::config::Config;
use crate::error::{Failure, Kind, shown};
use crate::output::Sink;
use crate::s3url::parse_s3_url;
use crate::transfer::FileSink;

/// One message to check: a local file or an object.
enum Target {
    File(String),
    Object { bucket: String, key: String },
}

impl Target {
    fn name(&self) -> String {
        match self {
            Self::File(p) => p.clone(),
            Self::Object { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// What `cse verify` found: each message's name and its plaintext bytes or why it failed.
pub type Verified = Vec<(String, Result<u64, Failure>)>;

/// `cse verify TARGET... [-r]`: every message checked; `printer::verified` tells the
/// outcome (exit 0 when every message verified, else the status of the first failure).
pub async fn run(config: &Config, args: &VerifyArgs) -> Result<Verified, Failure> {
    let spec = config.keys()?;
    let message = config.decrypt()?;
    // The private key is read (and its passphrase asked) once for every message.
    let keyring = Arc::new(spec.decrypting(&message.private_key)?);
    let label = spec.label();

    let mut targets = Vec::new();
    let mut client = None;
    for t in &args.targets {
        match parse_s3_url(t) {
            Some((bucket, prefix)) => {
                let p = match &client {
                    Some(p) => p,
                    None => client.insert(plan(config)?),
                };
                if args.recursive {
                    for o in p.engine.client.list_all(bucket, prefix).await? {
                        targets.push(Target::Object {
                            bucket: bucket.into(),
                            key: o.key,
                        });
                    }
                } else if prefix.is_empty() {
                    return Err(Failure::config(format!(
                        "{}: give an object, or --recursive for a prefix",
                        shown(t)
                    )));
                } else {
                    targets.push(Target::Object {
                        bucket: bucket.into(),
                        key: prefix.into(),
                    });
                }
            }
            None => targets.push(Target::File(t.clone())),
        }
    }

    // Objects are checked several at a time, each with a share of the requests in flight.
    let concurrency = client
        .as_ref()
        .map_or(1, |p| p.engine.settings.concurrency)
        .max(1);
    let at_once = concurrency.clamp(1, 4);
    let results: Verified = futures_util::stream::iter(targets)
        .map(|t| {
            let keyring = keyring.clone();
            let config = message.config.clone();
            let (label, client) = (label.clone(), client.as_ref());
            async move {
                let name = t.name();
                let r = match t {
                    Target::File(path) => verify_file(&path, keyring, config, &label),
                    Target::Object { bucket, key } => match client {
                        Some(plan) => {
                            let dec = Decryptor::new(keyring, config);
                            let sink = FileSink(Sink::Discard);
                            cse_transfer::download(
                                &plan.engine,
                                &bucket,
                                &key,
                                None,
                                dec,
                                sink,
                                &(),
                            )
                            .await
                            .map(|d| d.plaintext)
                            .map_err(|e| Failure::transfer(e, Some(&label)))
                        }
                        None => Err(Failure::other("internal: no S3 client")),
                    },
                };
                (name, r)
            }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;

    Ok(results)
}

fn verify_file(
    path: &str,
    keyring: Arc<RawRsaKeyring>,
    config: cse_core::DecryptConfig,
    label: &str,
) -> Result<u64, Failure> {
    let f = std::fs::File::open(Path::new(path))
        .map_err(|e| Failure::new(Kind::Other, format!("{}: {e}", shown(&path))))?;
    let (_, n) = decrypt_stream(keyring, config, f, std::io::sink())
        .map_err(|e| Failure::io(e, Some(label)))?;
    Ok(n)
}
