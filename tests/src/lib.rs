//! Interoperability harness: runs official ESDK test-vector manifests against cse-core and
//! writes manifests of cse-core ciphertexts for the official SDKs to check.

#![forbid(unsafe_code)]

pub mod decrypt;
pub mod generate;
pub mod keys;
pub mod legacy;

use std::path::{Path, PathBuf};

/// Finds the manifest file for `path`: the file itself, or `manifest.json` /
/// `decrypt_message.json` inside a folder.
pub fn find_manifest(path: &Path) -> Result<PathBuf, String> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    for name in [
        "manifest.json",
        "decrypt_message.json",
        "aws_encryption_sdk_resources/manifests/ciphertext.manifest",
        "manifests/ciphertext.manifest",
    ] {
        let p = path.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(format!(
        "{}: no manifest.json in this folder",
        path.display()
    ))
}
