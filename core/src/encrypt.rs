//! Sans-IO encryption: plaintext in, message bytes out (spec `client-apis/encrypt.md`).

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::body::{self, FINAL_MARKER, FrameAad, Part};
use crate::context::{self, EncryptionContext, PUBLIC_KEY_FIELD};
use crate::crypto::{self, CryptoProvider, GcmKey, IV_LEN, MessageHash, Signer};
use crate::error::Error;
use crate::header::{ContentType, Header};
use crate::keyring::{EncryptionMaterials, Keyring};
use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// Default frame length of the official SDKs.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;

/// Settings of one encryption. `Default` matches the official Python SDK 4.x.
#[derive(Clone, Debug)]
pub struct EncryptConfig {
    /// Which suites may be written (default: require commitment).
    pub commitment_policy: CommitmentPolicy,
    /// The suite; `None` picks the policy's default (0x0578 under the default policy).
    pub suite: Option<AlgorithmSuite>,
    /// Plaintext bytes per frame, 1 ..= 2^32 − 1 (default 4096). Official Python readers
    /// accept at most 2^31 − 1.
    pub frame_length: u32,
    /// Caller encryption context; keys may not start with `aws-crypto-`.
    pub encryption_context: EncryptionContext,
    /// Context keys that are authenticated but not stored in the message; the reader must
    /// supply them (the official "required encryption context" CMM).
    pub required_context_keys: BTreeSet<String>,
    /// Refuse to write more encrypted data keys than this.
    pub max_encrypted_data_keys: Option<usize>,
    /// Which implementation provides the primitives (default: pure Rust).
    pub provider: CryptoProvider,
}

impl Default for EncryptConfig {
    fn default() -> Self {
        Self {
            commitment_policy: CommitmentPolicy::default(),
            suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            encryption_context: EncryptionContext::new(),
            required_context_keys: BTreeSet::new(),
            max_encrypted_data_keys: None,
            provider: CryptoProvider::default(),
        }
    }
}

/// What it takes to write a message again, byte for byte up to its signature: the serialized
/// header, the data key, the ephemeral signing key of signed suites and the serialized
/// required encryption context (authenticated, not stored). Anyone holding it can decrypt
/// the message and write frames for it: keep it like the plaintext (zeroed on drop, never
/// printed).
#[derive(Clone)]
pub struct ResumeSecret {
    /// The serialized header, authentication tag included.
    pub header: Vec<u8>,
    /// The plaintext data key.
    pub data_key: zeroize::Zeroizing<Vec<u8>>,
    /// The ECDSA private scalar (big-endian) of signed suites.
    pub signing_key: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// The serialized required encryption context (empty when there is none).
    pub required_context: Vec<u8>,
}

impl core::fmt::Debug for ResumeSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResumeSecret")
            .field("header", &self.header.len())
            .finish_non_exhaustive()
    }
}

/// Encrypts one message, frame by frame.
///
/// Feed plaintext with [`Encryptor::update`]; **[`Encryptor::finish`] must be called**: it
/// writes the final frame and the footer, without which the message is truncated. After an
/// error every later call fails, so a message missing data is never finished.
pub struct Encryptor {
    header: Header,
    header_bytes: Vec<u8>,
    header_written: bool,
    failed: bool,
    /// The frames handed out by [`Encryptor::stage`] and not yet committed.
    staged: Option<(u32, usize, usize)>,
    sealer: Sealer,
    seq: u32,
    /// Plaintext short of a frame; allocated once at the frame length so it never moves.
    pending: zeroize::Zeroizing<Vec<u8>>,
    signing: Option<(Signer, MessageHash)>,
    aad: Vec<u8>,
    /// The final frame is written and the footer waits for the caller's digest
    /// ([`Encryptor::finish_frames`]).
    frames_done: bool,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("header", &self.header)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Gets the data key from `keyring`, then prepares the header.
    pub fn new<K: Keyring + ?Sized>(keyring: &K, config: &EncryptConfig) -> Result<Self, Error> {
        Self::build(keyring, config).map(|(e, _)| e)
    }

    /// Like [`Encryptor::new`], and also the [`ResumeSecret`] from which
    /// [`Encryptor::resume`] writes the same message again (a resumable upload keeps it until
    /// the message is stored).
    pub fn new_resumable<K: Keyring + ?Sized>(
        keyring: &K,
        config: &EncryptConfig,
    ) -> Result<(Self, ResumeSecret), Error> {
        Self::build(keyring, config)
    }

