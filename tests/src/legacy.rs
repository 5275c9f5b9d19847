//! The older decrypt layouts: `awses-legacy` (python-1.3.0: `ciphertext.manifest` with the
//! static test keys inline) and the commitment known-answer file (each case carries its
//! plaintext data key).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cse_core::keyring::{DataKey, DecryptionMaterials, EncryptionMaterials};
use cse_core::{
    EncryptedDataKey, EncryptionContext, Error, Keyring, MultiKeyring, RawAesKeyring,
    RawRsaKeyring, RsaPadding,
};
use serde_json::Value;

use crate::decrypt::{Bytes, Case, KeySource, Manifest};
use crate::keys::Keys;

/// Provider id of the static test keys of the legacy layout.
const LEGACY_PROVIDER: &str = "static-aws-xcompat";

fn key_material(test_keys: &Value, alg: &str, bits: &str) -> Result<Vec<u8>, String> {
    let k = test_keys
        .get(alg)
        .and_then(|a| a.get(bits))
        .ok_or_else(|| format!("no test key {alg}.{bits}"))?;
    let joined = crate::keys::key_text(k.get("key"), k.get("line_separator"))
        .ok_or_else(|| format!("test key {alg}.{bits} has no key"))?;
    match k.get("encoding").and_then(Value::as_str) {
        Some("base64") => B64.decode(joined.trim()).map_err(|e| e.to_string()),
        _ => Ok(joined.into_bytes()),
    }
}

/// The legacy keys are named `ALG.bits.padding.hash` in the messages (not in the manifest):
/// one keyring per static key, tried in turn.
fn legacy_keyring(test_keys: &Value) -> Result<Box<dyn Keyring>, String> {
    let e = |e: Error| e.to_string();
    let mut rings: Vec<Box<dyn Keyring>> = Vec::new();
    if let Some(aes) = test_keys.get("AES").and_then(Value::as_object) {
        for bits in aes.keys() {
            let key = key_material(test_keys, "AES", bits)?;
            rings.push(Box::new(
                RawAesKeyring::new(LEGACY_PROVIDER, &format!("AES.{bits}.."), &key).map_err(e)?,
            ));
        }
    }
    if let Some(rsa) = test_keys.get("RSA").and_then(Value::as_object) {
        for bits in rsa.keys() {
            let key = key_material(test_keys, "RSA", bits)?;
            for (name, padding) in [
                (format!("RSA.{bits}.PKCS1."), RsaPadding::Pkcs1),
                (format!("RSA.{bits}.OAEP-MGF1.SHA-1"), RsaPadding::OaepSha1),
                (
                    format!("RSA.{bits}.OAEP-MGF1.SHA-256"),
                    RsaPadding::OaepSha256,
                ),
            ] {
                let k = RawRsaKeyring::new(LEGACY_PROVIDER, &name, padding)
                    .map_err(e)?
                    .with_private_key(&key)
                    .map_err(e)?;
                rings.push(Box::new(k));
            }
        }
    }
    if rings.is_empty() {
        return Err("the legacy manifest has no test keys".into());
    }
    let generator = rings.remove(0);
    Ok(Box::new(
        MultiKeyring::new(Some(generator), rings).map_err(e)?,
    ))
}

/// Loads `manifests/ciphertext.manifest`; paths are relative to the folder above `manifests/`.
pub fn load_legacy(path: &Path, v: &Value) -> Result<Manifest, String> {
    let root = path
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let test_keys = v
        .get("test_keys")
        .ok_or("legacy manifest without test_keys")?;
    let shared = legacy_keyring(test_keys)?;
    let tests = v
        .get("test_cases")
        .and_then(Value::as_array)
        .ok_or("legacy manifest without test_cases")?;
    let mut cases = Vec::new();
    for t in tests {
        let file = |k: &str| {
            t.pointer(&format!("/{k}/filename"))
                .and_then(Value::as_str)
                .map(|f| root.join(f))
                .ok_or(format!("case without {k}"))
        };
        let ciphertext = file("ciphertext")?;
        let decryptable = t
            .get("master_keys")
            .and_then(Value::as_array)
            .is_some_and(|m| {
                m.iter().any(|k| {
                    k.get("decryptable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                })
            });
        let id = ciphertext
            .strip_prefix(root)
            .unwrap_or(&ciphertext)
            .display()
            .to_string();
        cases.push(Case {
            id,
            ciphertext: Bytes::File(ciphertext),
            plaintext: if decryptable {
                Some(Bytes::File(file("plaintext")?))
            } else {
                None
            },
            error_kind: None,
            reference: None,
            keys: KeySource::Shared,
            encryption_context: EncryptionContext::new(),
            unsigned_only: false,
            max_edks: None,
        });
    }
    Ok(Manifest {
        keys: Keys::default(),
        shared: Some(shared),
        cases,
        kind: "awses-legacy".into(),
    })
}

/// Loads the commitment known-answer file: each case gives the message, its plaintext data
/// key, whether it must decrypt, and the plaintext frames.
pub fn load_commitment_kat(v: &Value) -> Result<Manifest, String> {
    let tests = v.get("tests").and_then(Value::as_array).ok_or("no tests")?;
    let mut cases = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        let b64 = |k: &str| -> Result<Vec<u8>, String> {
            let s = t
                .get(k)
                .and_then(Value::as_str)
                .ok_or(format!("case {i}: no {k}"))?;
            B64.decode(s).map_err(|e| format!("case {i}: {k}: {e}"))
        };
        if t.get("decrypted-dek").is_none() {
            return Err(format!("case {i}: not a commitment known-answer case"));
        }
        let ok = match t.get("status") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        let plaintext = if ok {
            let frames = t
                .get("plaintext-frames")
                .and_then(Value::as_array)
                .ok_or(format!("case {i}: no plaintext-frames"))?;
            Some(Bytes::Inline(
                frames
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<String>()
                    .into_bytes(),
            ))
        } else {
            None
        };
        let comment = t.get("comment").and_then(Value::as_str).unwrap_or("");
        cases.push(Case {
            id: format!("{:02} {comment}", i + 1),
            ciphertext: Bytes::Inline(b64("ciphertext")?),
            plaintext,
            // The failing known answers pair a message with another data key: only the
            // key commitment can catch that.
            error_kind: (!ok).then(|| "commitment".to_string()),
            reference: None,
            keys: KeySource::DataKey(b64("decrypted-dek")?),
            encryption_context: EncryptionContext::new(),
            unsigned_only: false,
            max_edks: None,
        });
    }
    Ok(Manifest {
        keys: Keys::default(),
        shared: None,
        cases,
        kind: "commitment known-answer".into(),
    })
}

/// A keyring that hands out one known data key (known-answer tests only).
#[derive(Debug)]
pub struct StaticKeyring(pub Vec<u8>);

impl Keyring for StaticKeyring {
    fn on_encrypt(&self, _: &mut EncryptionMaterials) -> Result<(), Error> {
        Err(Error::Misuse("the known-answer keyring only decrypts"))
    }
    fn on_decrypt(&self, m: &mut DecryptionMaterials, _: &[EncryptedDataKey]) -> Result<(), Error> {
        m.data_key = Some(DataKey::new(self.0.clone()));
        Ok(())
    }
}
