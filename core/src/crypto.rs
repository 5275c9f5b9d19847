//! The cryptographic provider: AES-GCM, SHA-2 streams, HKDF, RSA, ECDSA and randomness.
//!
//! A [`CryptoProvider`] value says which implementation provides the primitives; it travels in
//! [`crate::EncryptConfig`] and [`crate::DecryptConfig`] and reaches the keyrings through their
//! materials. [`CryptoProvider::PURE_RUST`] (RustCrypto) is the default and what the wasm
//! build runs; with the `aws-lc` feature on native targets, [`CryptoProvider::AWS_LC`] takes
//! AES-GCM, the SHA-2 message hash, HKDF and RSA-OAEP from AWS-LC. ECDSA stays RustCrypto
//! under both (AWS-LC cannot sign or verify a digest computed elsewhere), RSA PKCS #1 v1.5
//! unwrapping too (RustCrypto's implicit rejection), and randomness comes from the operating
//! system under both.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::suite::{AlgorithmSuite, Kdf, SignatureAlgorithm};

/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// AES-GCM IV length.
pub const IV_LEN: usize = 12;

/// Which implementation provides the primitives (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CryptoProvider(Backend);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Backend {
    #[default]
    RustCrypto,
    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    AwsLc,
}

impl CryptoProvider {
    /// RustCrypto for every primitive: the default, and the only provider on wasm32.
    pub const PURE_RUST: Self = Self(Backend::RustCrypto);
    /// AWS-LC for AES-GCM, SHA-2, HKDF and RSA-OAEP (native builds with the `aws-lc` feature).
    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    pub const AWS_LC: Self = Self(Backend::AwsLc);

    /// The fastest provider this build has.
    pub const fn fastest() -> Self {
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        return Self::AWS_LC;
        #[cfg(not(all(feature = "aws-lc", not(target_arch = "wasm32"))))]
        return Self::PURE_RUST;
    }

    /// Every provider this build has (tests run each).
    pub fn all() -> &'static [Self] {
        &[
            Self::PURE_RUST,
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Self::AWS_LC,
        ]
    }

    /// A short name: `rust` or `aws-lc`.
    pub const fn name(self) -> &'static str {
        match self.0 {
            Backend::RustCrypto => "rust",
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Backend::AwsLc => "aws-lc",
        }
    }

    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    pub(crate) fn is_aws_lc(self) -> bool {
        self.0 != Backend::RustCrypto
    }
}

/// Fills `buf` from the system CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Random)
}

/// A tag that did not verify. Carries nothing: authentication failures say nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthFailed;

/// An AES-GCM key (128, 192 or 256 bits) with a 12-byte IV and 16-byte tag.
pub struct GcmKey(Gcm);

enum Gcm {
    // Boxed: the pure-Rust key schedule is 640 bytes, AWS-LC's a pointer.
    Rust(alloc::boxed::Box<rust::Gcm>),
    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    AwsLc(awslc::Gcm),
}

impl core::fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("GcmKey(..)")
    }
}

impl GcmKey {
    /// A key from 16, 24 or 32 bytes, from `provider`.
    pub fn new(provider: CryptoProvider, key: &[u8]) -> Result<Self, Error> {
        Ok(Self(match provider.0 {
            Backend::RustCrypto => Gcm::Rust(alloc::boxed::Box::new(rust::Gcm::new(key)?)),
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Backend::AwsLc => Gcm::AwsLc(awslc::Gcm::new(key)?),
        }))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal_in_place(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        match &self.0 {
            Gcm::Rust(k) => k.seal(iv, aad, buf),
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Gcm::AwsLc(k) => k.seal(iv, aad, buf),
        }
    }

    /// Decrypts `buf` in place if `tag` verifies. On failure `buf` holds no plaintext.
    pub fn open_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), AuthFailed> {
        let r = match &self.0 {
            Gcm::Rust(k) => k.open(iv, aad, buf, tag),
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Gcm::AwsLc(k) => k.open(iv, aad, buf, tag),
        };
        if r.is_err() {
            buf.fill(0);
        }
        r.map_err(|()| AuthFailed)
    }
}

