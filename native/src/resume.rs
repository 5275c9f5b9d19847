//! Resumable uploads: the local state of a multipart upload in progress, so that running
//! the same `cse cp FILE s3://…` again continues it.
//!
//! One file per upload under `$XDG_STATE_HOME/cse/` (default `~/.local/state/cse/`, mode
//! 0700), mode 0600, replaced atomically (written beside, synced, renamed) at the start and
//! after every stored part, removed when the upload completes or is aborted. It holds the
//! upload id, the part size, the parts stored with their ETags, the message's
//! [`ResumeSecret`] (header, data key, ephemeral signing key) and a fingerprint of the
//! source (size, modification time, inode, and SHA-256 of its first and last MiB) and of the
//! encryption settings. The secret opens this one message, whose plaintext sits on the same
//! disk: it is no weaker a point than the file itself (`--no-resume` keeps nothing).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cse_core::ResumeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Failure, Kind, shown};

/// Format version of the state file.
const VERSION: u32 = 1;
/// A state file larger than this is not one of ours (10 000 parts take about 600 KiB).
const MAX_STATE: u64 = 4 << 20;
/// Bytes hashed at each end of the source.
const EDGE: u64 = 1 << 20;

/// The directory of state files: `$XDG_STATE_HOME/cse`, else `~/.local/state/cse`.
pub fn state_dir() -> Result<PathBuf, Failure> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Failure::config(
                        "no HOME for the upload state (set XDG_STATE_HOME, or use --no-resume)",
                    )
                })?;
            PathBuf::from(home).join(".local").join("state")
        }
    };
    Ok(base.join("cse"))
}

/// What identifies the source file's content without reading it all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    device: u64,
    /// SHA-256 of the first and of the last MiB, hex.
    head: String,
    tail: String,
}

impl Fingerprint {
    /// The fingerprint of the open file `f`.
    pub fn of(f: &mut File) -> std::io::Result<Self> {
        let m = f.metadata()?;
        let size = m.len();
        let hash = |f: &mut File, start: u64| -> std::io::Result<String> {
            f.seek(SeekFrom::Start(start))?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; EDGE as usize];
            let n = f.take(EDGE).read(&mut buf)?;
            h.update(&buf[..n]);
            Ok(hex::encode(h.finalize()))
        };
        let head = hash(f, 0)?;
        let tail = hash(f, size.saturating_sub(EDGE))?;
        f.seek(SeekFrom::Start(0))?;
        Ok(Self {
            size,
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            inode: m.ino(),
            device: m.dev(),
            head,
            tail,
        })
    }
}

/// The state file's content.
#[derive(Serialize, Deserialize)]
struct State {
    version: u32,
    /// `s3://bucket/key` at `endpoint`.
    endpoint: String,
    bucket: String,
    key: String,
    /// The source, as an absolute path.
    source: String,
    fingerprint: Fingerprint,
    /// SHA-256 of the encryption settings (recipients' keys, suite, context, frame length).
    settings: String,
    upload_id: Option<String>,
    part_size: u64,
    /// Part number → ETag.
    parts: BTreeMap<u32, String>,
    /// The message's resume secret: header (base64), data key and signing key (hex),
    /// required context (base64).
    header: String,
    data_key: Zeroizing<String>,
    signing_key: Option<Zeroizing<String>>,
    required_context: String,
}

/// Where an upload's state lives and what it says.
pub struct Upload {
    path: PathBuf,
    state: Mutex<State>,
}

/// What a new upload is, to match it with a state file.
pub struct Target<'a> {
    pub endpoint: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub source: &'a Path,
    pub fingerprint: Fingerprint,
    /// SHA-256 hex of the encryption settings.
    pub settings: String,
}

/// What the state found for a target says to do.
pub enum Found {
    /// No state: a new upload.
    Nothing,
    /// An earlier upload to continue.
    Resume(Box<Upload>),
    /// A state for another source content or other settings: start over, after aborting
    /// `upload_id` (if any); the reason is for the user.
    Stale {
        upload_id: Option<String>,
        reason: &'static str,
    },
}

