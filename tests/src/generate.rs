//! Writes an `awses-decrypt` (version 4) manifest of fresh cse-core ciphertexts, so the
//! official SDKs can check what we write.

use std::path::Path;

use cse_core::keyring::{DecryptionMaterials, EncryptionMaterials};
use cse_core::{
    AlgorithmSuite, CommitmentPolicy, EncryptConfig, EncryptedDataKey, EncryptionContext, Error,
    Keyring,
};
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

/// What [`write_from_manifest`] produced.
#[derive(Debug, Default)]
pub struct Written {
    /// Decrypt cases written.
    pub cases: usize,
    /// Scenarios not written, with the reason.
    pub skipped: Vec<(String, String)>,
}

fn hex_suite(v: Option<&Value>) -> Result<AlgorithmSuite, String> {
    let s = v
        .and_then(Value::as_str)
        .ok_or("scenario without algorithm")?;
    let id = u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|e| format!("algorithm {s:?}: {e}"))?;
    AlgorithmSuite::from_id(id).ok_or_else(|| format!("unknown algorithm {s}"))
}

/// Processes an `awses-encrypt` (versions 1–4) or `awses-decrypt-generate` (versions 1–2)
/// manifest: encrypts every scenario with cse-core, applies the requested tampering
/// (`truncate`, `mutate`, `half-sign`, `change-edk-provider-info`), and writes an
/// `awses-decrypt` manifest (version 2) with keys, plaintexts and ciphertexts into `out`.
pub fn write_from_manifest(path: &Path, out: &Path) -> Result<Written, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let ty = v
        .pointer("/manifest/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let generate = match ty {
        "awses-encrypt" => false,
        "awses-decrypt-generate" => true,
        _ => {
            return Err(format!(
                "{}: not an awses-encrypt or awses-decrypt-generate manifest",
                path.display()
            ));
        }
    };
    let keys_uri = v
        .get("keys")
        .and_then(Value::as_str)
        .ok_or("manifest without keys")?;
    let keys_path = dir.join(
        keys_uri
            .strip_prefix("file://")
            .ok_or("keys is not a file:// URI")?,
    );
    let keys = Keys::load(&keys_path)?;
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(out.join("plaintexts")).map_err(io)?;
    std::fs::create_dir_all(out.join("ciphertexts")).map_err(io)?;
    std::fs::copy(&keys_path, out.join("keys.json")).map_err(io)?;

    let mut plaintexts = std::collections::BTreeMap::new();
    for (name, size) in v
        .get("plaintexts")
        .and_then(Value::as_object)
        .ok_or("manifest without plaintexts")?
    {
        let size = size
            .as_u64()
            .and_then(|s| usize::try_from(s).ok())
            .ok_or("plaintext size")?;
        let mut p = vec![0u8; size];
        cse_core::crypto::fill_random(&mut p).map_err(|e| e.to_string())?;
        std::fs::write(out.join("plaintexts").join(name), &p).map_err(io)?;
        plaintexts.insert(name.clone(), p);
    }

    let mut written = Written::default();
    let mut tests = Map::new();
    let tests_in = v
        .get("tests")
        .and_then(Value::as_object)
        .ok_or("manifest without tests")?;
    for (id, t) in tests_in {
        let scenario = if generate {
            t.get("encryption-scenario")
                .ok_or("test without encryption-scenario")?
        } else {
            t
        };
        let pt_name = scenario
            .get("plaintext")
            .and_then(Value::as_str)
            .ok_or("scenario without plaintext")?;
        let plaintext = plaintexts
            .get(pt_name)
            .ok_or_else(|| format!("{id}: unknown plaintext {pt_name}"))?;
        let suite = hex_suite(scenario.get("algorithm"))?;
        let frame = scenario
            .get("frame-size")
            .and_then(Value::as_u64)
            .unwrap_or(4096);
        if frame == 0 {
            written.skipped.push((
                id.clone(),
                "non-framed: cse writes framed messages only".into(),
            ));
            continue;
        }
        let master_keys = scenario.get("master-keys").cloned().unwrap_or(Value::Null);
        let keyring = match keyring_for_list(&keys, &master_keys, Purpose::Encrypt)? {
            Built::Keyring(k) => k,
            Built::Skip(why) => {
                written.skipped.push((id.clone(), why));
                continue;
            }
        };
        let ec: EncryptionContext = scenario
            .get("encryption-context")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let policy = if suite.is_committing() {
            CommitmentPolicy::RequireEncryptAllowDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        let config = EncryptConfig {
            commitment_policy: policy,
            suite: Some(suite),
            frame_length: u32::try_from(frame).map_err(|_| format!("{id}: frame size {frame}"))?,
            encryption_context: ec,
            ..EncryptConfig::default()
        };
        let tampering = t.get("tampering").or_else(|| t.get("tampering-method"));
        let half_sign = tampering.and_then(Value::as_str) == Some("half-sign");
        let message = if half_sign {
            cse_core::encrypt(&HalfSign(&keyring), &config, plaintext)
        } else {
            cse_core::encrypt(&keyring, &config, plaintext)
        }
        .map_err(|e| format!("{id}: {e}"))?;
        let decrypt_keys = t
            .get("decryption-master-keys")
            .cloned()
            .unwrap_or(master_keys);
        let reference = format!("file://plaintexts/{pt_name}");
        let mut emit = |case_id: String, bytes: &[u8], result: Value| -> Result<(), String> {
            std::fs::write(out.join("ciphertexts").join(&case_id), bytes).map_err(io)?;
            let mut case = json!({
                "ciphertext": format!("file://ciphertexts/{case_id}"),
                "master-keys": decrypt_keys,
                "result": result,
            });
            if let Some(m) = t.get("decryption-method") {
                case["decryption-method"] = m.clone();
            }
            if case["result"].get("error").is_some() {
                case["cse-plaintext"] = json!(reference);
            }
            tests.insert(case_id, case);
            Ok(())
        };
        let error = |what: &str| json!({"error": {"error-description": what}});
        match tampering {
            None => {
                let result = t.get("result").cloned().unwrap_or_else(
                    || json!({"output": {"plaintext": format!("file://plaintexts/{pt_name}")}}),
                );
                emit(id.clone(), &message, result)?;
            }
            Some(Value::String(s)) if s == "truncate" => {
                for n in 1..message.len() {
                    emit(
                        format!("{id}-truncate-{n}"),
                        &message[..n],
                        error(&format!("truncated at byte {n}")),
                    )?;
                }
            }
            Some(Value::String(s)) if s == "mutate" => {
                for bit in 0..message.len() * 8 {
                    let mut m = message.clone();
                    m[bit / 8] ^= 0x80 >> (bit % 8);
                    emit(
                        format!("{id}-mutate-{bit}"),
                        &m,
                        error(&format!("bit {bit} flipped")),
                    )?;
                }
            }
            Some(Value::String(s)) if s == "half-sign" => {
                emit(
                    format!("{id}-half-sign"),
                    &message,
                    error("unsigned suite with a signing key in the encryption context"),
                )?;
            }
            Some(Value::Object(o)) if o.contains_key("change-edk-provider-info") => {
                let infos = o["change-edk-provider-info"]
                    .as_array()
                    .ok_or("change-edk-provider-info is not a list")?;
                let (mut header, body_len) =
                    cse_core::header::parse_header(&message).map_err(|e| e.to_string())?;
                for (i, info) in infos.iter().enumerate() {
                    let info = info.as_str().ok_or("provider info is not a string")?;
                    for edk in &mut header.encrypted_data_keys {
                        edk.provider_info = info.as_bytes().to_vec();
                    }
                    let mut m = header.serialize_body().map_err(|e| e.to_string())?;
                    m.extend_from_slice(&message[body_len..]);
                    emit(
                        format!("{id}-provider-info-{i}"),
                        &m,
                        error(&format!("EDK provider info changed to {info:?}")),
                    )?;
                }
            }
            Some(other) => return Err(format!("{id}: unknown tampering {other}")),
        }
        written.cases = tests.len();
    }
    let manifest = json!({
        "manifest": {"type": "awses-decrypt", "version": 2},
        "client": {"name": "cse-core", "version": env!("CARGO_PKG_VERSION")},
        "keys": "file://keys.json",
        "tests": tests,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(out.join("manifest.json"), text).map_err(io)?;
    written.cases = tests.len();
    Ok(written)
}

/// The official "half-sign" tampering, made outside the library: a keyring wrapper that puts
/// `aws-crypto-public-key` into the context of a message whose suite is unsigned. The
/// encryptor stores the context the keyrings leave, so the header carries a public key and no
/// footer follows; every reader must refuse it.
#[derive(Debug)]
struct HalfSign<'a>(&'a dyn Keyring);

/// The compressed P-384 base point, base64: a valid point (the reader must refuse the message
/// for carrying a key at all, not for a malformed one).
const P384_BASE_POINT: &str =
    "A6qHyiK+iwU3jrHHHvMgrXRuHTtii6ebmFn3QeCCVCo4VQLyXb9VKWw6VF44cnYKtw==";

impl Keyring for HalfSign<'_> {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        m.encryption_context.insert(
            cse_core::context::PUBLIC_KEY_FIELD.into(),
            P384_BASE_POINT.into(),
        );
        self.0.on_encrypt(m)
    }

    fn on_decrypt(&self, m: &mut DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<(), Error> {
        self.0.on_decrypt(m, e)
    }
}