/// A SHA-256 or SHA-384 stream from one provider.
enum Hash {
    S256(sha2::Sha256),
    S384(sha2::Sha384),
    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    AwsLc(aws_lc_rs::digest::Context),
}

impl Hash {
    fn new(provider: CryptoProvider, alg: SignatureAlgorithm) -> Self {
        use sha2::Digest;
        match (provider.0, alg) {
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            (Backend::AwsLc, SignatureAlgorithm::EcdsaP256Sha256) => {
                Self::AwsLc(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
            }
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            (Backend::AwsLc, SignatureAlgorithm::EcdsaP384Sha384) => {
                Self::AwsLc(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA384))
            }
            (_, SignatureAlgorithm::EcdsaP256Sha256) => Self::S256(sha2::Sha256::new()),
            (_, SignatureAlgorithm::EcdsaP384Sha384) => Self::S384(sha2::Sha384::new()),
        }
    }
    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            Self::S256(h) => h.update(data),
            Self::S384(h) => h.update(data),
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Self::AwsLc(h) => h.update(data),
        }
    }
    fn finish(self) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Self::S256(h) => h.finalize().to_vec(),
            Self::S384(h) => h.finalize().to_vec(),
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            Self::AwsLc(h) => h.finish().as_ref().to_vec(),
        }
    }
}

/// A running SHA-256 or SHA-384 over the signed part of a message.
///
/// With the `parallel` feature the hash runs on its own thread: `update` copies the bytes
/// into a buffer handed over a bounded channel (at most a few MiB in flight), so the
/// message hash, the longest serial step of signed suites, overlaps everything else.
///
/// Where there are no threads (the page), a caller that runs AES-GCM outside core may have
/// the hashing wait: after [`MessageHash::defer`], `update` queues the bytes (at most
/// [`MAX_HASH_BACKLOG`]; beyond that it hashes what waits first), in order, and
/// [`MessageHash::catch_up`] hashes them, at a moment the caller picks (while the browser
/// seals the next frames on another thread). `finish` catches up first.
///
/// Or the caller hashes ([`MessageHash::outside`]): `update` queues every byte, without limit,
/// for the caller to take ([`MessageHash::take`]) and hash where it likes (the page: in a
/// Worker of its own), and the caller gives back the digest.
pub struct MessageHash {
    inner: HashInner,
    backlog: Option<Vec<u8>>,
}

/// Most bytes a deferred message hash lets wait (see [`MessageHash`]).
pub const MAX_HASH_BACKLOG: usize = 4 << 20;

#[allow(
    clippy::large_enum_variant,
    reason = "one per message, and the variant used most"
)]
enum HashInner {
    Direct(Hash),
    /// The caller hashes what it takes from the queue.
    Outside,
    #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
    Threaded(threaded::Worker),
}

impl core::fmt::Debug for MessageHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MessageHash(..)")
    }
}

