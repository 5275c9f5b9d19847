//! Runs official `awses-decrypt` manifests (test-vector framework `0004-awses-message-decryption.md`,
//! versions 1–4) against cse-core.

use std::path::{Path, PathBuf};

use cse_core::{CommitmentPolicy, DecryptConfig, Decryptor, EncryptionContext, Error, Keyring};
use serde_json::Value;

use crate::keys::{Built, Keys, Purpose, keyring_for_list};

/// Result of one case.
#[derive(Debug)]
pub enum Outcome {
    /// Behaved as the manifest says.
    Pass,
    /// Did not; the text says how.
    Fail(String),
    /// Not run here; the text says why.
    Skip(String),
}

/// Bytes of a case: a file beside the manifest, or inline in it.
#[derive(Debug)]
pub enum Bytes {
    /// A file.
    File(PathBuf),
    /// Inline (base64-decoded) bytes.
    Inline(Vec<u8>),
}

impl Bytes {
    fn read(&self) -> Result<Vec<u8>, String> {
        match self {
            Self::File(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())),
            Self::Inline(b) => Ok(b.clone()),
        }
    }
}

/// Where a case's keyring comes from.
#[derive(Debug)]
pub enum KeySource {
    /// Master-key descriptions over the manifest's keys manifest.
    MasterKeys(Value),
    /// The manifest-wide keyring of the legacy layout (every static test key).
    Shared,
    /// A known plaintext data key (commitment known-answer tests).
    DataKey(Vec<u8>),
}

/// One decrypt case, ready to run.
#[derive(Debug)]
pub struct Case {
    /// Test id.
    pub id: String,
    /// The message.
    pub ciphertext: Bytes,
    /// Expected plaintext, or `None` when an error is expected.
    pub plaintext: Option<Bytes>,
    /// For error cases written by our generator: the class of error expected.
    pub error_kind: Option<String>,
    /// For error cases: the plaintext of the untampered message, when the manifest names it
    /// (`cse-plaintext`); released bytes must be a prefix of it.
    pub reference: Option<Bytes>,
    /// Where the keyring comes from.
    pub keys: KeySource,
    /// Reproduced encryption context given to decrypt.
    pub encryption_context: EncryptionContext,
    /// `streaming-unsigned-only`.
    pub unsigned_only: bool,
    /// Limit on encrypted data keys given to the decryptor (`cse-max-encrypted-data-keys`).
    pub max_edks: Option<usize>,
}

/// A loaded decrypt manifest.
#[derive(Debug)]
pub struct Manifest {
    /// The keys it uses.
    pub keys: Keys,
    /// The keyring shared by all cases (legacy layout).
    pub shared: Option<Box<dyn Keyring>>,
    /// Its cases, in id order.
    pub cases: Vec<Case>,
    /// What kind of manifest it was.
    pub kind: String,
}

fn uri(dir: &Path, v: Option<&Value>) -> Result<PathBuf, String> {
    let s = v.and_then(Value::as_str).ok_or("missing file URI")?;
    let rel = s
        .strip_prefix("file://")
        .ok_or_else(|| format!("unsupported URI {s:?}"))?;
    Ok(dir.join(rel))
}