fn state_name(endpoint: &str, bucket: &str, key: &str, source: &Path) -> String {
    let mut h = Sha256::new();
    for part in [endpoint.as_bytes(), bucket.as_bytes(), key.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(source.as_os_str().as_encoded_bytes());
    format!("upload-{}.json", &hex::encode(h.finalize())[..32])
}

/// Refuses a state file that is not a regular file of ours with mode 0600.
fn check_private(path: &Path, m: &std::fs::Metadata) -> Result<(), Failure> {
    let bad = |what: &str| {
        Failure::new(
            Kind::Config,
            format!(
                "{}: {what}; remove it (cse mpu abort) or use --no-resume",
                shown(&path.display())
            ),
        )
    };
    if !m.file_type().is_file() {
        return Err(bad("the upload state is not a regular file"));
    }
    if m.uid() != rustix::process::geteuid().as_raw() {
        return Err(bad("the upload state belongs to another user"));
    }
    if m.mode() & 0o077 != 0 {
        return Err(bad(
            "the upload state is readable by others (it must be mode 0600)",
        ));
    }
    if m.len() > MAX_STATE {
        return Err(bad("the upload state is too large"));
    }
    Ok(())
}

/// Reads and checks one state file.
fn read_state(path: &Path) -> Result<State, Failure> {
    let garbage = || {
        Failure::new(
            Kind::Config,
            format!(
                "{}: not a cse upload state; remove it or use --no-resume",
                shown(&path.display())
            ),
        )
    };
    let m = std::fs::symlink_metadata(path)
        .map_err(|e| Failure::other(format!("{}: {e}", shown(&path.display()))))?;
    check_private(path, &m)?;
    let mut text = Zeroizing::new(Vec::new());
    File::open(path)
        .and_then(|f| f.take(MAX_STATE).read_to_end(&mut text))
        .map_err(|e| Failure::other(format!("{}: {e}", shown(&path.display()))))?;
    let state: State = serde_json::from_slice(&text).map_err(|_| garbage())?;
    if state.version != VERSION {
        return Err(garbage());
    }
    Ok(state)
}

impl State {
    fn secret(&self) -> Option<ResumeSecret> {
        Some(ResumeSecret {
            header: B64.decode(&self.header).ok()?,
            data_key: Zeroizing::new(hex::decode(self.data_key.as_str()).ok()?),
            signing_key: match &self.signing_key {
                Some(k) => Some(Zeroizing::new(hex::decode(k.as_str()).ok()?)),
                None => None,
            },
            required_context: B64.decode(&self.required_context).ok()?,
        })
    }
}

/// Looks for the state of `target` in `dir` (see [`state_dir`]).
pub fn find(dir: &Path, target: &Target<'_>) -> Result<Found, Failure> {
    let path = dir.join(state_name(
        target.endpoint,
        target.bucket,
        target.key,
        target.source,
    ));
    let state = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        _ => read_state(&path)?,
    };
    let stale = |reason| {
        let _ = std::fs::remove_file(&path);
        Ok(Found::Stale {
            upload_id: state.upload_id.clone(),
            reason,
        })
    };
    if state.fingerprint != target.fingerprint {
        return stale("the source changed since the interrupted upload");
    }
    if state.settings != target.settings {
        return stale("the keys or settings changed since the interrupted upload");
    }
    if state.upload_id.is_none() {
        return stale("the interrupted upload had not started");
    }
    Ok(Found::Resume(Box::new(Upload {
        path,
        state: Mutex::new(state),
    })))
}

