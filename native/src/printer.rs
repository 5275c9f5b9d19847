//! The presentation layer: what the commands report, printed. Commands return what they
//! did; these functions say it on stdout or stderr (`error::tell`/`error::say` make every
//! line inert), as text or JSON, and honour `--quiet`. Progress bars are
//! `transfer::Bars`; lines printed while a transfer runs go through them.

use std::io::{self, Write};

use cse_core::{ContentType, Header};
use cse_transfer::inspect::{Facts, SHOWN_KEYS};
use serde_json::json;

use crate::cli::{InspectArgs, KeygenArgs};
use crate::commands::Copied;
use crate::config::Output;
use crate::error::{Failure, say, shown, tell};
use crate::local::Done;
use crate::resume;
use crate::transfer::Bars;
use crate::verify::Verified;

/// `cse keygen`: which files were written.
pub fn keygen(args: &KeygenArgs, out: Output) {
    if !out.quiet {
        say(&format!(
            "wrote {} (private, {}) and {} (public)",
            args.private_key.display(),
            if args.no_passphrase {
                "not encrypted: keep it safe"
            } else {
                "encrypted with the passphrase"
            },
            args.public_key.display()
        ));
    }
}

/// `cse encrypt`/`cse decrypt`: one JSON line of facts (`--json`, on stderr when the
/// message or plaintext owns stdout), else one line on stderr unless quiet or writing to
/// stdout.
pub fn message(
    op: &str,
    input: &str,
    output: &str,
    json: bool,
    done: &Done,
    out: Output,
) -> Result<(), Failure> {
    let Done {
        header,
        plaintext,
        message,
    } = done;
    let (plaintext, message) = (*plaintext, *message);
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
    } else if !out.quiet && output != "-" {
        say(&format!(
            "{op}: {} to {} ({plaintext} bytes of plaintext, suite {})",
            shown(&input),
            shown(&output),
            header.suite
        ));
    }
    Ok(())
}