    /// An encryptor that writes, from its first byte, the message that `secret` came from:
    /// the same header and, for the same plaintext, the same frames (frame IVs are sequence
    /// numbers). Only the footer's signature differs (ECDSA is randomized; it verifies
    /// either way). The secret is checked against its header first: the key commitment,
    /// the header authentication tag and the signing key's public point.
    pub fn resume(secret: &ResumeSecret, provider: CryptoProvider) -> Result<Self, Error> {
        let bad = |what: &str| Error::Config(format!("resume state: {what}"));
        let (header, body_end) = crate::header::parse_header(&secret.header)
            .map_err(|_| bad("the header does not parse"))?;
        if body_end + header.auth_len() != secret.header.len()
            || header.content_type != ContentType::Framed
        {
            return Err(bad("the header does not parse"));
        }
        let suite = header.suite;
        let keys = crypto::derive_keys(provider, suite, &secret.data_key, &header.message_id)
            .map_err(|_| bad("the data key does not fit the suite"))?;
        if header.commitment != keys.commitment.as_ref().map(|c| **c) {
            return Err(bad("the data key does not match the header"));
        }
        let key = GcmKey::new(provider, &keys.key)?;
        let key_bytes = keys.key;
        let mut aad = secret.header[..body_end].to_vec();
        aad.extend_from_slice(&secret.required_context);
        let tag = &secret.header[secret.header.len() - 16..];
        key.open_in_place(&[0u8; IV_LEN], &aad, &mut [], tag)
            .map_err(|_| bad("the header authentication tag does not verify"))?;
        let signing = match (suite.signature(), &secret.signing_key) {
            (None, None) => None,
            (Some(alg), Some(k)) => {
                let (signer, public) = Signer::from_bytes(alg, k)
                    .map_err(|_| bad("the signing key is not a valid key"))?;
                if header.encryption_context.get(PUBLIC_KEY_FIELD) != Some(&public) {
                    return Err(bad("the signing key does not match the header"));
                }
                Some((signer, MessageHash::new(provider, alg)))
            }
            _ => return Err(bad("the signing key does not match the suite")),
        };
        let frame_len = usize::try_from(header.frame_length)
            .map_err(|_| Error::Config("frame length does not fit this platform".into()))?;
        Ok(Self {
            sealer: Sealer {
                key,
                key_bytes,
                message_id: header.message_id.clone(),
                frame_len,
            },
            header,
            header_bytes: secret.header.clone(),
            header_written: false,
            failed: false,
            frames_done: false,
            staged: None,
            seq: 1,
            pending: zeroize::Zeroizing::new(Vec::with_capacity(frame_len)),
            signing,
            aad: Vec::with_capacity(128),
        })
    }

