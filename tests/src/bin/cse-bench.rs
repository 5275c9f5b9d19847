//! `cse-bench`: streaming encrypt or decrypt throughput of cse-core, for `bench/run.sh`.
//!
//! ```text
//! cse-bench --suite 0578 --size-mib 64 --op encrypt|decrypt --public-key PUB.pem --private-key PRIV.pem
//! ```
//! Encrypt streams a plaintext file into a discarding sink; decrypt streams a message file
//! into a counting sink. The files are written first (not timed). Prints one JSON line.

use std::io::{self, Read, Write};
use std::time::Instant;

use cse_core::stream::{decrypt_stream, encrypt_stream};
use cse_core::{AlgorithmSuite, DecryptConfig, EncryptConfig, RawRsaKeyring, RsaPadding};

/// Yields `left` bytes by repeating a random block.
struct Source {
    block: Vec<u8>,
    pos: usize,
    left: u64,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.block.len();
        self.left -= n as u64;
        Ok(n)
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let need = |n: &str| arg(&args, n).ok_or_else(|| format!("missing {n}"));
    let suite_text = need("--suite")?;
    let id = u16::from_str_radix(suite_text.trim_start_matches("0x"), 16)?;
    let suite = AlgorithmSuite::from_id(id).ok_or("unknown suite")?;
    let size = need("--size-mib")?.parse::<u64>()? << 20;
    let op = need("--op")?;
    let public = std::fs::read(need("--public-key")?)?;
    let private = std::fs::read(need("--private-key")?)?;
    let enc_ring = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256)?
        .with_public_key(&public)?;
    let dec_ring = RawRsaKeyring::new("MyAppKeys", "S3RSAKey", RsaPadding::OaepSha256)?
        .with_private_key(&private)?;
    // The provider `cse` uses on this build (AWS-LC natively).
    let provider = cse_core::crypto::CryptoProvider::fastest();
    let config = EncryptConfig {
        suite: Some(suite),
        provider,
        ..EncryptConfig::default()
    };
    let mut block = vec![0u8; 1 << 20];
    cse_core::crypto::fill_random(&mut block)?;
    let source = || Source {
        block: block.clone(),
        pos: 0,
        left: size,
    };

    // Both directions stream file to file-like sinks, as users run them: encrypt reads the
    // plaintext from a file, decrypt reads the message from a file (both in the page cache
    // after the untimed set-up).
    let dir = std::env::temp_dir().join(format!("cse-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let seconds = match op.as_str() {
        "encrypt" => {
            let path = dir.join("plaintext");
            io::copy(
                &mut source(),
                &mut io::BufWriter::new(std::fs::File::create(&path)?),
            )?;
            let t = Instant::now();
            encrypt_stream(&enc_ring, &config, std::fs::File::open(&path)?, io::sink())?;
            t.elapsed().as_secs_f64()
        }
        "decrypt" => {
            let path = dir.join("message");
            let file = io::BufWriter::new(std::fs::File::create(&path)?);
            encrypt_stream(&enc_ring, &config, source(), file)?;
            let t = Instant::now();
            let mut sink = Counter(0);
            decrypt_stream(
                &dec_ring,
                DecryptConfig {
                    provider,
                    ..DecryptConfig::default()
                },
                std::fs::File::open(&path)?,
                &mut sink,
            )?;
            let s = t.elapsed().as_secs_f64();
            if sink.0 != size {
                return Err(format!("decrypted {} bytes, expected {size}", sink.0).into());
            }
            s
        }
        _ => return Err("--op must be encrypt or decrypt".into()),
    };
    std::fs::remove_dir_all(&dir)?;
    println!(
        "{{\"op\":\"{op}\",\"suite\":\"{:04x}\",\"bytes\":{size},\"seconds\":{seconds:.4},\"mb_per_s\":{:.1}}}",
        suite.id(),
        size as f64 / seconds / 1e6
    );
    Ok(())
}

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
