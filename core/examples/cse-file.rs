//! Encrypts or decrypts a local file with a raw RSA keyring, the way the users' Python
//! scripts do (namespace `MyAppKeys`, key name `S3RSAKey`, OAEP-SHA256, suite 0x0578).
//!
//! ```text
//! cargo run --release -p cse-core --example cse-file -- encrypt IN OUT public_key.pem
//! cargo run --release -p cse-core --example cse-file -- decrypt IN OUT private_key.pem
//! ```
//! Decryption writes to a temporary file beside OUT and renames it only once the whole
//! message, signature included, has verified.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::process::ExitCode;

use cse_core::stream::{decrypt_stream, encrypt_stream};
use cse_core::{DecryptConfig, EncryptConfig, RawRsaKeyring, RsaPadding};

fn run(args: &[String]) -> Result<String, Box<dyn std::error::Error>> {
    let [op, input, output, key] = args else {
        return Err("usage: cse-file encrypt|decrypt IN OUT KEY.pem".into());
    };
    let key_bytes = std::fs::read(key)?;
    let keyring = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256)?;
    let reader = BufReader::new(File::open(input)?);
    let out = Path::new(output);
    let tmp = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("cse")
    ));
    let writer = BufWriter::new(File::create(&tmp)?);
    let result = match op.as_str() {
        "encrypt" => {
            let keyring = keyring.with_public_key(&key_bytes)?;
            encrypt_stream(&keyring, &EncryptConfig::default(), reader, writer)
        }
        "decrypt" => {
            let keyring = keyring.with_private_key(&key_bytes)?;
            decrypt_stream(&keyring, DecryptConfig::default(), reader, writer)
        }
        _ => return Err("the operation is encrypt or decrypt".into()),
    };
    match result {
        Ok((header, n)) => {
            std::fs::rename(&tmp, out)?;
            Ok(format!(
                "{op}ed {n} bytes of plaintext, suite {:?}, {}",
                header.suite,
                out.display()
            ))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.into())
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(msg) => {
            eprintln!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cse-file: {e}");
            ExitCode::FAILURE
        }
    }
}