impl Upload {
    /// A new state for `target` in `dir`, written when the upload starts.
    pub fn new(dir: &Path, target: Target<'_>, secret: &ResumeSecret) -> Result<Self, Failure> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::other(format!("{}: {e}", shown(&dir.display()))))?;
        let path = dir.join(state_name(
            target.endpoint,
            target.bucket,
            target.key,
            target.source,
        ));
        let state = State {
            version: VERSION,
            endpoint: target.endpoint.to_string(),
            bucket: target.bucket.to_string(),
            key: target.key.to_string(),
            source: target.source.display().to_string(),
            fingerprint: target.fingerprint,
            settings: target.settings,
            upload_id: None,
            part_size: 0,
            parts: BTreeMap::new(),
            header: B64.encode(&secret.header),
            data_key: Zeroizing::new(hex::encode(secret.data_key.as_slice())),
            signing_key: secret
                .signing_key
                .as_ref()
                .map(|k| Zeroizing::new(hex::encode(k.as_slice()))),
            required_context: B64.encode(&secret.required_context),
        };
        Ok(Self {
            path,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The resume secret it holds.
    pub fn secret(&self) -> Result<ResumeSecret, Failure> {
        self.lock().secret().ok_or_else(|| {
            Failure::new(
                Kind::Config,
                format!(
                    "{}: not a cse upload state; remove it or use --no-resume",
                    shown(&self.path.display())
                ),
            )
        })
    }

    /// The upload id, part size and stored parts.
    pub fn earlier(&self) -> (String, u64, BTreeMap<u32, String>) {
        let s = self.lock();
        (
            s.upload_id.clone().unwrap_or_default(),
            s.part_size,
            s.parts.clone(),
        )
    }

    /// Keeps only these parts (those still on the server).
    pub fn retain(&self, keep: impl Fn(u32) -> bool) {
        self.lock().parts.retain(|n, _| keep(*n));
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the state file (the upload completed or was aborted).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Replaces the state file: written beside it (0600), synced, renamed over it.
    fn save(&self, state: &State) -> Result<(), cse_transfer::Error> {
        let fail = |e: std::io::Error| {
            cse_transfer::Error::Local(format!(
                "writing the upload state {}: {e}",
                shown(&self.path.display())
            ))
        };
        let text = Zeroizing::new(serde_json::to_vec(state).map_err(|e| fail(e.into()))?);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(".partial")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(fail)?;
        tmp.write_all(&text).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&self.path).map_err(|e| fail(e.error))?;
        if let Ok(d) = OpenOptions::new().read(true).open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl cse_transfer::Journal for Upload {
    fn started(&self, upload_id: &str, part_size: u64) -> Result<(), cse_transfer::Error> {
        let mut s = self.lock();
        s.upload_id = Some(upload_id.to_string());
        s.part_size = part_size;
        s.parts.clear();
        self.save(&s)
    }

    fn stored(&self, number: u32, etag: &str) -> Result<(), cse_transfer::Error> {
        let mut s = self.lock();
        s.parts.insert(number, etag.to_string());
        self.save(&s)
    }
}

/// A resumable upload found in the state directory, for `cse mpu ls`.
pub struct Listed {
    pub path: PathBuf,
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub source: String,
    pub parts: usize,
}

/// Every readable state file in `dir` (others are skipped: `find` reports them when they
/// matter).
pub fn list(dir: &Path) -> Vec<Listed> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let is_state = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("upload-") && n.ends_with(".json"));
        if !is_state {
            continue;
        }
        if let Ok(s) = read_state(&path)
            && let Some(upload_id) = s.upload_id.clone()
        {
            all.push(Listed {
                path,
                endpoint: s.endpoint.clone(),
                bucket: s.bucket.clone(),
                key: s.key.clone(),
                upload_id,
                source: s.source.clone(),
                parts: s.parts.len(),
            });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(source: &'a Path, fingerprint: Fingerprint) -> Target<'a> {
        Target {
            endpoint: "http://127.0.0.1:9000",
            bucket: "b",
            key: "k",
            source,
            fingerprint,
            settings: "s".into(),
        }
    }

    #[test]
    fn state_is_private_atomic_and_checked() {
        use cse_transfer::Journal;
        let top = tempfile::tempdir().expect("dir");
        let dir = &top.path().join("state").join("cse");
        let src = top.path().join("data.bin");
        std::fs::write(&src, vec![7u8; 3 << 20]).expect("source");
        let fp = Fingerprint::of(&mut File::open(&src).expect("open")).expect("fingerprint");
        assert!(matches!(
            find(dir, &target(&src, fp.clone())).expect("find"),
            Found::Nothing
        ));

        let keyring = cse_core::RawAesKeyring::new("MyAppKeys", "k", &[1; 32]).expect("keyring");
        let (_, secret) =
            cse_core::Encryptor::new_resumable(&keyring, &cse_core::EncryptConfig::default())
                .expect("encryptor");
        let up = Upload::new(dir, target(&src, fp.clone()), &secret).expect("new");
        up.started("id-1", 8 << 20).expect("started");
        up.stored(2, "\"etag-2\"").expect("stored");
        let m = std::fs::metadata(up.path()).expect("state");
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(up.path().parent().expect("dir"))
                .expect("dir")
                .mode()
                & 0o777,
            0o700
        );

        let Found::Resume(again) = find(dir, &target(&src, fp.clone())).expect("find") else {
            panic!("not found again");
        };
        let (id, size, parts) = again.earlier();
        assert_eq!((id.as_str(), size), ("id-1", 8 << 20));
        assert_eq!(parts.get(&2).map(String::as_str), Some("\"etag-2\""));
        let back = again.secret().expect("secret");
        assert_eq!(back.header, secret.header);
        assert_eq!(back.data_key, secret.data_key);
        assert_eq!(back.signing_key, secret.signing_key);
        assert_eq!(list(dir).len(), 1);

        // Readable by others: refused, with what to do.
        std::fs::set_permissions(up.path(), Permissions::from_mode(0o644)).expect("chmod");
        let e = find(dir, &target(&src, fp.clone())).err().expect("refused");
        assert!(e.to_string().contains("mode 0600"), "{e}");
        std::fs::set_permissions(up.path(), Permissions::from_mode(0o600)).expect("chmod");

        // Garbage: refused.
        std::fs::write(up.path(), b"{\"version\": 1, \"\x1b[31m\": 2}").expect("garbage");
        let e = find(dir, &target(&src, fp.clone())).err().expect("refused");
        assert!(e.to_string().contains("not a cse upload state"), "{e}");
        assert!(!e.to_string().contains('\x1b'));

        // Another source content: stale, and the state is gone.
        up.started("id-2", 8 << 20).expect("started");
        let mut other = fp.clone();
        other.tail = "0".repeat(64);
        match find(dir, &target(&src, other)).expect("find") {
            Found::Stale { upload_id, reason } => {
                assert_eq!(upload_id.as_deref(), Some("id-2"));
                assert!(reason.contains("source changed"));
            }
            _ => panic!("not stale"),
        }
        assert!(!up.path().exists());
    }
}