    fn build<K: Keyring + ?Sized>(
        keyring: &K,
        config: &EncryptConfig,
    ) -> Result<(Self, ResumeSecret), Error> {
        let policy = config.commitment_policy;
        let suite = config.suite.unwrap_or(policy.default_suite());
        if !policy.allows_encrypt(suite) {
            return Err(Error::PolicyForbidsSuite { suite, policy });
        }
        if config.frame_length == 0 {
            return Err(Error::Config("frame length must be at least 1".into()));
        }
        if config.max_encrypted_data_keys == Some(0) {
            return Err(Error::Config(
                "max encrypted data keys must be at least 1".into(),
            ));
        }
        context::check_caller_context(&config.encryption_context)?;
        if let Some(k) = config
            .required_context_keys
            .iter()
            .find(|k| !config.encryption_context.contains_key(*k))
        {
            return Err(Error::EncryptionContext(format!(
                "required key {k:?} is not in the encryption context"
            )));
        }

        let mut full_context = config.encryption_context.clone();
        let signer = match suite.signature() {
            Some(alg) => {
                let (signer, public) = Signer::generate(alg)?;
                full_context.insert(PUBLIC_KEY_FIELD.into(), public);
                Some((signer, MessageHash::new(config.provider, alg)))
            }
            None => None,
        };
        let mut materials = EncryptionMaterials {
            suite,
            encryption_context: full_context,
            data_key: None,
            encrypted_data_keys: Vec::new(),
            provider: config.provider,
        };
        keyring.on_encrypt(&mut materials)?;
        let data_key = materials
            .data_key
            .take()
            .ok_or(Error::Misuse("the keyring produced no data key"))?;
        let count = materials.encrypted_data_keys.len();
        if count == 0 {
            return Err(Error::Misuse("the keyring produced no encrypted data key"));
        }
        if let Some(max) = config.max_encrypted_data_keys
            && count > max
        {
            return Err(Error::TooManyEncryptedDataKeys { count, max });
        }

        let mut message_id = alloc::vec![0u8; suite.message_id_len()];
        crypto::fill_random(&mut message_id)?;
        let keys = crypto::derive_keys(config.provider, suite, data_key.as_bytes(), &message_id)?;
        let key = GcmKey::new(config.provider, &keys.key)?;
        let key_bytes = keys.key;

        let mut stored = materials.encryption_context;
        let mut required = EncryptionContext::new();
        for k in &config.required_context_keys {
            if let Some(v) = stored.remove(k) {
                required.insert(k.clone(), v);
            }
        }
        let header = Header {
            suite,
            message_id,
            encryption_context: stored,
            encrypted_data_keys: materials.encrypted_data_keys,
            content_type: ContentType::Framed,
            frame_length: config.frame_length,
            commitment: keys.commitment.as_ref().map(|c| **c),
        };
        let mut header_bytes = header.serialize_body()?;
        let mut auth_aad = header_bytes.clone();
        let required_context = context::serialize(&required)?;
        auth_aad.extend_from_slice(&required_context);
        let tag = key.seal_in_place(&[0u8; IV_LEN], &auth_aad, &mut []);
        if header.version() == 1 {
            header_bytes.extend_from_slice(&[0u8; IV_LEN]);
        }
        header_bytes.extend_from_slice(&tag);

        let frame_len = usize::try_from(config.frame_length)
            .map_err(|_| Error::Config("frame length does not fit this platform".into()))?;
        let secret = ResumeSecret {
            header: header_bytes.clone(),
            data_key: zeroize::Zeroizing::new(data_key.as_bytes().to_vec()),
            signing_key: signer.as_ref().map(|(s, _)| s.to_bytes()),
            required_context,
        };
        let encryptor = Self {
            sealer: Sealer {
                key,
                key_bytes,
                message_id: header.message_id.clone(),
                frame_len,
            },
            header,
            header_bytes,
            header_written: false,
            failed: false,
            frames_done: false,
            staged: None,
            seq: 1,
            pending: zeroize::Zeroizing::new(Vec::with_capacity(frame_len)),
            signing: signer,
            aad: Vec::with_capacity(128),
        };
        Ok((encryptor, secret))
    }

    /// The header this message will carry.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Length of the serialized header including its authentication section.
    pub fn header_len(&self) -> usize {
        self.header_bytes.len()
    }