impl MessageHash {
    pub(crate) fn new(provider: CryptoProvider, alg: SignatureAlgorithm) -> Self {
        #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
        if let Some(w) = threaded::Worker::spawn(provider, alg) {
            return Self {
                inner: HashInner::Threaded(w),
                backlog: None,
            };
        }
        Self {
            inner: HashInner::Direct(Hash::new(provider, alg)),
            backlog: None,
        }
    }
    /// A hash the caller computes from what it takes (see the type's documentation).
    pub(crate) fn outside() -> Self {
        Self {
            inner: HashInner::Outside,
            backlog: Some(Vec::new()),
        }
    }
    pub(crate) fn is_outside(&self) -> bool {
        matches!(self.inner, HashInner::Outside)
    }
    /// Outside: hands the queued bytes to `to`, in order, and empties the queue.
    pub(crate) fn take(&mut self, to: impl FnOnce(&[u8])) {
        if let (HashInner::Outside, Some(b)) = (&self.inner, &mut self.backlog)
            && !b.is_empty()
        {
            to(b);
            b.clear();
        }
    }
    /// Outside: whether bytes wait to be taken.
    pub(crate) fn is_taken(&self) -> bool {
        self.backlog.as_ref().is_none_or(Vec::is_empty)
    }
    /// From now on `update` queues (see the type's documentation).
    pub(crate) fn defer(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(Vec::new());
        }
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        if let (HashInner::Outside, Some(b)) = (&self.inner, &mut self.backlog) {
            b.extend_from_slice(data);
            return;
        }
        match &mut self.backlog {
            Some(b) if b.len() + data.len() <= MAX_HASH_BACKLOG => b.extend_from_slice(data),
            Some(_) => {
                self.catch_up();
                self.update_now(data);
            }
            None => self.update_now(data),
        }
    }
    /// Hashes what waits (outside: nothing, the caller takes it).
    pub(crate) fn catch_up(&mut self) {
        if self.is_outside() {
            return;
        }
        if let Some(mut b) = self.backlog.take() {
            self.update_now(&b);
            b.clear();
            self.backlog = Some(b);
        }
    }
    fn update_now(&mut self, data: &[u8]) {
        match &mut self.inner {
            HashInner::Direct(h) => h.update(data),
            HashInner::Outside => {}
            #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
            HashInner::Threaded(w) => w.update(data),
        }
    }
    /// The digest; empty for an outside hash (whose digest the caller has), which no
    /// signature matches.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.catch_up();
        match self.inner {
            HashInner::Direct(h) => h.finish(),
            HashInner::Outside => Vec::new(),
            #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
            HashInner::Threaded(w) => w.finish(),
        }
    }
}

#[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
mod threaded {
    use alloc::vec::Vec;
    use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
    use std::thread::JoinHandle;

    use super::{CryptoProvider, Hash};
    use crate::suite::SignatureAlgorithm;

    const BUF: usize = 1 << 20;
    const IN_FLIGHT: usize = 3;

    pub(super) struct Worker {
        buf: Vec<u8>,
        tx: Option<SyncSender<Vec<u8>>>,
        spare: Receiver<Vec<u8>>,
        handle: Option<JoinHandle<Vec<u8>>>,
    }

    impl Worker {
        pub(super) fn spawn(provider: CryptoProvider, alg: SignatureAlgorithm) -> Option<Self> {
            let (tx, rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
            let (back, spare): (Sender<Vec<u8>>, _) = channel();
            let handle = std::thread::Builder::new()
                .name("cse-hash".into())
                .spawn(move || {
                    let mut h = Hash::new(provider, alg);
                    for mut b in rx {
                        h.update(&b);
                        b.clear();
                        let _ = back.send(b);
                    }
                    h.finish()
                })
                .ok()?;
            Some(Self {
                buf: Vec::with_capacity(BUF),
                tx: Some(tx),
                spare,
                handle: Some(handle),
            })
        }

        fn flush(&mut self) {
            if self.buf.is_empty() {
                return;
            }
            let next = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BUF));
            let full = core::mem::replace(&mut self.buf, next);
            if let Some(tx) = &self.tx {
                // The worker only stops when the sender is dropped.
                let _ = tx.send(full);
            }
        }

        pub(super) fn update(&mut self, mut data: &[u8]) {
            while !data.is_empty() {
                let take = (BUF - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.buf.len() == BUF {
                    self.flush();
                }
            }
        }

        pub(super) fn finish(mut self) -> Vec<u8> {
            self.flush();
            self.tx = None;
            self.handle
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default()
        }
    }

    impl Drop for Worker {
        fn drop(&mut self) {
            self.tx = None;
        }
    }
}

/// Keys derived from a data key for one message.
pub(crate) struct DerivedKeys {
    pub(crate) key: Zeroizing<Vec<u8>>,
    pub(crate) commitment: Option<Zeroizing<[u8; 32]>>,
}