impl Manifest {
    /// Loads a decrypt manifest of any supported form: `awses-decrypt` versions 1–4, the
    /// legacy `ciphertext` layout, or the commitment known-answer file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if v.pointer("/manifest/type").and_then(Value::as_str) == Some("ciphertext") {
            return crate::legacy::load_legacy(path, &v);
        }
        if v.get("tests").is_some_and(Value::is_array) {
            return crate::legacy::load_commitment_kat(&v);
        }
        Self::load_decrypt(path, &v)
    }

    fn load_decrypt(path: &Path, v: &Value) -> Result<Self, String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let ty = v
            .pointer("/manifest/type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let version = v
            .pointer("/manifest/version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if ty != "awses-decrypt" || !(1..=4).contains(&version) {
            return Err(format!(
                "{}: not an awses-decrypt manifest of version 1–4 ({ty} v{version})",
                path.display()
            ));
        }
        let keys = Keys::load(&uri(dir, v.get("keys"))?)?;
        let tests = v
            .get("tests")
            .and_then(Value::as_object)
            .ok_or("manifest without tests")?;
        let mut cases = Vec::new();
        for (id, t) in tests {
            let ciphertext = Bytes::File(uri(dir, t.get("ciphertext"))?);
            let (plaintext, error_kind) = if version == 1 {
                (Some(Bytes::File(uri(dir, t.get("plaintext"))?)), None)
            } else if let Some(p) = t.pointer("/result/output/plaintext") {
                (Some(Bytes::File(uri(dir, Some(p))?)), None)
            } else if let Some(e) = t.pointer("/result/error") {
                (
                    None,
                    e.get("cse-error-kind")
                        .and_then(Value::as_str)
                        .map(String::from),
                )
            } else {
                return Err(format!("case {id}: no result"));
            };
            let encryption_context = match t.get("encryption-context") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect(),
                _ => EncryptionContext::new(),
            };
            let reference = match t.get("cse-plaintext") {
                Some(p) => Some(Bytes::File(uri(dir, Some(p))?)),
                None => None,
            };
            let unsigned_only = t.get("decryption-method").and_then(Value::as_str)
                == Some("streaming-unsigned-only");
            cases.push(Case {
                id: id.clone(),
                ciphertext,
                plaintext,
                error_kind,
                reference,
                max_edks: t
                    .get("cse-max-encrypted-data-keys")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok()),
                keys: KeySource::MasterKeys(t.get("master-keys").cloned().unwrap_or(Value::Null)),
                encryption_context,
                unsigned_only,
            });
        }
        Ok(Self {
            keys,
            shared: None,
            cases,
            kind: format!("awses-decrypt v{version}"),
        })
    }
}

/// The error classes our generated negative vectors name.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::HeaderAuthentication | Error::EncryptionContext(_) => "header-auth",
        Error::CommitmentMismatch => "commitment",
        Error::FrameAuthentication { .. } | Error::BodyAuthentication => "frame-auth",
        Error::SignatureVerification => "signature",
        Error::Truncated => "truncated",
        Error::TrailingData => "trailing-data",
        Error::NoDecryptableKey { .. } => "no-decryptable-key",
        Error::TooManyEncryptedDataKeys { .. }
        | Error::LimitExceeded {
            limit: cse_core::Limit::EncryptedDataKeys,
            ..
        } => "too-many-edks",
        Error::UnsupportedVersion(_)
        | Error::UnsupportedSuite(_)
        | Error::SuiteVersionMismatch { .. }
        | Error::MalformedHeader(_)
        | Error::MalformedBody(_)
        | Error::Base64Input
        | Error::PublicKeyMismatch(_) => "malformed",
        _ => "other",
    }
}

/// The crypto provider a case runs with: every provider this build has, spread over the
/// cases by a hash of the case id (so each provider meets every kind of case, and a case
/// always runs with the same one).
pub fn provider_for(id: &str) -> cse_core::crypto::CryptoProvider {
    use std::hash::{Hash, Hasher};
    let all = cse_core::crypto::CryptoProvider::all();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    all[(h.finish() % all.len() as u64) as usize]
}

/// Decrypts `message`, feeding it in pieces of `chunk` bytes (the whole at once if 0).
/// Returns the released plaintext, the result, and whether the header was authenticated.
pub fn decrypt_chunked<K: Keyring>(
    keyring: K,
    config: DecryptConfig,
    message: &[u8],
    chunk: usize,
) -> (Vec<u8>, Result<(), Error>, bool) {
    let mut dec = Decryptor::new(keyring, config);
    let mut out = Vec::new();
    let pieces: Box<dyn Iterator<Item = &[u8]>> = if chunk == 0 {
        Box::new(std::iter::once(message))
    } else {
        Box::new(message.chunks(chunk))
    };
    for piece in pieces {
        if let Err(e) = dec.update(piece, &mut out) {
            let header_ok = dec.header().is_some();
            return (out, Err(e), header_ok);
        }
    }
    let r = dec.finish();
    let header_ok = dec.header().is_some();
    (out, r, header_ok)
}

/// Remembers the first data key its keyring unwrapped, so one case's several read patterns
/// do the (slow) RSA operation once. Errors are not remembered.
#[derive(Debug)]
struct OnceKeyring<'a> {
    inner: Box<dyn Keyring + 'a>,
    key: std::sync::Mutex<Option<cse_core::keyring::DataKey>>,
}