    /// Exact length of the whole message for `plaintext_len` bytes of plaintext.
    pub fn message_len(&self, plaintext_len: u64) -> u64 {
        framed_message_len(
            self.header_bytes.len() as u64,
            self.header.suite,
            self.header.frame_length,
            plaintext_len,
        )
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            self.header_written = true;
            out.extend_from_slice(&self.header_bytes);
            if let Some((_, h)) = &mut self.signing {
                h.update(&self.header_bytes);
            }
        }
    }

    /// Encrypts `plaintext`, appending every completed frame to `out`. Bytes short of a full
    /// frame wait for the next call or for [`Encryptor::finish`].
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.usable()?;
        let r = self.update_inner(plaintext, out);
        self.failed = r.is_err();
        r
    }

    /// Fails (for good) once the encryptor failed, or while staged frames wait for
    /// [`Encryptor::commit`].
    fn usable(&mut self) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Misuse("the encryptor already failed"));
        }
        if self.frames_done {
            self.failed = true;
            return Err(Error::Misuse("the final frame is already written"));
        }
        if self.staged.is_some() {
            self.failed = true;
            return Err(Error::Misuse(
                "staged frames were not committed before the next call",
            ));
        }
        Ok(())
    }

    /// The derived frame key (AES-GCM, 16, 24 or 32 bytes) that seals this message's frames,
    /// for an outside AES-GCM that seals what [`Encryptor::stage`] lays out. It is the key
    /// of the whole body: keep it like the plaintext, and drop (zero) it once imported.
    pub fn frame_key(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.sealer.key_bytes.clone()
    }

    /// Like [`Encryptor::update`], but the whole frames this call completes are laid out in
    /// `out` and left for an outside AES-GCM to seal: each frame's sequence number and IV,
    /// then its plaintext where the ciphertext goes, then 16 zero bytes where the tag goes.
    /// The header is written (and hashed) first, as by `update`; bytes short of a frame
    /// wait, as there. [`Staged`] says, for each frame, the IV, the AAD and the byte range
    /// of ciphertext ‖ tag in `out`.
    ///
    /// **The caller must seal every staged frame** (AES-GCM with [`Encryptor::frame_key`],
    /// the frame's IV and AAD, ciphertext ‖ tag written over the frame's range) and then
    /// call [`Encryptor::commit`] **before any byte of `out` from the staged offset on
    /// leaves**: until then that region holds plaintext. Core cannot check that the tags
    /// are right (that would cost the AES-GCM it hands out), so the caller is trusted: the
    /// browser page, which seals them with WebCrypto. Until `commit`, every other call
    /// ([`Encryptor::update`], `stage`, [`Encryptor::finish`]) fails, and the encryptor
    /// with it.
    pub fn stage(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<Staged, Error> {
        self.usable()?;
        if let Some((_, h)) = &mut self.signing {
            h.defer();
        }
        let r = self.stage_inner(plaintext, out);
        self.failed = r.is_err();
        r
    }

    fn stage_inner(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<Staged, Error> {
        self.write_header(out);
        let f = self.sealer.frame_len;
        let offset = out.len();
        let first_seq = self.seq;
        if !self.pending.is_empty() {
            let take = (f - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            if self.pending.len() == f {
                let frame = core::mem::take(&mut self.pending);
                let r = self.lay_out(&frame, out);
                self.pending = frame;
                self.pending.clear();
                r?;
            }
        }
        if self.pending.is_empty() {
            let (frames, rest) = plaintext.split_at(plaintext.len() / f * f);
            self.lay_out(frames, out)?;
            self.pending.extend_from_slice(rest);
        }
        let count = (self.seq - first_seq) as usize;
        self.staged = Some((first_seq, count, offset));
        Ok(Staged {
            first_seq,
            count,
            offset,
            frame_len: f,
            message_id: self.header.message_id.clone(),
        })
    }

    /// Lays out whole frames (`plaintext` is a multiple of the frame length) on `out`,
    /// unsealed: sequence number ‖ IV ‖ plaintext ‖ zero tag.
    fn lay_out(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let f = self.sealer.frame_len;
        let n = plaintext.len() / f;
        self.check_frames(n)?;
        out.reserve(n * (f + body::FRAME_OVERHEAD));
        for p in plaintext.chunks_exact(f) {
            out.extend_from_slice(&self.seq.to_be_bytes());
            out.extend_from_slice(&body::frame_iv(self.seq));
            out.extend_from_slice(p);
            out.extend_from_slice(&[0u8; crypto::TAG_LEN]);
            self.seq += 1;
        }
        Ok(())
    }

    /// Hashes, for the signature, the bytes that wait since [`Encryptor::stage`] was first
    /// called. The stage/commit path lets the hash wait (up to
    /// [`crypto::MAX_HASH_BACKLOG`] bytes, in order) so that a caller without threads can
    /// hash the frames committed last while the outside AES-GCM seals the next ones: call
    /// this after handing out the new frames and before waiting for them. Never needed for
    /// correctness: [`Encryptor::finish`] hashes whatever still waits.
    pub fn catch_up_hash(&mut self) {
        if let Some((_, h)) = &mut self.signing {
            h.catch_up();
        }
    }

    /// Takes back the frames of `staged` once an outside AES-GCM sealed each of them in
    /// `out` (the buffer `stage` wrote to, whole): they go into the signature hash, and the
    /// encryptor takes the next call. `staged` must be the one `stage` returned last.
    pub fn commit(&mut self, staged: Staged, out: &[u8]) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Misuse("the encryptor already failed"));
        }
        let end = staged.offset + staged.count * staged.frame_span();
        if self.staged != Some((staged.first_seq, staged.count, staged.offset)) || out.len() < end {
            self.failed = true;
            return Err(Error::Misuse(
                "commit of frames that are not the ones staged last",
            ));
        }
        self.staged = None;
        if let Some((_, h)) = &mut self.signing {
            h.update(&out[staged.offset..end]);
        }
        Ok(())
    }

    fn update_inner(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.write_header(out);
        let f = self.sealer.frame_len;
        if !self.pending.is_empty() {
            let take = (f - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            if self.pending.len() < f {
                return Ok(());
            }
            let frame = core::mem::take(&mut self.pending);
            self.seal_frames(&frame, out)?;
            self.pending = frame;
            self.pending.clear();
        }
        let (frames, rest) = plaintext.split_at(plaintext.len() / f * f);
        self.seal_frames(frames, out)?;
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// Seals whole frames (`plaintext` is a multiple of the frame length) onto `out`.
    fn seal_frames(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let f = self.sealer.frame_len;
        let n = plaintext.len() / f;
        if n == 0 {
            return Ok(());
        }
        self.check_frames(n)?;
        let start = out.len();
        out.resize(start + n * (f + body::FRAME_OVERHEAD), 0);
        let region = &mut out[start..];
        let hash = self.signing.as_mut().map(|(_, h)| h);
        self.sealer.seal_many(self.seq, plaintext, region, hash);
        self.seq += n as u32;
        Ok(())
    }

    /// Fails if `n` more regular frames would not fit: they use sequence numbers below the
    /// final frame's, itself ≤ 2^32 − 1.
    fn check_frames(&self, n: usize) -> Result<(), Error> {
        if u64::from(self.seq) + n as u64 >= u64::from(FINAL_MARKER) {
            return Err(Error::Config(
                "message would exceed 2^32 − 1 frames; use a larger frame length".into(),
            ));
        }
        Ok(())
    }

    /// Appends IV ‖ [length] ‖ ciphertext ‖ tag; `start` is where the frame began (for the hash).
    fn seal_into(
        &mut self,
        part: Part,
        seq: u32,
        plaintext: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) {
        let iv = body::frame_iv(seq);
        out.extend_from_slice(&iv);
        if part == Part::FinalFrame {
            out.extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
        }
        body::body_aad(
            &mut self.aad,
            &self.header.message_id,
            part,
            seq,
            plaintext.len() as u64,
        );
        let ct = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .sealer
            .key
            .seal_in_place(&iv, &self.aad, &mut out[ct..]);
        out.extend_from_slice(&tag);
        if let Some((_, h)) = &mut self.signing {
            h.update(&out[start..]);
        }
    }

    /// Writes the final frame (with the buffered remainder, possibly empty) and the footer.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.hashed_outside() {
            return Err(Error::Misuse(
                "a message hashed outside ends with finish_frames and finish_with_digest",
            ));
        }
        self.final_frame(out)?;
        if let Some((signer, hash)) = self.signing.take() {
            let sig = signer.sign(&hash.finish())?;
            out.extend_from_slice(&(sig.len() as u16).to_be_bytes());
            out.extend_from_slice(&sig);
        }
        Ok(())
    }

    fn final_frame(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.usable()?;
        self.write_header(out);
        let rest = core::mem::take(&mut self.pending);
        let start = out.len();
        out.extend_from_slice(&FINAL_MARKER.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        let seq = self.seq;
        self.seal_into(Part::FinalFrame, seq, &rest, out, start);
        Ok(())
    }

    fn hashed_outside(&self) -> bool {
        self.signing.as_ref().is_some_and(|(_, h)| h.is_outside())
    }

    /// The signature hash becomes the caller's (for a caller that hashes on another thread
    /// than the one that runs the encryptor: the page, in a Worker): every byte the signature
    /// covers (header, frames) is queued for [`Encryptor::take_hash_input`], and the message
    /// ends with [`Encryptor::finish_frames`], then [`Encryptor::finish_with_digest`].
    /// Answers whether the message is signed: when it is not, there is nothing to hash and
    /// [`Encryptor::finish`] ends it as usual. Only before the header is written.
    pub fn hash_outside(&mut self) -> Result<bool, Error> {
        if self.header_written {
            return Err(Error::Misuse("the header is already hashed"));
        }
        Ok(match &mut self.signing {
            Some((_, h)) => {
                *h = MessageHash::outside();
                true
            }
            None => false,
        })
    }

    /// Hands the bytes to hash that were written since the last call to `to`, in order
    /// (nothing unless [`Encryptor::hash_outside`]). Take them after every call.
    pub fn take_hash_input(&mut self, to: impl FnOnce(&[u8])) {
        if let Some((_, h)) = &mut self.signing {
            h.take(to);
        }
    }

    /// With the hash outside: writes the final frame (with the buffered remainder). Its
    /// bytes are the last to hash ([`Encryptor::take_hash_input`]); then
    /// [`Encryptor::finish_with_digest`].
    pub fn finish_frames(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.hashed_outside() {
            return Err(Error::Misuse("finish_frames is for a hash outside"));
        }
        self.final_frame(out)?;
        self.frames_done = true;
        Ok(())
    }

    /// With the hash outside: appends the footer, the signature of `digest` (SHA-384 of
    /// every byte before the footer, all of which the caller took).
    pub fn finish_with_digest(mut self, digest: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let ready = self.frames_done
            && !self.failed
            && self
                .header
                .suite
                .signature()
                .is_some_and(|a| a.digest_len() == digest.len());
        match self.signing.take() {
            Some((signer, hash)) if ready && hash.is_outside() && hash.is_taken() => {
                let sig = signer.sign(digest)?;
                out.extend_from_slice(&(sig.len() as u16).to_be_bytes());
                out.extend_from_slice(&sig);
                Ok(())
            }
            _ => Err(Error::Misuse(
                "finish_with_digest needs finish_frames, every byte to hash taken and a digest of the suite's length",
            )),
        }
    }
}

