//! `cse encrypt` / `cse decrypt` on local files (their settings come from `config`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use cse_core::Header;
use cse_core::stream::{decrypt_stream, encrypt_stream};

use crate::cli::{DecryptArgs, EncryptArgs};
use crate::config::Config;
use crate::error::Failure;
use crate::output::{Counting, Sink};

/// What `cse encrypt` or `cse decrypt` did: the message's header, plaintext and message bytes
/// (the message size of stdin being read for decrypt is not known: 0).
#[derive(Debug)]
pub struct Done {
    pub header: Header,
    pub plaintext: u64,
    pub message: u64,
}

fn open_input(input: &str) -> Result<Box<dyn Read + Send>, Failure> {
    if input == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let f = File::open(input).map_err(|e| Failure::other(format!("{input}: {e}")))?;
    Ok(Box::new(f))
}

/// `cse encrypt`.
pub fn encrypt(args: &EncryptArgs, config: &Config) -> Result<Done, Failure> {
    let spec = config.keys()?;
    let message = config.encrypt()?;
    let keyring = spec.encrypting(&message.recipients)?;
    let config = &message.config;
    let reader = open_input(&args.input)?;
    let mut sink = Counting {
        inner: Sink::open(&args.output)?,
        count: 0,
    };
    let (header, n) = encrypt_stream(&keyring, config, reader, &mut sink)
        .map_err(|e| Failure::io(e, None).context(&args.input))?;
    let written = sink.count;
    sink.inner.commit()?;
    Ok(Done {
        header,
        plaintext: n,
        message: written,
    })
}

/// `cse decrypt`: the output file appears only once the whole message verified.
pub fn decrypt(args: &DecryptArgs, config: &Config) -> Result<Done, Failure> {
    let spec = config.keys()?;
    let message = config.decrypt()?;
    let keyring = spec.decrypting(&message.private_key)?;
    let config = message.config.clone();
    let message_len = match args.input.as_str() {
        "-" => None,
        p => std::fs::metadata(Path::new(p)).ok().map(|m| m.len()),
    };
    let reader = open_input(&args.input)?;
    let mut sink = Sink::open(&args.output)?;
    let (header, n) = decrypt_stream(keyring, config, reader, &mut sink)
        .map_err(|e| Failure::io(e, Some(&spec.label())).context(&args.input))?;
    sink.commit()?;
    Ok(Done {
        header,
        plaintext: n,
        message: message_len.unwrap_or_default(),
    })
}