/// Derives the frame key (and the commitment key of committing suites) from the data key
/// (spec `framework/transitive-requirements.md`, key derivation).
pub(crate) fn derive_keys(
    provider: CryptoProvider,
    suite: AlgorithmSuite,
    data_key: &[u8],
    message_id: &[u8],
) -> Result<DerivedKeys, Error> {
    #[cfg(not(all(feature = "aws-lc", not(target_arch = "wasm32"))))]
    let _ = provider;
    if data_key.len() != suite.data_key_len() {
        return Err(Error::Key(alloc::format!(
            "data key is {} bytes, suite {} needs {}",
            data_key.len(),
            suite,
            suite.data_key_len()
        )));
    }
    let mut key = Zeroizing::new(alloc::vec![0u8; suite.data_key_len()]);
    let id = suite.id().to_be_bytes();
    let expand_err = |_| Error::Misuse("HKDF output length");
    match suite.kdf() {
        Kdf::Identity => {
            key.copy_from_slice(data_key);
            Ok(DerivedKeys {
                key,
                commitment: None,
            })
        }
        Kdf::HkdfSha256 | Kdf::HkdfSha384 => {
            let mut info = Vec::with_capacity(2 + message_id.len());
            info.extend_from_slice(&id);
            info.extend_from_slice(message_id);
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            if provider.is_aws_lc() {
                let alg = if suite.kdf() == Kdf::HkdfSha256 {
                    aws_lc_rs::hkdf::HKDF_SHA256
                } else {
                    aws_lc_rs::hkdf::HKDF_SHA384
                };
                awslc::hkdf(alg, &[], data_key, &[&info], &mut key)?;
                return Ok(DerivedKeys {
                    key,
                    commitment: None,
                });
            }
            if suite.kdf() == Kdf::HkdfSha256 {
                let (mut prk_bytes, prk) = hkdf::Hkdf::<sha2::Sha256>::extract(None, data_key);
                zeroize::Zeroize::zeroize(&mut prk_bytes[..]);
                prk.expand(&info, &mut key)
            } else {
                let (mut prk_bytes, prk) = hkdf::Hkdf::<sha2::Sha384>::extract(None, data_key);
                zeroize::Zeroize::zeroize(&mut prk_bytes[..]);
                prk.expand(&info, &mut key)
            }
            .map_err(expand_err)?;
            Ok(DerivedKeys {
                key,
                commitment: None,
            })
        }
        Kdf::HkdfSha512Committing => {
            let mut info = [0u8; 11];
            info[..2].copy_from_slice(&id);
            info[2..].copy_from_slice(b"DERIVEKEY");
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            if provider.is_aws_lc() {
                let alg = aws_lc_rs::hkdf::HKDF_SHA512;
                let mut commit = Zeroizing::new([0u8; 32]);
                awslc::hkdf(alg, message_id, data_key, &[&info], &mut key)?;
                awslc::hkdf(alg, message_id, data_key, &[b"COMMITKEY"], &mut commit[..])?;
                return Ok(DerivedKeys {
                    key,
                    commitment: Some(commit),
                });
            }
            // The extracted PRK is zeroed here; the HMAC state inside `prk` zeroes itself
            // on drop (hmac's `zeroize` feature).
            let (mut prk_bytes, prk) =
                hkdf::Hkdf::<sha2::Sha512>::extract(Some(message_id), data_key);
            zeroize::Zeroize::zeroize(&mut prk_bytes[..]);
            prk.expand(&info, &mut key).map_err(expand_err)?;
            let mut commit = Zeroizing::new([0u8; 32]);
            prk.expand(b"COMMITKEY", &mut commit[..])
                .map_err(expand_err)?;
            Ok(DerivedKeys {
                key,
                commitment: Some(commit),
            })
        }
    }
}