/// Whole regular frames laid out by [`Encryptor::stage`], waiting for an outside AES-GCM.
///
/// Frame `i` (0-based) has sequence number `first_seq() + i`; it seals the plaintext at
/// [`Staged::sealed_range`]`(i)` minus its last 16 bytes, with [`Staged::iv`]`(i)` and
/// [`Staged::aad`]`(i)`, and writes ciphertext ‖ tag over that whole range.
#[derive(Debug)]
#[must_use = "staged frames hold plaintext until they are sealed and committed"]
pub struct Staged {
    first_seq: u32,
    count: usize,
    offset: usize,
    frame_len: usize,
    message_id: Vec<u8>,
}

impl Staged {
    /// The first frame's sequence number.
    pub fn first_seq(&self) -> u32 {
        self.first_seq
    }
    /// How many frames (0 when the call completed none).
    pub fn count(&self) -> usize {
        self.count
    }
    /// Where the first frame starts in `out`.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Plaintext bytes per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }
    /// Bytes of one laid-out frame (sequence number, IV, plaintext, tag).
    fn frame_span(&self) -> usize {
        self.frame_len + body::FRAME_OVERHEAD
    }
    /// The end of the last frame in `out`.
    pub fn end(&self) -> usize {
        self.offset + self.count * self.frame_span()
    }
    /// Frame `i`'s IV. (Like the other per-frame getters, panics if `i ≥ count()`.)
    pub fn iv(&self, i: usize) -> [u8; IV_LEN] {
        body::frame_iv(self.seq(i))
    }
    /// Frame `i`'s AAD.
    pub fn aad(&self, i: usize) -> FrameAad {
        FrameAad::new(
            &self.message_id,
            Part::Frame,
            self.seq(i),
            self.frame_len as u64,
        )
    }
    /// Where frame `i`'s ciphertext ‖ tag goes in `out` (its plaintext and a zero tag
    /// until it is sealed).
    pub fn sealed_range(&self, i: usize) -> core::ops::Range<usize> {
        let start = self.offset + i * self.frame_span() + 4 + IV_LEN;
        start..start + self.frame_len + crypto::TAG_LEN
    }
    fn seq(&self, i: usize) -> u32 {
        assert!(i < self.count, "frame {i} of {} staged", self.count);
        self.first_seq + i as u32
    }
}

