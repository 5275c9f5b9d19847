//! `cse encrypt` / `cse decrypt` on local files (their settings come from `config`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use cse_core::Header;
use cse_core::stream::{decrypt_stream, encrypt_stream};
use serde_json::json;

use crate::cli::{DecryptArgs, EncryptArgs};
use crate::config::Config;
use crate::error::{Failure, say, shown};
use crate::output::{Counting, Sink};

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
pub fn encrypt(args: &EncryptArgs, config: &Config) -> Result<(), Failure> {
    let quiet = config.output.quiet;
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
pub fn decrypt(args: &DecryptArgs, config: &Config) -> Result<(), Failure> {
    let quiet = config.output.quiet;
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
    fn json_facts_hold_no_terminal_controls() {
        let v = json!({"k\u{1b}": "a\u{7}\u{9b}\u{7f}\u{202e}b"});
        let line = json_line(&v);
        assert!(line.chars().all(|c| (' '..='~').contains(&c)), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).expect("still JSON");
        assert_eq!(back, v);
    }
}
