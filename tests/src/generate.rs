//! Writes an `awses-decrypt` (version 4) manifest of fresh cse-core ciphertexts, so the
//! official SDKs can check what we write.

use std::path::Path;

use cse_core::{AlgorithmSuite, CommitmentPolicy, EncryptConfig, EncryptionContext};
use serde_json::{Map, Value, json};

use crate::keys::{Built, Keys, Purpose, keyring_for_list};

/// The keyrings of the interop matrix, as master-key descriptions over a keys manifest with
/// `rsa-4096-private`, `aes-128`, `aes-192` and `aes-256`.
pub fn matrix_keyrings(namespace: &str) -> Vec<(&'static str, Value)> {
    let rsa = |alg: &str, hash: Option<&str>| {
        let mut d = json!({"type": "raw", "key": "rsa-4096-private", "provider-id": namespace,
                           "encryption-algorithm": "rsa", "padding-algorithm": alg});
        if let Some(h) = hash {
            d["padding-hash"] = json!(h);
        }
        d
    };
    let aes = |k: &str| json!({"type": "raw", "key": k, "provider-id": namespace, "encryption-algorithm": "aes"});
    vec![
        ("rsa-pkcs1", json!([rsa("pkcs1", None)])),
        ("rsa-oaep-sha1", json!([rsa("oaep-mgf1", Some("sha1"))])),
        ("rsa-oaep-sha256", json!([rsa("oaep-mgf1", Some("sha256"))])),
        ("rsa-oaep-sha384", json!([rsa("oaep-mgf1", Some("sha384"))])),
        ("rsa-oaep-sha512", json!([rsa("oaep-mgf1", Some("sha512"))])),
        ("aes-128", json!([aes("aes-128")])),
        ("aes-192", json!([aes("aes-192")])),
        ("aes-256", json!([aes("aes-256")])),
        (
            "multi",
            json!([rsa("oaep-mgf1", Some("sha256")), aes("aes-256")]),
        ),
    ]
}

/// A non-empty context with non-ASCII keys and values.
pub fn sample_context() -> EncryptionContext {
    [
        ("purpose", "cse interop"),
        ("größe", "ünïcödé 雪"),
        ("🔑", "値"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Encrypts the matrix suites × keyrings × {empty, non-empty context} × `sizes` with frame
/// length 4096 into `out` (manifest.json, keys.json, plaintexts/, ciphertexts/).
pub fn write_matrix(keys_path: &Path, out: &Path, sizes: &[usize]) -> Result<usize, String> {
    let keys = Keys::load(keys_path)?;
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(out.join("plaintexts")).map_err(io)?;
    std::fs::create_dir_all(out.join("ciphertexts")).map_err(io)?;
    std::fs::copy(keys_path, out.join("keys.json")).map_err(io)?;
    for &size in sizes {
        let mut p = vec![0u8; size];
        cse_core::crypto::fill_random(&mut p).map_err(|e| e.to_string())?;
        std::fs::write(out.join(format!("plaintexts/size-{size}")), p).map_err(io)?;
    }
    let mut tests = Map::new();
    for suite in AlgorithmSuite::ALL {
        let policy = if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        for (kname, desc) in matrix_keyrings("MyAppKeys") {
            let Built::Keyring(keyring) = keyring_for_list(&keys, &desc, Purpose::Encrypt)? else {
                return Err(format!(
                    "keyring {kname} cannot be built from {}",
                    keys_path.display()
                ));
            };
            for (ecname, ec) in [("noec", EncryptionContext::new()), ("ec", sample_context())] {
                for &size in sizes {
                    let id = format!("{:04x}-{kname}-f4096-s{size}-{ecname}", suite.id());
                    let plaintext =
                        std::fs::read(out.join(format!("plaintexts/size-{size}"))).map_err(io)?;
                    let config = EncryptConfig {
                        commitment_policy: policy,
                        suite: Some(*suite),
                        frame_length: 4096,
                        encryption_context: ec.clone(),
                        ..EncryptConfig::default()
                    };
                    let ct = cse_core::encrypt(&keyring, &config, &plaintext)
                        .map_err(|e| format!("{id}: {e}"))?;
                    std::fs::write(out.join(format!("ciphertexts/{id}")), ct).map_err(io)?;
                    tests.insert(
                        id.clone(),
                        json!({
                            "description": format!("suite {suite:?}, {kname}, {size} bytes, context {ecname}; encrypted by cse-core"),
                            "ciphertext": format!("file://ciphertexts/{id}"),
                            "master-keys": desc,
                            "cmm": "Default",
                            "encryption-context": ec,
                            "result": {"output": {"plaintext": format!("file://plaintexts/size-{size}")}},
                        }),
                    );
                }
            }
        }
    }
    let n = tests.len();
    let manifest = json!({
        "manifest": {"type": "awses-decrypt", "version": 4},
        "client": {"name": "cse-core", "version": env!("CARGO_PKG_VERSION")},
        "keys": "file://keys.json",
        "tests": tests,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(out.join("manifest.json"), text).map_err(io)?;
    Ok(n)
}