/// Seals regular frames; shared by reference with worker threads.
struct Sealer {
    key: GcmKey,
    /// The derived frame key's bytes, for [`Encryptor::frame_key`].
    key_bytes: zeroize::Zeroizing<Vec<u8>>,
    message_id: Vec<u8>,
    frame_len: usize,
}

impl Sealer {
    /// Seals one regular frame into `out` (exactly frame length + 32 bytes).
    fn seal_one(&self, seq: u32, plaintext: &[u8], out: &mut [u8]) {
        let iv = body::frame_iv(seq);
        let (aad, n) =
            body::body_aad_array(&self.message_id, Part::Frame, seq, plaintext.len() as u64);
        let (head, rest) = out.split_at_mut(4 + IV_LEN);
        head[..4].copy_from_slice(&seq.to_be_bytes());
        head[4..].copy_from_slice(&iv);
        let (ct, tag_out) = rest.split_at_mut(plaintext.len());
        ct.copy_from_slice(plaintext);
        let tag = self.key.seal_in_place(&iv, &aad[..n], ct);
        tag_out.copy_from_slice(&tag);
    }

    fn seal_serial(&self, seq: u32, plaintext: &[u8], out: &mut [u8]) {
        let f = self.frame_len;
        for (i, (p, o)) in plaintext
            .chunks_exact(f)
            .zip(out.chunks_exact_mut(f + body::FRAME_OVERHEAD))
            .enumerate()
        {
            self.seal_one(seq + i as u32, p, o);
        }
    }