/// The ephemeral signing key of a signed message.
pub(crate) enum Signer {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl Signer {
    /// A fresh key pair and the base64 compressed public point for the encryption context.
    pub(crate) fn generate(alg: SignatureAlgorithm) -> Result<(Self, String), Error> {
        loop {
            let signer = match alg {
                SignatureAlgorithm::EcdsaP256Sha256 => {
                    let mut b = Zeroizing::new([0u8; 32]);
                    fill_random(&mut b[..])?;
                    p256::ecdsa::SigningKey::from_slice(&b[..])
                        .ok()
                        .map(Self::P256)
                }
                SignatureAlgorithm::EcdsaP384Sha384 => {
                    let mut b = Zeroizing::new([0u8; 48]);
                    fill_random(&mut b[..])?;
                    p384::ecdsa::SigningKey::from_slice(&b[..])
                        .ok()
                        .map(Self::P384)
                }
            };
            // A random string that is not a valid scalar (zero or ≥ n) is drawn again.
            if let Some(s) = signer {
                let point = match &s {
                    Self::P256(k) => B64.encode(k.verifying_key().to_sec1_point(true).as_bytes()),
                    Self::P384(k) => B64.encode(k.verifying_key().to_sec1_point(true).as_bytes()),
                };
                return Ok((s, point));
            }
        }
    }

    /// The private scalar (big-endian), to write the same message again later.
    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::P256(k) => k.to_bytes().to_vec(),
            Self::P384(k) => k.to_bytes().to_vec(),
        })
    }

    /// A key from its private scalar, and its base64 compressed public point.
    pub(crate) fn from_bytes(
        alg: SignatureAlgorithm,
        scalar: &[u8],
    ) -> Result<(Self, String), Error> {
        let bad = || Error::Key("not a valid ECDSA private scalar".into());
        let s = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                Self::P256(p256::ecdsa::SigningKey::from_slice(scalar).map_err(|_| bad())?)
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                Self::P384(p384::ecdsa::SigningKey::from_slice(scalar).map_err(|_| bad())?)
            }
        };
        let point = match &s {
            Self::P256(k) => B64.encode(k.verifying_key().to_sec1_point(true).as_bytes()),
            Self::P384(k) => B64.encode(k.verifying_key().to_sec1_point(true).as_bytes()),
        };
        Ok((s, point))
    }

    /// Signs a message digest. The DER signature always has the fixed length the official
    /// SDKs write (71 or 103 bytes): low-s form, re-signed until r needs its full width.
    pub(crate) fn sign(&self, digest: &[u8]) -> Result<Vec<u8>, Error> {
        use signature::hazmat::RandomizedPrehashSigner;
        let mut rng = getrandom::SysRng;
        for _ in 0..256 {
            let der = match self {
                Self::P256(k) => {
                    let s: p256::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut rng, digest)
                        .map_err(|_| Error::Random)?;
                    let der = s.normalize_s().to_der();
                    (der.as_bytes().len() == 71).then(|| der.as_bytes().to_vec())
                }
                Self::P384(k) => {
                    let s: p384::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut rng, digest)
                        .map_err(|_| Error::Random)?;
                    let der = s.normalize_s().to_der();
                    (der.as_bytes().len() == 103).then(|| der.as_bytes().to_vec())
                }
            };
            if let Some(d) = der {
                return Ok(d);
            }
        }
        Err(Error::Random)
    }
}

/// The verification key of a signed message, from the `aws-crypto-public-key` context value.
pub(crate) enum Verifier {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl Verifier {
    pub(crate) fn from_context_value(alg: SignatureAlgorithm, b64: &str) -> Result<Self, Error> {
        let bad =
            || Error::PublicKeyMismatch("aws-crypto-public-key is not a valid compressed point");
        let raw = B64.decode(b64).map_err(|_| bad())?;
        let expected = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => 33,
            SignatureAlgorithm::EcdsaP384Sha384 => 49,
        };
        if raw.len() != expected {
            return Err(bad());
        }
        Ok(match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                Self::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&raw).map_err(|_| bad())?)
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                Self::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&raw).map_err(|_| bad())?)
            }
        })
    }

    /// Verifies a DER signature of any valid length over a message digest.
    pub(crate) fn verify(&self, digest: &[u8], der: &[u8]) -> Result<(), Error> {
        use signature::hazmat::PrehashVerifier;
        let ok = match self {
            Self::P256(k) => p256::ecdsa::Signature::from_der(der)
                .ok()
                .and_then(|s| k.verify_prehash(digest, &s).ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_der(der)
                .ok()
                .and_then(|s| k.verify_prehash(digest, &s).ok()),
        };
        ok.ok_or(Error::SignatureVerification)
    }
}

