//! Keys manifests (test-vector framework `0002-keys.md`, versions 1–3) and keyrings built from
//! master-key descriptions.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cse_core::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding};
use serde_json::Value;

/// Key material written as one string, or as a list of lines joined by `separator`.
pub(crate) fn key_text(material: Option<&Value>, separator: Option<&Value>) -> Option<String> {
    match material? {
        Value::String(m) => Some(m.clone()),
        Value::Array(lines) => {
            let sep = separator.and_then(Value::as_str).unwrap_or("");
            Some(
                lines
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(sep),
            )
        }
        _ => None,
    }
}

/// One key of a keys manifest.
#[derive(Clone, Debug)]
pub struct Key {
    /// `symmetric`, `private`, `public`, `aws-kms`, …
    pub kind: String,
    /// `aes` or `rsa` for raw keys.
    pub algorithm: String,
    /// The name written into encrypted data keys.
    pub key_id: String,
    /// PEM text or raw AES bytes.
    pub material: Vec<u8>,
}

/// A keys manifest: manifest name → key.
#[derive(Clone, Debug, Default)]
pub struct Keys(pub BTreeMap<String, Key>);

impl Keys {
    /// Loads a keys manifest file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let keys = v
            .get("keys")
            .and_then(Value::as_object)
            .ok_or("keys manifest without \"keys\"")?;
        let mut out = BTreeMap::new();
        for (name, k) in keys {
            let s = |f: &str| {
                k.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let material = key_text(k.get("material"), k.get("line-separator")).unwrap_or_default();
            let material = match s("encoding").as_str() {
                "base64" => B64
                    .decode(material.trim())
                    .map_err(|e| format!("key {name}: {e}"))?,
                _ => material.into_bytes(),
            };
            let key_id = k
                .get("key-id")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_string();
            out.insert(
                name.clone(),
                Key {
                    kind: s("type"),
                    algorithm: s("algorithm"),
                    key_id,
                    material,
                },
            );
        }
        Ok(Self(out))
    }

    /// The private RSA key of the same pair as public key `public`.
    fn private_of(&self, public: &Key) -> Option<&Key> {
        let pk = cse_core::keyring::load_public_key(&public.material).ok()?;
        self.0.values().find(|k| {
            k.kind == "private"
                && k.algorithm == "rsa"
                && cse_core::keyring::load_private_key(&k.material)
                    .is_ok_and(|p| p.to_public_key() == pk)
        })
    }
}

/// What building a keyring for a case gave.
#[derive(Debug)]
pub enum Built {
    /// A keyring that can run the case.
    Keyring(Box<dyn Keyring>),
    /// The case needs something we don't run here (e.g. AWS KMS).
    Skip(String),
}

/// Which way the keyring will be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Encrypt: RSA needs the public key.
    Encrypt,
    /// Decrypt: RSA needs the private key (a public entry uses its pair's private key).
    Decrypt,
}

fn padding(desc: &Value) -> Result<RsaPadding, String> {
    let alg = desc
        .get("padding-algorithm")
        .and_then(Value::as_str)
        .unwrap_or("");
    let hash = desc
        .get("padding-hash")
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(match (alg, hash) {
        ("pkcs1", _) => RsaPadding::Pkcs1,
        ("oaep-mgf1", "sha1") => RsaPadding::OaepSha1,
        ("oaep-mgf1", "sha256") => RsaPadding::OaepSha256,
        ("oaep-mgf1", "sha384") => RsaPadding::OaepSha384,
        ("oaep-mgf1", "sha512") => RsaPadding::OaepSha512,
        _ => return Err(format!("unknown RSA padding {alg}/{hash}")),
    })
}

/// One keyring from one master-key description (`0005-awses-master-key.md`).
pub fn keyring_for(keys: &Keys, desc: &Value, purpose: Purpose) -> Result<Built, String> {
    let ty = desc.get("type").and_then(Value::as_str).unwrap_or("");
    if ty != "raw" {
        return Ok(Built::Skip(format!("master key type {ty:?} (needs AWS)")));
    }
    let name = desc
        .get("key")
        .and_then(Value::as_str)
        .ok_or("master key without \"key\"")?;
    let key = keys
        .0
        .get(name)
        .ok_or_else(|| format!("key {name:?} not in the keys manifest"))?;
    let ns = desc
        .get("provider-id")
        .and_then(Value::as_str)
        .ok_or("raw master key without provider-id")?;
    let alg = desc
        .get("encryption-algorithm")
        .and_then(Value::as_str)
        .unwrap_or(&key.algorithm);
    let kr: Box<dyn Keyring> = match alg {
        "aes" => {
            Box::new(RawAesKeyring::new(ns, &key.key_id, &key.material).map_err(|e| e.to_string())?)
        }
        "rsa" => {
            let k =
                RawRsaKeyring::new(ns, &key.key_id, padding(desc)?).map_err(|e| e.to_string())?;
            let k = match (purpose, key.kind.as_str()) {
                (Purpose::Encrypt, "private") => {
                    let p = cse_core::keyring::load_private_key(&key.material)
                        .map_err(|e| e.to_string())?;
                    let pem = rsa_public_pem(&p)?;
                    k.with_public_key(pem.as_bytes())
                }
                (Purpose::Encrypt, _) => k.with_public_key(&key.material),
                (Purpose::Decrypt, "private") => k.with_private_key(&key.material),
                (Purpose::Decrypt, _) => match keys.private_of(key) {
                    Some(p) => k.with_private_key(&p.material),
                    None => Ok(k),
                },
            };
            Box::new(k.map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unknown raw key algorithm {other:?}")),
    };
    Ok(Built::Keyring(kr))
}

fn rsa_public_pem(p: &rsa::PrivateKey) -> Result<String, String> {
    use rsa::pkcs8::EncodePublicKey;
    p.to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| e.to_string())
}

/// A keyring for a list of master-key descriptions: one keyring, or a multi-keyring whose
/// generator is the first.
pub fn keyring_for_list(keys: &Keys, list: &Value, purpose: Purpose) -> Result<Built, String> {
    let descs = list.as_array().ok_or("master-keys is not a list")?;
    let mut rings = Vec::new();
    for d in descs {
        match keyring_for(keys, d, purpose)? {
            Built::Keyring(k) => rings.push(k),
            Built::Skip(why) if purpose == Purpose::Decrypt && descs.len() > 1 => {
                let _ = why;
            }
            Built::Skip(why) => return Ok(Built::Skip(why)),
        }
    }
    if rings.is_empty() {
        return Ok(Built::Skip("no raw master key in the list".into()));
    }
    if rings.len() == 1 {
        return Ok(Built::Keyring(rings.remove(0)));
    }
    let generator = rings.remove(0);
    Ok(Built::Keyring(Box::new(
        MultiKeyring::new(Some(generator), rings).map_err(|e| e.to_string())?,
    )))
}