    /// Seals whole frames starting at `seq` into `out` (on every core with the `parallel`
    /// feature), then feeds `out` to `hash` (which runs on its own thread there).
    fn seal_many(
        &self,
        seq: u32,
        plaintext: &[u8],
        out: &mut [u8],
        hash: Option<&mut MessageHash>,
    ) {
        #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
        if plaintext.len() / self.frame_len >= 8 {
            use rayon::prelude::*;
            let f = self.frame_len;
            out.par_chunks_mut(f + body::FRAME_OVERHEAD)
                .zip(plaintext.par_chunks(f))
                .enumerate()
                .with_min_len(16)
                .for_each(|(i, (o, p))| self.seal_one(seq + i as u32, p, o));
        } else {
            self.seal_serial(seq, plaintext, out);
        }
        #[cfg(not(all(feature = "parallel", not(target_arch = "wasm32"))))]
        self.seal_serial(seq, plaintext, out);
        if let Some(h) = hash {
            h.update(out);
        }
    }
}

/// Exact length of a framed message written by [`Encryptor`]: header (with its
/// authentication section) ‖ full frames ‖ final frame (possibly empty) ‖ fixed-length footer.
pub fn framed_message_len(
    header_len: u64,
    suite: AlgorithmSuite,
    frame_length: u32,
    plaintext_len: u64,
) -> u64 {
    let f = u64::from(frame_length.max(1));
    let full = plaintext_len / f;
    let rest = plaintext_len % f;
    let footer = suite
        .signature()
        .map_or(0, |s| 2 + s.fixed_signature_len() as u64);
    header_len + full * body::regular_frame_len(f) + body::final_frame_len(rest) + footer
}

/// The plaintext length of a framed message from its lengths alone (for tools that inspect a
/// message without its key): `body_len` is the bytes between the header and the footer.
/// `None` when no frame layout of `frame_length` has that length.
pub fn framed_plaintext_len(frame_length: u32, body_len: u64) -> Option<u64> {
    let f = u64::from(frame_length);
    if f == 0 {
        return None;
    }
    let per = body::regular_frame_len(f);
    let r = body_len.checked_sub(body::final_frame_len(0))?;
    let (full, last) = (r / per, r % per);
    (last <= f).then(|| full * f + last)
}

/// The length of the footer at the end of a signed message, read from the message's last
/// bytes (`tail`, at least the footer itself): a 2-byte length, then an ECDSA signature of
/// that length in DER (a SEQUENCE whose short-form length is the rest). `None` if nothing fits.
pub fn footer_len_from_tail(tail: &[u8]) -> Option<usize> {
    (8..=127usize).find_map(|sig| {
        let at = tail.len().checked_sub(sig + 2)?;
        let fits = usize::from(u16::from_be_bytes([tail[at], tail[at + 1]])) == sig
            && tail[at + 2] == 0x30
            && usize::from(tail[at + 3]) == sig - 2;
        fits.then_some(sig + 2)
    })
}