#[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
mod awslc {
    use aws_lc_rs::{aead, hkdf};

    use super::{IV_LEN, TAG_LEN};
    use crate::error::Error;

    pub(super) struct Gcm(aead::LessSafeKey);

    impl Gcm {
        pub(super) fn new(key: &[u8]) -> Result<Self, Error> {
            let alg = match key.len() {
                16 => &aead::AES_128_GCM,
                24 => &aead::AES_192_GCM,
                32 => &aead::AES_256_GCM,
                _ => return Err(Error::Key("AES key must be 16, 24 or 32 bytes".into())),
            };
            let k = aead::UnboundKey::new(alg, key)
                .map_err(|_| Error::Key("AES key rejected".into()))?;
            Ok(Self(aead::LessSafeKey::new(k)))
        }

        pub(super) fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
            let nonce = aead::Nonce::assume_unique_for_key(*iv);
            let tag = self
                .0
                .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), buf)
                .expect("AES-GCM input within limits");
            let mut t = [0u8; TAG_LEN];
            t.copy_from_slice(tag.as_ref());
            t
        }

        pub(super) fn open(
            &self,
            iv: &[u8; IV_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8],
        ) -> Result<(), ()> {
            let nonce = aead::Nonce::assume_unique_for_key(*iv);
            self.0
                .open_in_place_separate_tag(nonce, aead::Aad::from(aad), tag, buf)
                .map(|_| ())
                .map_err(|_| ())
        }
    }

    /// An output length for AWS-LC's HKDF.
    struct Len(usize);

    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    /// HKDF extract-then-expand into `out` (AWS-LC keeps and clears the PRK itself).
    pub(super) fn hkdf(
        alg: hkdf::Algorithm,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), Error> {
        hkdf::Salt::new(alg, salt)
            .extract(ikm)
            .expand(info, Len(out.len()))
            .and_then(|okm| okm.fill(out))
            .map_err(|_| Error::Misuse("HKDF output length"))
    }
}