impl Keyring for OnceKeyring<'_> {
    fn on_encrypt(&self, m: &mut cse_core::keyring::EncryptionMaterials) -> Result<(), Error> {
        self.inner.on_encrypt(m)
    }

    fn on_decrypt(
        &self,
        m: &mut cse_core::keyring::DecryptionMaterials,
        edks: &[cse_core::EncryptedDataKey],
    ) -> Result<(), Error> {
        let mut cached = self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = cached.as_ref() {
            m.data_key = Some(k.clone());
            return Ok(());
        }
        self.inner.on_decrypt(m, edks)?;
        *cached = m.data_key.clone();
        Ok(())
    }
}

/// Read patterns every positive case is decrypted with: whole, 1-byte, and odd sizes.
const CHUNKS: [usize; 4] = [0, 1, 7, 4099];

impl Manifest {
    /// Runs one of its cases; `invert` expects failure whatever the manifest says.
    pub fn run(&self, case: &Case, invert: bool) -> Outcome {
        match case.run_inner(self, invert) {
            Ok(o) => o,
            Err(e) => Outcome::Fail(e),
        }
    }
}

impl Case {
    fn run_inner(&self, manifest: &Manifest, invert: bool) -> Result<Outcome, String> {
        let keyring: Box<dyn Keyring + '_> = match &self.keys {
            KeySource::MasterKeys(list) => {
                match keyring_for_list(&manifest.keys, list, Purpose::Decrypt)? {
                    Built::Keyring(k) => k,
                    Built::Skip(why) => return Ok(Outcome::Skip(why)),
                }
            }
            KeySource::Shared => match &manifest.shared {
                Some(k) => Box::new(k),
                None => return Err("no shared keyring".into()),
            },
            KeySource::DataKey(k) => Box::new(crate::legacy::StaticKeyring(k.clone())),
        };
        let message = self.ciphertext.read()?;
        let config = DecryptConfig {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            encryption_context: self.encryption_context.clone(),
            refuse_signed: self.unsigned_only,
            // Every limit at its default, so the vectors show the defaults refuse nothing honest.
            max_encrypted_data_keys: self
                .max_edks
                .or(DecryptConfig::default().max_encrypted_data_keys),
            provider: provider_for(&self.id),
            ..DecryptConfig::default()
        };
        let expected = match (&self.plaintext, invert) {
            (Some(p), false) => Some(p.read()?),
            _ => None,
        };
        let reference = match &self.reference {
            Some(r) => Some(r.read()?),
            None => None,
        };
        // The data key is unwrapped once per case; the other read patterns reuse it.
        let keyring = OnceKeyring {
            inner: keyring,
            key: std::sync::Mutex::new(None),
        };
        for chunk in CHUNKS {
            // Error cases are read whole and in 7-byte pieces: enough to reach every state
            // without repeating slow key unwraps over thousands of tampered cases.
            if expected.is_none() && !matches!(chunk, 0 | 7) {
                continue;
            }
            let (out, r, header_ok) = decrypt_chunked(&keyring, config.clone(), &message, chunk);
            let how = if chunk == 0 {
                "one-shot".to_string()
            } else {
                format!("{chunk}-byte pieces")
            };
            match (&expected, r) {
                (Some(want), Ok(())) if out == *want => {}
                (Some(want), Ok(())) => {
                    return Ok(Outcome::Fail(format!(
                        "{how}: plaintext differs ({} bytes, expected {})",
                        out.len(),
                        want.len()
                    )));
                }
                (Some(_), Err(e)) => return Ok(Outcome::Fail(format!("{how}: {e}"))),
                (None, Ok(())) => {
                    return Ok(Outcome::Fail(format!(
                        "{how}: decrypted, but an error was expected"
                    )));
                }
                (None, Err(e)) => {
                    let kind = error_kind(&e);
                    if let Some(want) = &self.error_kind
                        && kind != want
                    {
                        return Ok(Outcome::Fail(format!(
                            "{how}: expected a {want} error, got: {e}"
                        )));
                    }
                    // A failure in the header or the key releases nothing.
                    if !header_ok && !out.is_empty() {
                        return Ok(Outcome::Fail(format!(
                            "{how}: {} bytes released before: {e}",
                            out.len()
                        )));
                    }
                    // Anything released is authenticated plaintext: a prefix of the original.
                    if let Some(r) = &reference
                        && !r.starts_with(&out)
                    {
                        return Ok(Outcome::Fail(format!(
                            "{how}: released bytes are not a prefix of the plaintext ({e})"
                        )));
                    }
                }
            }
        }
        Ok(Outcome::Pass)
    }
}
