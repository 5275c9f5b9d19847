//! Message settings from the command line, and `cse encrypt` / `cse decrypt` on local files.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use cse_core::stream::{decrypt_stream, encrypt_stream};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, EncryptConfig, EncryptionContext, Header,
};
use serde_json::json;

use crate::cli::{CommitmentArgs, DecryptArgs, EncryptArgs, LimitArgs, Policy};
use crate::error::{Failure, say, shown};
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
        provider: cse_core::crypto::CryptoProvider::fastest(),
        ..EncryptConfig::default()
    })
}

/// Settings for reading a message.
pub fn decrypt_config(
    pairs: &[(String, String)],
    limits: &LimitArgs,
    refuse_signed: bool,
    commitment: &CommitmentArgs,
) -> DecryptConfig {
    DecryptConfig {
        commitment_policy: policy(commitment),
        encryption_context: context(pairs),
        refuse_signed,
        max_encrypted_data_keys: Some(limits.max_encrypted_data_keys),
        max_key_attempts: Some(limits.max_key_attempts),
        max_header_size: Some(usize::try_from(limits.max_header_size.0).unwrap_or(usize::MAX)),
        max_frame_length: Some(limits.max_frame_length.0),
        max_non_framed_size: Some(limits.max_body_size.0),
        provider: cse_core::crypto::CryptoProvider::fastest(),
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
    let keyring = spec.encrypting(&o.public_key, file)?;
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
    )
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
    let config = decrypt_config(&o.context, &o.limits, o.refuse_signed, &o.commitment);
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
    )
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
) -> Result<(), Failure> {
    if json {
        // Not capped like other lines (it must stay JSON); json_line makes it inert.
        let line = json_line(&facts(op, input, output, header, plaintext, message));
        // Plaintext or message bytes may own stdout; then the facts go to stderr.
        let written = if output == "-" {
            writeln!(io::stderr().lock(), "{line}")
        } else {
            writeln!(io::stdout().lock(), "{line}")
        };
        written.map_err(|e| Failure::other(format!("writing the facts: {e}")))?;
    } else if !quiet && output != "-" {
        say(&format!(
            "{op}: {} to {} ({plaintext} bytes of plaintext, suite {})",
            shown(&input),
            shown(&output),
            header.suite
        ));
    }
    Ok(())
}

/// One line of JSON in which no character is a terminal control: serde_json escapes C0
/// controls, and this escapes DEL, C1 controls and invisible format characters too (they
/// can only occur inside strings, where `\uXXXX` means the same character).
pub fn json_line(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = c as u32;
        if (0x7f..0xa0).contains(&code)
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
        {
            out.push_str(&format!("\\u{code:04x}"));
        } else {
            out.push(c);
        }
    }
    out
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

    #[test]
    fn json_facts_hold_no_terminal_controls() {
        let v = json!({"k\u{1b}": "a\u{7}\u{9b}\u{7f}\u{202e}b"});
        let line = json_line(&v);
        assert!(line.chars().all(|c| (' '..='~').contains(&c)), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).expect("still JSON");
        assert_eq!(back, v);
    }
}