mod rust {
    use aes_gcm::aead::consts::U12;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce, Tag};

    use super::{IV_LEN, TAG_LEN};
    use crate::error::Error;

    type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, U12>;

    pub(super) enum Gcm {
        A128(Aes128Gcm),
        A192(Aes192Gcm),
        A256(Aes256Gcm),
    }

    macro_rules! each {
        ($self:expr, $k:ident => $e:expr) => {
            match $self {
                Gcm::A128($k) => $e,
                Gcm::A192($k) => $e,
                Gcm::A256($k) => $e,
            }
        };
    }

    impl Gcm {
        pub(super) fn new(key: &[u8]) -> Result<Self, Error> {
            let bad = |_| Error::Key("AES key rejected".into());
            Ok(match key.len() {
                16 => Self::A128(Aes128Gcm::new_from_slice(key).map_err(bad)?),
                24 => Self::A192(Aes192Gcm::new_from_slice(key).map_err(bad)?),
                32 => Self::A256(Aes256Gcm::new_from_slice(key).map_err(bad)?),
                _ => return Err(Error::Key("AES key must be 16, 24 or 32 bytes".into())),
            })
        }

        pub(super) fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
            let nonce = Nonce::<U12>::from(*iv);
            let tag = each!(self, k => k.encrypt_inout_detached(&nonce, aad, buf.into()))
                .expect("AES-GCM input within limits");
            tag.into()
        }

        pub(super) fn open(
            &self,
            iv: &[u8; IV_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8],
        ) -> Result<(), ()> {
            let nonce = Nonce::<U12>::from(*iv);
            let tag = Tag::try_from(tag).map_err(|_| ())?;
            each!(self, k => k.decrypt_inout_detached(&nonce, aad, buf.into(), &tag))
                .map_err(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_round_trip_and_tamper() {
        for p in CryptoProvider::all() {
            for len in [16, 24, 32] {
                let k = GcmKey::new(*p, &alloc::vec![7u8; len]).unwrap();
                let iv = [1u8; 12];
                let mut buf = *b"hello frames";
                let tag = k.seal_in_place(&iv, b"aad", &mut buf);
                assert_ne!(&buf, b"hello frames");
                let mut bad = buf;
                assert!(k.open_in_place(&iv, b"aaD", &mut bad, &tag).is_err());
                assert_eq!(bad, [0u8; 12]);
                k.open_in_place(&iv, b"aad", &mut buf, &tag).unwrap();
                assert_eq!(&buf, b"hello frames");
            }
            assert!(GcmKey::new(*p, &[0u8; 20]).is_err());
        }
    }

    #[test]
    fn gcm_known_answer() {
        // NIST GCM test case 14 (256-bit zero key, zero IV, one zero block).
        for p in CryptoProvider::all() {
            let k = GcmKey::new(*p, &[0u8; 32]).unwrap();
            let mut buf = [0u8; 16];
            let tag = k.seal_in_place(&[0u8; 12], &[], &mut buf);
            assert_eq!(buf, hex("cea7403d4d606b6e074ec5d3baf39d18"), "{}", p.name());
            assert_eq!(tag, hex("d0d1c8a799996bf0265b98b5d48ab919"), "{}", p.name());
        }
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn signatures_have_fixed_length_and_verify() {
        for p in CryptoProvider::all() {
            for alg in [
                SignatureAlgorithm::EcdsaP256Sha256,
                SignatureAlgorithm::EcdsaP384Sha384,
            ] {
                let (s, public) = Signer::generate(alg).unwrap();
                assert_eq!(
                    public.len(),
                    if alg == SignatureAlgorithm::EcdsaP256Sha256 {
                        44
                    } else {
                        68
                    }
                );
                let mut h = MessageHash::new(*p, alg);
                h.update(b"message");
                let d = h.finish();
                let sig = s.sign(&d).unwrap();
                assert_eq!(sig.len(), alg.fixed_signature_len());
                let v = Verifier::from_context_value(alg, &public).unwrap();
                v.verify(&d, &sig).unwrap();
                let mut d2 = d.clone();
                d2[0] ^= 1;
                assert!(v.verify(&d2, &sig).is_err());
            }
        }
    }

    #[test]
    fn providers_agree_on_hashes_and_derived_keys() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        for alg in [
            SignatureAlgorithm::EcdsaP256Sha256,
            SignatureAlgorithm::EcdsaP384Sha384,
        ] {
            let digests: Vec<Vec<u8>> = CryptoProvider::all()
                .iter()
                .map(|p| {
                    let mut h = MessageHash::new(*p, alg);
                    for piece in data.chunks(333) {
                        h.update(piece);
                    }
                    h.finish()
                })
                .collect();
            assert!(digests.windows(2).all(|w| w[0] == w[1]));
        }
        for suite in AlgorithmSuite::ALL {
            let dk = alloc::vec![9u8; suite.data_key_len()];
            let id = alloc::vec![3u8; suite.message_id_len()];
            let keys: Vec<(Vec<u8>, Option<[u8; 32]>)> = CryptoProvider::all()
                .iter()
                .map(|p| {
                    let d = derive_keys(*p, *suite, &dk, &id).unwrap();
                    (d.key.to_vec(), d.commitment.map(|c| *c))
                })
                .collect();
            assert!(keys.windows(2).all(|w| w[0] == w[1]), "{suite}");
        }
    }

    #[test]
    fn committing_derivation_separates_keys() {
        let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        for p in CryptoProvider::all() {
            let d = derive_keys(*p, suite, &[1u8; 32], &[2u8; 32]).unwrap();
            let c = d.commitment.unwrap();
            assert_ne!(&d.key[..], &c[..]);
            let d2 = derive_keys(*p, suite, &[1u8; 32], &[3u8; 32]).unwrap();
            assert_ne!(&d.key[..], &d2.key[..]);
            assert!(derive_keys(*p, suite, &[1u8; 16], &[2u8; 32]).is_err());
        }
    }
}