/// The facts `--json` prints about one message.
fn facts(
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

/// One line of JSON in which no character is a terminal control: serde_json escapes C0
/// controls, and this escapes DEL, C1 controls and invisible format characters too (they
/// can only occur inside strings, where `\uXXXX` means the same character).
fn json_line(value: &serde_json::Value) -> String {
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

/// `cse verify`: a line per message (failures even when quiet), a count, and the exit
/// status of the first failure.
pub fn verified(results: Verified, out: Output) -> Result<(), Failure> {
    let quiet = out.quiet;
    let mut first_failure = None;
    let (mut ok, mut bad) = (0usize, 0usize);
    for (name, r) in results {
        match r {
            Ok(n) => {
                ok += 1;
                if !quiet {
                    tell(&format!(
                        "verified: {} ({n} bytes of plaintext)",
                        shown(&name)
                    ))?;
                }
            }
            Err(f) => {
                bad += 1;
                tell(&format!("FAILED: {}: {}", shown(&name), f.message))?;
                first_failure.get_or_insert(f);
            }
        }
    }
    if !quiet || bad > 0 {
        tell(&format!("{ok} verified, {bad} failed"))?;
    }
    // Each failure was named above; the exit status is the first one's.
    match first_failure {
        None => Ok(()),
        Some(f) => Err(Failure::new(
            f.kind,
            format!("{bad} of {} failed verification", ok + bad),
        )),
    }
}

/// `cse inspect`: the facts, as text or one JSON object.
pub fn inspected(args: &InspectArgs, facts: &Facts) -> Result<(), Failure> {
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

/// `cse ls`: a common prefix ("folder") below the prefix listed.
pub fn listed_prefix(name: &str) -> Result<(), Failure> {
    tell(&format!("{:>30} {}", "PRE", shown(&name)))
}

/// `cse ls`: an object, its date cut to the second, its size and `name`.
pub fn listed_object(o: &cse_s3::ObjectInfo, name: &str) -> Result<(), Failure> {
    let date = o.last_modified.replace('T', " ");
    let date = date.get(..19).unwrap_or(&date);
    tell(&format!("{} {:>10} {}", shown(&date), o.size, shown(&name)))
}

/// `cse rm`: an object deleted.
pub fn deleted(bucket: &str, key: &str, out: Output) -> Result<(), Failure> {
    if out.quiet {
        return Ok(());
    }
    tell(&format!(
        "delete: {}",
        shown(&format!("s3://{bucket}/{key}"))
    ))
}

/// `cse mb`: the bucket made.
pub fn made_bucket(bucket: &str, out: Output) -> Result<(), Failure> {
    if out.quiet {
        return Ok(());
    }
    tell(&format!("make_bucket: {}", shown(&bucket)))
}

/// `cse mpu ls`: an unfinished upload; one cse can continue says from which file and how far
/// it got.
pub fn multipart_upload(
    u: &cse_s3::UploadInfo,
    state: Option<&resume::Listed>,
) -> Result<(), Failure> {
    let state = state
        .map(|l| {
            format!(
                "\tresumable from {} ({} parts stored; state {})",
                shown(&l.source),
                l.parts,
                shown(&l.path.display())
            )
        })
        .unwrap_or_default();
    tell(&format!(
        "{}\t{}\t{}{state}",
        shown(&u.key),
        shown(&u.upload_id),
        shown(&u.initiated)
    ))
}

/// `cse mpu abort`: an upload aborted.
pub fn aborted(bucket: &str, key: &str, id: &str, out: Output) -> Result<(), Failure> {
    if out.quiet {
        return Ok(());
    }
    tell(&format!(
        "abort: {} {}",
        shown(&format!("s3://{bucket}/{key}")),
        shown(&id)
    ))
}

/// `cse cp`: one object copied, said above the progress bars (nothing for a download to
/// stdout, whose bytes own it; nothing for a failure, which the summary and the error tell).
pub fn copied(r: &Result<Copied, Failure>, bars: &Bars, out: Output) {
    let Ok(copied) = r else { return };
    if out.quiet {
        return;
    }
    let line = match copied {
        Copied::Up {
            source,
            target,
            done,
        } => format!(
            "upload: {} to {} ({} bytes encrypted into {}, suite {}{})",
            shown(source),
            shown(target),
            done.plaintext,
            done.message,
            done.header.suite,
            if done.parts > 0 {
                format!(", {} parts", done.parts)
            } else {
                String::new()
            }
        ),
        Copied::Down { dest, .. } if dest == "-" => return,
        Copied::Down { source, dest, done } => format!(
            "download: {} to {} ({} bytes decrypted from {}, suite {})",
            shown(source),
            shown(dest),
            done.plaintext,
            done.message,
            done.header.suite
        ),
    };
    let _ = bars.tell(&line);
}

/// `cse cp -r` that did not copy everything: one line of what was copied, what failed and
/// what was not copied (at most a few names).
pub fn copy_summary(summary: &cse_transfer::Summary<Failure>) {
    let mut line = format!(
        "cse: {} copied, {} failed",
        summary.copied, summary.failed_count
    );
    if summary.not_started > 0 {
        let names: Vec<String> = summary.not_started_names.iter().map(shown).collect();
        let more = summary.not_started - names.len() as u64;
        line.push_str(&format!(
            ", {} not copied: {}{}",
            summary.not_started,
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if summary.rest_unknown {
        line.push_str(", the rest not looked at");
    }
    say(&line);
}

/// `cse cp`: an interrupted upload that cannot continue, and why.
pub fn starting_over(source: &str, why: &str) {
    say(&format!("cse: {}: {why}; starting over", shown(&source)));
}

/// `cse cp`: an interrupted upload continued.
pub fn continuing(source: &str, parts: usize) {
    say(&format!(
        "cse: {}: continuing the interrupted upload ({parts} parts stored)",
        shown(&source)
    ));
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
