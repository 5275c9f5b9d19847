//! Every committed vector set under `vectors/`, one test per case, so `cargo test` decrypts
//! them all: our sets written by the official Python SDK (`esdk-python`, `official-tampered`,
//! `bad-input`) and the official sets in `vectors/official/`.
//!
//! A set is a folder holding a manifest that `esdk-vectors decrypt` reads (`manifest.json`,
//! the legacy layout) or a `.json` manifest file in a folder that has none (the commitment
//! known answers). Tests are named `<set>/<case id>`, e.g.
//! `cargo test --release -p cse-interop --test vectors -- official/v4-Net-4.0.1/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cse_interop::decrypt::{Manifest, Outcome};
use libtest_mimic::{Arguments, Failed, Trial};

/// Sets of which every case must be rejected, whatever their manifest says.
const REJECT_ALL: &[&str] = &[
    // Written by ESDK-.NET 4.0.0 with two known bugs (v1 HKDF info without the message id; an
    // empty authenticate-only context serialized as `00 00`): a spec-strict reader refuses
    // all 28 (docs/esdk-format-notes.md §9, items 3 and 4).
    "official/invalid-Net-4.0.0",
];

/// Sets that must be found, so that a moved or deleted folder fails rather than shrinks the
/// suite.
const EXPECTED: &[&str] = &[
    "bad-input",
    "esdk-python",
    "official-tampered",
    "official/invalid-Net-4.0.0",
    "official/python-1.3.0-legacy",
    "official/python-commitment-kat/commitment-test-vectors",
    "official/v4-Net-4.0.1",
    "official/valid-Net-4.0.0",
];

/// A set's name: its path below `root`, with `/` between the parts.
fn set_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every manifest under `dir`, with its set name (a manifest file's without `.json`).
fn find_sets(root: &Path, dir: &Path, sets: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    if let Ok(manifest) = cse_interop::find_manifest(dir) {
        sets.push((set_name(root, dir), manifest));
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            find_sets(root, &path, sets)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            sets.push((set_name(root, &path.with_extension("")), path));
        }
    }
    Ok(())
}

fn trials() -> Vec<Trial> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let mut sets = Vec::new();
    if let Err(e) = find_sets(&root, &root, &mut sets) {
        return vec![Trial::test("vectors", move || Err(e.into()))];
    }
    let found: Vec<String> = sets.iter().map(|(name, _)| name.clone()).collect();
    let mut trials = vec![Trial::test("vectors/all-sets-present", move || {
        let absent: Vec<&str> = EXPECTED
            .iter()
            .copied()
            .filter(|e| !found.iter().any(|f| f == e))
            .collect();
        if absent.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "vector sets not found under vectors/: {}",
                absent.join(", ")
            )
            .into())
        }
    })];
    for (set, path) in sets {
        let manifest = match Manifest::load(&path) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                trials.push(Trial::test(format!("{set}/load"), move || Err(e.into())));
                continue;
            }
        };
        let invert = REJECT_ALL.contains(&set.as_str());
        for index in 0..manifest.cases.len() {
            let manifest = Arc::clone(&manifest);
            let name = format!("{set}/{}", manifest.cases[index].id);
            trials.push(Trial::test(name, move || {
                match manifest.run(&manifest.cases[index], invert) {
                    Outcome::Pass => Ok(()),
                    Outcome::Fail(why) => Err(Failed::from(why)),
                    Outcome::Skip(why) => Err(Failed::from(format!(
                        "not run ({why}): a committed set must run offline"
                    ))),
                }
            }));
        }
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit();
}
