//! `esdk-vectors`: run official ESDK decrypt manifests, or write one of our ciphertexts.
//!
//! ```text
//! esdk-vectors decrypt PATH [--expect-failure] [--filter TEXT] [--verbose]
//! esdk-vectors encrypt --keys KEYS.json --out DIR [--sizes 100,12295]
//! esdk-vectors encrypt MANIFEST.json --out DIR
//! ```
//! `encrypt` with `--keys` writes the interop matrix; with a manifest it processes an
//! `awses-encrypt` or `awses-decrypt-generate` manifest (tampering included).
//! `decrypt` ends with the line `N passed, M failed` (and `, K skipped` when some were
//! skipped); its exit status is 1 when M > 0.

use std::path::PathBuf;
use std::process::ExitCode;

use cse_interop::decrypt::{Manifest, Outcome};

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  esdk-vectors decrypt PATH [--expect-failure] [--filter TEXT] [--verbose]\n  esdk-vectors encrypt --keys KEYS.json --out DIR [--sizes 100,12295]\n  esdk-vectors encrypt MANIFEST.json --out DIR"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("decrypt") => decrypt(&args[1..]),
        Some("encrypt") => encrypt(&args[1..]),
        _ => usage(),
    }
}

fn decrypt(args: &[String]) -> ExitCode {
    let mut path = None;
    let mut invert = false;
    let mut filter = None;
    let mut verbose = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--expect-failure" => invert = true,
            "--verbose" | "-v" => verbose = true,
            "--filter" => filter = it.next().cloned(),
            p if path.is_none() && !p.starts_with("--") => path = Some(PathBuf::from(p)),
            _ => return usage(),
        }
    }
    let Some(path) = path else { return usage() };
    let manifest = match cse_interop::find_manifest(&path).and_then(|p| Manifest::load(&p)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("esdk-vectors: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::from(1);
        }
    };
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for case in &manifest.cases {
        if filter
            .as_ref()
            .is_some_and(|f| !case.id.contains(f.as_str()))
        {
            continue;
        }
        match manifest.run(case, invert) {
            Outcome::Pass => {
                passed += 1;
                if verbose {
                    println!("PASS {}", case.id);
                }
            }
            Outcome::Fail(why) => {
                failed += 1;
                println!("FAIL {}: {why}", case.id);
            }
            Outcome::Skip(why) => {
                skipped += 1;
                println!("SKIP {}: {why}", case.id);
            }
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn encrypt(args: &[String]) -> ExitCode {
    let mut keys = None;
    let mut manifest = None;
    let mut out = None;
    let mut sizes = vec![100usize, 3 * 4096 + 7];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keys" => keys = it.next().map(PathBuf::from),
            "--out" => out = it.next().map(PathBuf::from),
            "--sizes" => {
                let Some(s) = it.next() else { return usage() };
                match s
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<usize>, _>>()
                {
                    Ok(v) => sizes = v,
                    Err(_) => return usage(),
                }
            }
            m if manifest.is_none() && !m.starts_with("--") => manifest = Some(PathBuf::from(m)),
            _ => return usage(),
        }
    }
    if let (Some(m), Some(out)) = (&manifest, &out) {
        return match cse_interop::generate::write_from_manifest(m, out) {
            Ok(w) => {
                for (id, why) in &w.skipped {
                    println!("SKIP {id}: {why}");
                }
                println!(
                    "wrote {} cases to {} ({} scenarios skipped)",
                    w.cases,
                    out.join("manifest.json").display(),
                    w.skipped.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("esdk-vectors: {e}");
                ExitCode::from(1)
            }
        };
    }
    let (Some(keys), Some(out)) = (keys, out) else {
        return usage();
    };
    match cse_interop::generate::write_matrix(&keys, &out, &sizes) {
        Ok(n) => {
            println!("wrote {n} cases to {}", out.join("manifest.json").display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("esdk-vectors: {e}");
            ExitCode::from(1)
        }
    }
}
