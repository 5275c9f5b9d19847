//! Message settings from the command line, and `cse encrypt` / `cse decrypt` on local files.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use cse_core::stream::{decrypt_stream, encrypt_stream};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, EncryptConfig, EncryptionContext, Header,
};
use serde_json::json;

use crate::cli::{CommitmentArgs, DecryptArgs, EncryptArgs, Policy};
use crate::error::Failure;
use crate::keys::{KeySpec, key_path};
use crate::output::{Counting, Sink};
use crate::settings::FileConfig;

fn policy(args: &CommitmentArgs) -> CommitmentPolicy {
    match args.commitment_policy {
        None | Some(Policy::RequireEncryptRequireDecrypt) => {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        }
        Some(Policy::RequireEncryptAllowDecrypt) => CommitmentPolicy::RequireEncryptAllowDecrypt,
        Some(Policy::ForbidEncryptAllowDecrypt) => CommitmentPolicy::ForbidEncryptAllowDecrypt,
    }
}

/// `0x0578`, `0578`, `1400` (decimal) or the official name.
pub fn parse_suite(s: &str) -> Result<AlgorithmSuite, Failure> {
    let t = s.trim();
    let by_id = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .map(|h| u16::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| u16::from_str_radix(t, 16).ok().filter(|_| t.len() == 4));
    by_id
        .and_then(AlgorithmSuite::from_id)
        .or_else(|| {
            AlgorithmSuite::ALL
                .iter()
                .copied()
                .find(|a| a.name().eq_ignore_ascii_case(t))
        })
        .ok_or_else(|| {
            let known: Vec<String> = AlgorithmSuite::ALL.iter().map(|a| a.to_string()).collect();
            Failure::config(format!(
                "unknown algorithm suite {s:?}; known: {}",
                known.join(", ")
            ))
        })
}

fn context(pairs: &[(String, String)]) -> EncryptionContext {
    pairs.iter().cloned().collect()
}

/// Settings for writing a message.
pub fn encrypt_config(
    suite: Option<&str>,
    frame_length: u32,
    pairs: &[(String, String)],
    commitment: &CommitmentArgs,
) -> Result<EncryptConfig, Failure> {
    Ok(EncryptConfig {
        commitment_policy: policy(commitment),
        suite: suite.map(parse_suite).transpose()?,
        frame_length,
        encryption_context: context(pairs),
        ..EncryptConfig::default()
    })
}

/// Settings for reading a message.
pub fn decrypt_config(
    pairs: &[(String, String)],
    max_edks: Option<usize>,
    refuse_signed: bool,
    commitment: &CommitmentArgs,
) -> DecryptConfig {
    DecryptConfig {
        commitment_policy: policy(commitment),
        max_encrypted_data_keys: max_edks,
        encryption_context: context(pairs),
        refuse_signed,
        ..DecryptConfig::default()
    }
}

/// The facts `--json` prints about one message.
pub fn facts(
    op: &str,
    input: &str,
    output: &str,
    header: &Header,
    plaintext: u64,
    message: u64,
) -> serde_json::Value {
    let edks: Vec<String> = header
        .encrypted_data_keys
        .iter()
        .map(|k| k.summary().to_string())
        .collect();
    json!({
        "operation": op,
        "input": input,
        "output": output,
        "suite": header.suite.to_string(),
        "suite_name": header.suite.name(),
        "message_version": header.version(),
        "message_id": hex::encode(&header.message_id),
        "framed": header.content_type == cse_core::ContentType::Framed,
        "frame_length": header.frame_length,
        "encryption_context": header.encryption_context,
        "encrypted_data_keys": edks,
        "plaintext_bytes": plaintext,
        "message_bytes": message,
    })
}

fn open_input(input: &str) -> Result<Box<dyn Read + Send>, Failure> {
    if input == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let f = File::open(input).map_err(|e| Failure::other(format!("{input}: {e}")))?;
    Ok(Box::new(f))
}

/// `cse encrypt`.
pub fn encrypt(args: &EncryptArgs, file: &FileConfig, quiet: bool) -> Result<(), Failure> {
    let o = &args.options;
    let spec = KeySpec::resolve(&o.keyring, file)?;
    let key = key_path(
        o.public_key.clone(),
        file.public_key.as_ref(),
        "public_key.pem",
    );
    let keyring = spec.encrypting(&key)?;
    let config = encrypt_config(
        o.suite.as_deref(),
        o.frame_length,
        &o.context,
        &o.commitment,
    )?;
    let reader = open_input(&args.input)?;
    let mut sink = Counting {
        inner: Sink::open(&args.output)?,
        count: 0,
    };
    let (header, n) = encrypt_stream(&keyring, &config, reader, &mut sink)
        .map_err(|e| Failure::io(e, None).context(&args.input))?;
    let written = sink.count;
    sink.inner.commit()?;
    report(
        args.json,
        quiet,
        "encrypt",
        &args.input,
        &args.output,
        &header,
        n,
        written,
    );
    Ok(())
}

/// `cse decrypt`: the output file appears only once the whole message verified.
pub fn decrypt(args: &DecryptArgs, file: &FileConfig, quiet: bool) -> Result<(), Failure> {
    let o = &args.options;
    let spec = KeySpec::resolve(&o.keyring, file)?;
    let key = key_path(
        o.private_key.clone(),
        file.private_key.as_ref(),
        "private_key.pem",
    );
    let keyring = spec.decrypting(&key)?;
    let config = decrypt_config(
        &o.context,
        o.max_encrypted_data_keys,
        o.refuse_signed,
        &o.commitment,
    );
    let message_len = match args.input.as_str() {
        "-" => None,
        p => std::fs::metadata(Path::new(p)).ok().map(|m| m.len()),
    };
    let reader = open_input(&args.input)?;
    let mut sink = Sink::open(&args.output)?;
    let (header, n) = decrypt_stream(keyring, config, reader, &mut sink)
        .map_err(|e| Failure::io(e, Some(&spec.label())).context(&args.input))?;
    sink.commit()?;
    report(
        args.json,
        quiet,
        "decrypt",
        &args.input,
        &args.output,
        &header,
        n,
        message_len.unwrap_or_default(),
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn report(
    json: bool,
    quiet: bool,
    op: &str,
    input: &str,
    output: &str,
    header: &Header,
    plaintext: u64,
    message: u64,
) {
    if json {
        let line = facts(op, input, output, header, plaintext, message);
        // Plaintext or message bytes may own stdout; then the facts go to stderr.
        if output == "-" {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    } else if !quiet && output != "-" {
        eprintln!(
            "{op}: {input} to {output} ({plaintext} bytes of plaintext, suite {})",
            header.suite
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_parse_by_id_and_name() {
        let s = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
        for text in [
            "0x0578",
            "0578",
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        ] {
            assert_eq!(parse_suite(text).ok(), Some(s), "{text}");
        }
        assert!(parse_suite("0x9999").is_err());
        assert!(parse_suite("rot13").is_err());
    }
}
