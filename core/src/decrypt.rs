//! Sans-IO decryption: message bytes in, authenticated plaintext out
//! (spec `client-apis/decrypt.md`, `client-apis/streaming.md`).

use alloc::format;
use alloc::vec::Vec;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::body::{self, FINAL_MARKER, FrameAad, MAX_NON_FRAMED, Part};
use crate::codec::{Reader, Short};
use crate::context::{self, EncryptionContext, PUBLIC_KEY_FIELD};
use crate::crypto::{self, CryptoProvider, GcmKey, IV_LEN, MessageHash, TAG_LEN, Verifier};
use crate::error::{Error, Limit, MAX_SHOWN_CHARS, printable};
use crate::header::{ContentType, Header, HeaderScan, ParseRules};
use crate::keyring::{DecryptionMaterials, Keyring};
use crate::suite::CommitmentPolicy;

/// Default limit on encrypted data keys per message. The users' messages hold one; a message
/// shared with a group holds one per member.
pub const DEFAULT_MAX_ENCRYPTED_DATA_KEYS: usize = 16;
/// Default limit on data-key unwrap attempts per message: each RSA-4096 attempt is a
/// private-key operation (milliseconds of CPU), so a header cannot make us spend seconds.
pub const DEFAULT_MAX_KEY_ATTEMPTS: usize = 8;
/// Default limit on the header size (1 MiB); with 16 data keys a header of the official SDKs
/// stays under 10 KiB, and a header is held whole until its tag verifies.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 1 << 20;
/// Default limit on the frame length a header may declare (8 MiB): a frame is held until its
/// tag verifies. The official SDKs write frames of 4096 bytes by default.
pub const DEFAULT_MAX_FRAME_LENGTH: u64 = 8 << 20;
/// Default limit on a non-framed body (8 MiB): it is held whole until its tag verifies.
/// Official SDKs of the current versions never write non-framed bodies.
pub const DEFAULT_MAX_NON_FRAMED_SIZE: u64 = 8 << 20;

/// Settings of one decryption. `Default` matches the official Python SDK 4.x, with limits
/// that bound what a hostile message can make the decryptor hold or compute.
///
/// Every limit is checked as soon as its field is read, before anything is allocated for it,
/// and is reported as [`Error::LimitExceeded`] naming the setting. `None` removes a limit.
#[derive(Clone, Debug)]
pub struct DecryptConfig {
    /// Which suites may be read (default: committing suites only).
    pub commitment_policy: CommitmentPolicy,
    /// Fail as soon as the header announces more encrypted data keys than this
    /// (default [`DEFAULT_MAX_ENCRYPTED_DATA_KEYS`]).
    pub max_encrypted_data_keys: Option<usize>,
    /// Fail once the keyrings have tried to unwrap this many data keys without success
    /// (default [`DEFAULT_MAX_KEY_ATTEMPTS`]).
    pub max_key_attempts: Option<usize>,
    /// Pairs the caller expects. Each pair stored in the header must have the same value;
    /// pairs not stored in the header are authenticated as "required" context (they must
    /// have been given as required keys when the message was written).
    pub encryption_context: EncryptionContext,
    /// Fail right after the header if the message is signed (for callers that release
    /// plaintext as it streams and cannot wait for the footer).
    pub refuse_signed: bool,
    /// Largest accepted header (default [`DEFAULT_MAX_HEADER_SIZE`]).
    pub max_header_size: Option<usize>,
    /// Largest accepted frame length (default [`DEFAULT_MAX_FRAME_LENGTH`]).
    pub max_frame_length: Option<u64>,
    /// Largest accepted non-framed body (default [`DEFAULT_MAX_NON_FRAMED_SIZE`]).
    pub max_non_framed_size: Option<u64>,
    /// Which implementation provides the primitives (default: pure Rust).
    pub provider: CryptoProvider,
}

impl DecryptConfig {
    /// The same settings with every limit removed (for trusted input, such as test vectors).
    pub fn without_limits(self) -> Self {
        Self {
            max_encrypted_data_keys: None,
            max_key_attempts: None,
            max_header_size: None,
            max_frame_length: None,
            max_non_framed_size: None,
            ..self
        }
    }
}

impl Default for DecryptConfig {
    fn default() -> Self {
        Self {
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: Some(DEFAULT_MAX_ENCRYPTED_DATA_KEYS),
            max_key_attempts: Some(DEFAULT_MAX_KEY_ATTEMPTS),
            encryption_context: EncryptionContext::new(),
            refuse_signed: false,
            max_header_size: Some(DEFAULT_MAX_HEADER_SIZE),
            max_frame_length: Some(DEFAULT_MAX_FRAME_LENGTH),
            max_non_framed_size: Some(DEFAULT_MAX_NON_FRAMED_SIZE),
            provider: CryptoProvider::default(),
        }
    }
}

enum Step {
    /// The first `n` bytes were used.
    Consumed(usize),
    /// At least `n` bytes (from the start of the data) are needed.
    Need(usize),
}

impl From<Short> for Step {
    fn from(Short::Need(n): Short) -> Self {
        Self::Need(n)
    }
}

macro_rules! need {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(s) => return Ok(Step::from(s)),
        }
    };
}

/// Opens one regular frame (`frame` = seq ‖ IV ‖ ciphertext ‖ tag) into `out`.
fn open_one(
    key: &GcmKey,
    message_id: &[u8],
    seq: u32,
    frame: &[u8],
    out: &mut [u8],
) -> Result<(), crypto::AuthFailed> {
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&frame[4..4 + IV_LEN]);
    let ct = &frame[4 + IV_LEN..frame.len() - TAG_LEN];
    let tag = &frame[frame.len() - TAG_LEN..];
    let (aad, n) = body::body_aad_array(message_id, Part::Frame, seq, ct.len() as u64);
    out.copy_from_slice(ct);
    key.open_in_place(&iv, &aad[..n], out, tag)
}

/// Opens consecutive regular frames into `out` (on every core with the `parallel` feature)
/// and feeds their bytes to `hash`; returns the index of the first frame whose tag fails.
fn open_many(
    key: &GcmKey,
    message_id: &[u8],
    first: u32,
    f: usize,
    frames: &[u8],
    out: &mut [u8],
    hash: Option<&mut MessageHash>,
) -> Option<usize> {
    let per = f + body::FRAME_OVERHEAD;
    if let Some(h) = hash {
        h.update(frames);
    }
    let open = |i: usize, fr: &[u8], o: &mut [u8]| {
        open_one(key, message_id, first + i as u32, fr, o).is_err()
    };
    #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(f)
            .zip(frames.par_chunks(per))
            .enumerate()
            .with_min_len(16)
            .filter_map(|(i, (o, fr))| open(i, fr, o).then_some(i))
            .min()
    }
    #[cfg(not(all(feature = "parallel", not(target_arch = "wasm32"))))]
    {
        frames
            .chunks_exact(per)
            .zip(out.chunks_exact_mut(f))
            .enumerate()
            .find_map(|(i, (fr, o))| open(i, fr, o).then_some(i))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Header,
    /// The header was read and passed the limits; its data key comes from outside
    /// ([`Decryptor::unwrap_outside`], [`Decryptor::supply_key`]).
    Key,
    Frames,
    NonFramed,
    Footer,
    /// The footer was read; the digest comes from outside ([`Decryptor::hash_outside`],
    /// [`Decryptor::supply_digest`]).
    Digest,
    Done,
    Failed,
}

struct Body {
    key: GcmKey,
    /// The derived frame key's bytes, for [`Decryptor::frame_key`].
    key_bytes: Zeroizing<Vec<u8>>,
    next_seq: u32,
    verify: Option<(Verifier, MessageHash)>,
    /// Signed messages: plaintext of the last authenticated frame (then of the last regular
    /// frame and the final frame, or of the non-framed content), held until a later frame
    /// authenticates or the signature verifies. So the whole plaintext is never out before
    /// the signature verified, even when the final frame is empty.
    held: Zeroizing<Vec<u8>>,
}

/// Decrypts one message, whatever size pieces it arrives in.
///
/// Feed bytes with [`Decryptor::update`]; it appends only authenticated plaintext to the
/// output. For signed suites the last frame that holds plaintext is held until the footer
/// signature verifies (a regular frame is released once the next frame authenticated).
/// **[`Decryptor::finish`] must be called** at the end of input: it is what reports a
/// truncated message. Plaintext of regular frames is released once its tag verifies; if a
/// later check fails, the caller must discard what was released (the std helpers do).
pub struct Decryptor<K> {
    keyring: K,
    config: DecryptConfig,
    state: State,
    buf: Vec<u8>,
    need: usize,
    scan: HeaderScan,
    header: Option<Header>,
    body: Option<Body>,
    aad: Vec<u8>,
    released: u64,
    /// The run handed out by [`Decryptor::update_deferred`] and not yet completed: first
    /// sequence number and frame count.
    deferred: Option<(u32, usize)>,
    /// Whether the data key is asked for ([`Decryptor::unwrap_outside`]).
    key_outside: bool,
    /// The header waiting for its data key, in [`State::Key`].
    pending: Option<Pending>,
    /// Whether the caller computes the signature hash ([`Decryptor::hash_outside`]).
    hash_outside: bool,
    /// The footer's signature, in [`State::Digest`].
    signature: Option<Vec<u8>>,
}

/// A header read whole, waiting for its data key: the parsed header and its bytes.
struct Pending {
    header: Header,
    bytes: Vec<u8>,
    body_len: usize,
}

/// The header of a message whose data key is to be unwrapped outside the keyring
/// ([`Decryptor::awaiting_key`]). It is not authenticated yet: only its data keys are to be
/// used, and the key that comes back is checked against the header (key commitment, header
/// tag) before anything else happens.
#[derive(Clone, Copy, Debug)]
pub struct KeyRequest<'a> {
    /// The parsed header (within every limit of the configuration).
    pub header: &'a Header,
    /// The configuration's limit on unwrap attempts.
    pub max_attempts: Option<usize>,
}

impl<'a> KeyRequest<'a> {
    /// The data keys a keyring named `provider_id`/`provider_info` may try, in order, as many
    /// as the attempt limit allows.
    pub fn candidates(
        &self,
        provider_id: &'a str,
        provider_info: &'a [u8],
    ) -> impl Iterator<Item = &'a crate::header::EncryptedDataKey> + 'a {
        self.header
            .encrypted_data_keys
            .iter()
            .filter(move |e| e.provider_id == provider_id && e.provider_info == provider_info)
            .take(self.max_attempts.unwrap_or(usize::MAX))
    }

    /// The length of the data key the suite takes.
    pub fn data_key_len(&self) -> usize {
        self.header.suite.data_key_len()
    }
}

impl<K> core::fmt::Debug for Decryptor<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("state", &self.state)
            .field("header", &self.header)
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl<K: Keyring> Decryptor<K> {
    /// A decryptor that unwraps the data key with `keyring`.
    pub fn new(keyring: K, config: DecryptConfig) -> Self {
        Self {
            keyring,
            config,
            state: State::Header,
            buf: Vec::new(),
            need: 0,
            scan: HeaderScan::default(),
            header: None,
            body: None,
            aad: Vec::with_capacity(128),
            released: 0,
            deferred: None,
            key_outside: false,
            pending: None,
            hash_outside: false,
            signature: None,
        }
    }

    /// The signature hash is the caller's (for a caller that hashes on another thread than
    /// the one that runs the decryptor: the page, in a Worker of its own). Every byte the
    /// signature covers (header, frames) is queued for [`Decryptor::take_hash_input`]; once
    /// the footer is read the decryptor stops ([`Decryptor::awaiting_digest`]) until
    /// [`Decryptor::supply_digest`] gives the digest of every byte taken, and releases the
    /// last plaintext only if the signature verifies. Unsigned messages queue nothing.
    ///
    /// Only until the header is accepted: before any input, or while its data key is awaited
    /// ([`Decryptor::awaiting_key`], when the suite is known).
    pub fn hash_outside(&mut self) -> Result<(), Error> {
        if !matches!(self.state, State::Header | State::Key) {
            return Err(Error::Misuse("the header is already hashed"));
        }
        self.hash_outside = true;
        Ok(())
    }

    /// Hands the bytes to hash that were read since the last call to `to`, in order
    /// (nothing unless [`Decryptor::hash_outside`]). Take them after every call.
    pub fn take_hash_input(&mut self, to: impl FnOnce(&[u8])) {
        if let Some((_, h)) = self.body.as_mut().and_then(|b| b.verify.as_mut()) {
            h.take(to);
        }
    }

    /// Whether the footer was read and its digest is awaited ([`Decryptor::hash_outside`]).
    pub fn awaiting_digest(&self) -> bool {
        self.state == State::Digest
    }

    /// Checks the footer's signature against `digest`, the hash of every byte
    /// [`Decryptor::take_hash_input`] gave (all of them taken), and then releases the
    /// plaintext held for it to `out`. A signature that does not verify fails the decryptor,
    /// with nothing more released.
    pub fn supply_digest(&mut self, digest: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let before = out.len();
        let r = self.supply_digest_inner(digest, out);
        self.released += (out.len() - before) as u64;
        if r.is_err() {
            self.fail();
        }
        r
    }

    fn supply_digest_inner(&mut self, digest: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let misuse = Error::Misuse("no digest awaited, or bytes to hash not taken");
        let sig = match (self.state, self.signature.take()) {
            (State::Digest, Some(sig)) => sig,
            _ => return Err(misuse),
        };
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        let (verifier, hash) = body
            .verify
            .take()
            .ok_or(Error::Misuse("no signature state"))?;
        let expected = self
            .header
            .as_ref()
            .and_then(|h| h.suite.signature())
            .map(|a| a.digest_len());
        if !hash.is_taken() || expected != Some(digest.len()) {
            return Err(misuse);
        }
        verifier.verify(digest, &sig)?;
        out.extend_from_slice(&body.held);
        body.held.clear();
        self.state = State::Done;
        Ok(())
    }

    /// The data key comes from outside: once the header was read and passed the limits, the
    /// decryptor stops ([`Decryptor::awaiting_key`]) until [`Decryptor::supply_key`] gives
    /// it a key (an asynchronous private-key operation, such as WebCrypto's RSA-OAEP), or
    /// asks it to use the keyring after all.
    pub fn unwrap_outside(mut self) -> Self {
        self.key_outside = true;
        self
    }

    /// The header whose data key is awaited, between the header and
    /// [`Decryptor::supply_key`] (see [`Decryptor::unwrap_outside`]).
    pub fn awaiting_key(&self) -> Option<KeyRequest<'_>> {
        let p = self.pending.as_ref().filter(|_| self.state == State::Key)?;
        Some(KeyRequest {
            header: &p.header,
            max_attempts: self.config.max_key_attempts,
        })
    }

    /// Goes on after [`Decryptor::awaiting_key`]: with `Some(key)`, the data key unwrapped
    /// outside; with `None` (nothing outside unwrapped it, or nothing outside could try),
    /// the keyring unwraps it. Either way the key is checked against the header (key
    /// commitment, then the header tag) exactly as a keyring's key is, and a key that fails
    /// fails the decryptor. Then feed the rest of the input (bytes [`Decryptor::update`]
    /// kept while it waited are used at the next call, which may be empty).
    pub fn supply_key(&mut self, key: Option<crate::keyring::DataKey>) -> Result<(), Error> {
        let pending = match (self.state, self.pending.take()) {
            (State::Key, Some(p)) => p,
            _ => {
                self.fail();
                return Err(Error::Misuse("no data key was awaited"));
            }
        };
        let r = self.accept_header(pending.header, &pending.bytes, pending.body_len, key);
        if r.is_err() {
            self.fail();
        }
        r
    }

    /// The header, once it has been authenticated.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Plaintext bytes released so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Whether the whole message (footer included) has been read and verified.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes the decryptor needs before it can make progress (0 once done).
    pub fn needed(&self) -> usize {
        match self.state {
            State::Done | State::Failed => 0,
            _ if self.buf.is_empty() => 1,
            _ => self.need.saturating_sub(self.buf.len()).max(1),
        }
    }

    /// Consumes all of `input`, appending released plaintext to `out`. After an error the
    /// decryptor refuses further input.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.usable()?;
        let before = out.len();
        let r = self.update_inner(input, out, None).map(|used| {
            // Waiting for the data key: the rest waits too.
            self.buf.extend_from_slice(&input[used..]);
        });
        self.released += (out.len() - before) as u64;
        if r.is_err() {
            self.fail();
        }
        r
    }

    fn fail(&mut self) {
        self.state = State::Failed;
        self.body = None;
        self.pending = None;
        self.signature = None;
        self.buf.clear();
        self.deferred = None;
    }

    /// Fails (for good) once the decryptor failed, or while a deferred run waits for
    /// [`Decryptor::complete`].
    fn usable(&mut self) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Misuse("the decryptor already failed"));
        }
        if self.deferred.is_some() {
            self.fail();
            return Err(Error::Misuse(
                "a deferred run was not completed before the next call",
            ));
        }
        Ok(())
    }

    /// The derived frame key (AES-GCM, 16, 24 or 32 bytes) of the message's body, once the
    /// header has been authenticated (`None` before, and after a failure): for an outside
    /// AES-GCM that opens what [`Decryptor::update_deferred`] hands out. Keep it like the
    /// plaintext, and drop (zero) it once imported.
    pub fn frame_key(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.body.as_ref().map(|b| b.key_bytes.clone())
    }

    /// Like [`Decryptor::update`], except that a run of at least two complete regular
    /// frames found whole in `input` (at most [`Deferred::new`]'s `max_frames`) is not
    /// opened here but copied into `deferred` for an outside AES-GCM to open, and the call
    /// stops right after it: it returns how many bytes of `input` it used (all of them when
    /// it handed out no run, i.e. when `deferred.count()` is 0). The run's bytes are hashed
    /// for the signature as they are handed out. The header, frames that arrive in pieces,
    /// the final frame, a non-framed body and the footer take the normal path, with core's
    /// own key.
    ///
    /// After a run was handed out, [`Decryptor::complete`] must come before any other call;
    /// then feed the rest of `input`. Every other call fails until then, and the decryptor
    /// with it.
    pub fn update_deferred(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        deferred: &mut Deferred,
    ) -> Result<usize, Error> {
        self.usable()?;
        deferred.clear();
        let before = out.len();
        let r = self.update_inner(input, out, Some(deferred));
        self.released += (out.len() - before) as u64;
        if r.is_err() {
            self.fail();
            deferred.clear();
        }
        r
    }

    /// Hashes, for the signature, the bytes that wait. The deferred path lets the hash wait
    /// (up to [`crypto::MAX_HASH_BACKLOG`] bytes, in order) so that a caller without threads
    /// can hash a run while the outside AES-GCM opens it: call this after handing the run to
    /// it and before waiting for the outcome. Never needed for correctness: the footer is
    /// checked against everything hashed, waiting bytes included.
    pub fn catch_up_hash(&mut self) {
        if let Some((_, h)) = self.body.as_mut().and_then(|b| b.verify.as_mut()) {
            h.catch_up();
        }
    }

    /// Takes back the run of `deferred` with what the outside AES-GCM made of it, and
    /// releases plaintext to `out` by the same rules as runs opened here: the frame held
    /// before the run goes out, then the run's plaintext, except for signed messages its
    /// last frame, held until a later frame authenticates or the signature verifies. When
    /// frame `index` failed, the plaintext of the frames before it goes out and the call
    /// fails with [`Error::FrameAuthentication`] (for good, as every failure).
    ///
    /// The outcome is trusted: the caller must have opened each frame with
    /// [`Decryptor::frame_key`], its IV and its AAD, and report a frame as opened only if
    /// its tag verified. An outcome whose lengths do not fit the run is refused
    /// ([`Error::Misuse`]) before anything is released.
    pub fn complete(
        &mut self,
        deferred: &mut Deferred,
        opened: Opened<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Misuse("the decryptor already failed"));
        }
        let before = out.len();
        let r = self.complete_inner(deferred, opened, out);
        self.released += (out.len() - before) as u64;
        self.deferred = None;
        deferred.clear();
        if r.is_err() {
            self.fail();
        }
        r
    }

    /// Completes the run of `deferred` with core's own AES-GCM, for a caller whose outside
    /// AES-GCM cannot take this message's key (e.g. a browser without AES-192): the same
    /// outcome and release as [`Decryptor::complete`] with frames opened here.
    pub fn open_deferred(
        &mut self,
        deferred: &mut Deferred,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Some(body) = self.body.as_ref() else {
            return self.complete(deferred, Opened::All(&[]), out);
        };
        let (n, f) = (deferred.count, deferred.frame_len);
        let mut plain = Zeroizing::new(alloc::vec![0u8; n * f]);
        let failed = deferred
            .frames
            .chunks_exact(f + body::FRAME_OVERHEAD)
            .take(n)
            .enumerate()
            .find_map(|(i, fr)| {
                let seq = deferred.first_seq + i as u32;
                let o = &mut plain[i * f..(i + 1) * f];
                open_one(&body.key, &deferred.message_id, seq, fr, o)
                    .is_err()
                    .then_some(i)
            });
        let opened = match failed {
            None => Opened::All(&plain),
            Some(index) => Opened::FailedAt {
                index,
                before: &plain[..index * f],
            },
        };
        self.complete(deferred, opened, out)
    }

    fn complete_inner(
        &mut self,
        deferred: &Deferred,
        opened: Opened<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let (first, n, f) = (deferred.first_seq, deferred.count, deferred.frame_len);
        if n == 0 || self.deferred != Some((first, n)) {
            return Err(Error::Misuse("completion of a run that was not handed out"));
        }
        let fits = match opened {
            Opened::All(p) => p.len() == n * f,
            Opened::FailedAt { index, before } => index < n && before.len() == index * f,
        };
        if !fits {
            return Err(Error::Misuse("the opened plaintext does not fit the run"));
        }
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        // As in `open_frames`: the frame held so far goes out before the run.
        out.extend_from_slice(&body.held);
        body.held.clear();
        match opened {
            Opened::All(p) => {
                let keep = if body.verify.is_some() { f } else { 0 };
                let (free, held) = p.split_at(p.len() - keep);
                out.extend_from_slice(free);
                body.held.extend_from_slice(held);
                body.next_seq = first + n as u32;
                Ok(())
            }
            Opened::FailedAt { index, before } => {
                out.extend_from_slice(before);
                Err(Error::FrameAuthentication {
                    sequence: first + index as u32,
                })
            }
        }
    }

    /// Ends the input: fails with [`Error::Truncated`] unless the whole message was read.
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.deferred.is_some() {
            self.fail();
            return Err(Error::Misuse(
                "a deferred run was not completed before the end",
            ));
        }
        match self.state {
            State::Done => Ok(()),
            State::Failed => Err(Error::Misuse("the decryptor already failed")),
            State::Key | State::Digest => {
                self.fail();
                Err(Error::Misuse(
                    "the message ended while its data key or digest was awaited",
                ))
            }
            _ => {
                self.state = State::Failed;
                self.body = None;
                Err(Error::Truncated)
            }
        }
    }

    /// Consumes `all` (or, handing out a run to `deferred`, up to the run's end); returns
    /// the bytes used.
    fn update_inner(
        &mut self,
        all: &[u8],
        out: &mut Vec<u8>,
        mut deferred: Option<&mut Deferred>,
    ) -> Result<usize, Error> {
        let mut input = all;
        loop {
            if self.state == State::Key {
                return Ok(all.len() - input.len());
            }
            if self.buf.is_empty() {
                if input.is_empty() {
                    return Ok(all.len());
                }
                if self.state == State::Frames {
                    if let Some(d) = deferred.as_deref_mut() {
                        let n = self.hand_out(input, d)?;
                        if n > 0 {
                            return Ok(all.len() - input.len() + n);
                        }
                    } else {
                        let n = self.open_frames(input, out)?;
                        if n > 0 {
                            input = &input[n..];
                            continue;
                        }
                    }
                }
                match self.step(input, out)? {
                    Step::Consumed(n) => input = &input[n..],
                    Step::Need(total) => {
                        self.buf.extend_from_slice(input);
                        self.need = total;
                        return Ok(all.len());
                    }
                }
            } else {
                let take = self.need.saturating_sub(self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buf.len() < self.need {
                    return Ok(all.len());
                }
                let data = core::mem::take(&mut self.buf);
                match self.step(&data, out)? {
                    Step::Consumed(n) => {
                        self.buf = data;
                        self.buf.drain(..n);
                    }
                    Step::Need(total) => {
                        self.buf = data;
                        self.need = total;
                    }
                }
            }
        }
    }

    fn step(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Step, Error> {
        match self.state {
            State::Header => self.step_header(data),
            State::Key => Err(Error::Misuse("the data key is awaited")),
            // Nothing follows the footer.
            State::Digest => Err(Error::TrailingData),
            State::Frames => self.step_frame(data, out),
            State::NonFramed => self.step_non_framed(data, out),
            State::Footer => self.step_footer(data, out),
            State::Done => Err(Error::TrailingData),
            State::Failed => Err(Error::Misuse("the decryptor already failed")),
        }
    }

    fn step_header(&mut self, data: &[u8]) -> Result<Step, Error> {
        let rules = ParseRules {
            policy: self.config.commitment_policy,
            max_encrypted_data_keys: self.config.max_encrypted_data_keys,
            refuse_signed: self.config.refuse_signed,
            max_header_size: self.config.max_header_size,
        };
        // Find the header's end first, walking each field once; then parse it once, whole.
        let total = need!(self.scan.advance(data, &rules)?);
        let (header, body_len) = Header::parse_body(&data[..total], &rules)?
            .map_err(|_| Error::Misuse("the header scan and parse disagree"))?;
        if body_len + header.auth_len() != total {
            return Err(Error::Misuse("the header scan and parse disagree"));
        }
        // The body limits are checked before the keyring spends any private-key operation.
        let (limit, max) = match header.content_type {
            ContentType::Framed => (Limit::FrameLength, self.config.max_frame_length),
            // The non-framed length is read at the start of the body.
            ContentType::NonFramed => (Limit::NonFramedSize, None),
        };
        if let Some(max) = max
            && u64::from(header.frame_length) > max
        {
            return Err(Error::LimitExceeded {
                limit,
                found: u64::from(header.frame_length),
                max,
            });
        }
        if self.key_outside {
            // Refuse what needs no key first: a mismatched context, a bad public key.
            self.prepare(&header)?;
            self.pending = Some(Pending {
                header,
                bytes: data[..total].to_vec(),
                body_len,
            });
            self.state = State::Key;
            self.need = 0;
            return Ok(Step::Consumed(total));
        }
        self.accept_header(header, &data[..total], body_len, None)?;
        Ok(Step::Consumed(total))
    }

    /// Opens the header (`bytes`: header body ‖ tag) with `key`, or with the keyring's key
    /// when `None`, and goes on to the body.
    fn accept_header(
        &mut self,
        header: Header,
        bytes: &[u8],
        body_len: usize,
        key: Option<crate::keyring::DataKey>,
    ) -> Result<(), Error> {
        let body = self.open_header(&header, &bytes[..body_len], &bytes[body_len..], key)?;
        self.state = match header.content_type {
            ContentType::Framed => State::Frames,
            ContentType::NonFramed => State::NonFramed,
        };
        self.body = Some(body);
        if let Some((_, h)) = &mut self.body.as_mut().and_then(|b| b.verify.as_mut()) {
            h.update(bytes);
        }
        self.header = Some(header);
        Ok(())
    }

    /// What the header's checks need before any key: the signature verifier (signed suites),
    /// the required pairs (expected, not stored) and the whole context.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        header: &Header,
    ) -> Result<
        (
            Option<(Verifier, MessageHash)>,
            EncryptionContext,
            EncryptionContext,
        ),
        Error,
    > {
        let suite = header.suite;
        let stored = &header.encryption_context;
        let verify = match (suite.signature(), stored.get(PUBLIC_KEY_FIELD)) {
            (Some(alg), Some(pk)) => Some((
                Verifier::from_context_value(alg, pk)?,
                if self.hash_outside {
                    MessageHash::outside()
                } else {
                    MessageHash::new(self.config.provider, alg)
                },
            )),
            (Some(_), None) => {
                return Err(Error::PublicKeyMismatch(
                    "signed suite without aws-crypto-public-key in the context",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::PublicKeyMismatch(
                    "unsigned suite with aws-crypto-public-key in the context",
                ));
            }
            (None, None) => None,
        };
        let mut required = EncryptionContext::new();
        for (k, v) in &self.config.encryption_context {
            match stored.get(k) {
                Some(s) if s == v => {}
                Some(_) => {
                    return Err(Error::EncryptionContext(format!(
                        "the message's value for \"{}\" differs from the one expected",
                        printable(k, MAX_SHOWN_CHARS)
                    )));
                }
                None => {
                    required.insert(k.clone(), v.clone());
                }
            }
        }
        let mut full = stored.clone();
        full.extend(required.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok((verify, required, full))
    }

    /// Gets the data key (`key`, else the keyring's), checks the commitment and the header
    /// tag (in that order).
    fn open_header(
        &self,
        header: &Header,
        body_bytes: &[u8],
        auth: &[u8],
        key: Option<crate::keyring::DataKey>,
    ) -> Result<Body, Error> {
        let suite = header.suite;
        let (verify, required, full) = self.prepare(header)?;
        let data_key = match key {
            Some(k) => k,
            None => {
                let mut materials = DecryptionMaterials::new(suite, full)
                    .with_provider(self.config.provider)
                    .with_attempt_limit(self.config.max_key_attempts);
                self.keyring
                    .on_decrypt(&mut materials, &header.encrypted_data_keys)?;
                materials.data_key.ok_or(Error::Misuse(
                    "the keyring reported success without a data key",
                ))?
            }
        };
        let keys = crypto::derive_keys(
            self.config.provider,
            suite,
            data_key.as_bytes(),
            &header.message_id,
        )?;
        if let (Some(expected), Some(derived)) = (&header.commitment, &keys.commitment)
            && !bool::from(expected.ct_eq(&derived[..]))
        {
            return Err(Error::CommitmentMismatch);
        }
        let key = GcmKey::new(self.config.provider, &keys.key)?;
        let key_bytes = keys.key;
        let (iv, tag) = match header.version() {
            1 => {
                let mut iv = [0u8; IV_LEN];
                iv.copy_from_slice(&auth[..IV_LEN]);
                (iv, &auth[IV_LEN..])
            }
            _ => ([0u8; IV_LEN], auth),
        };
        let mut aad = body_bytes.to_vec();
        aad.extend_from_slice(&context::serialize(&required)?);
        if key.open_in_place(&iv, &aad, &mut [], tag).is_err() {
            if let Some(k) = required.keys().next() {
                return Err(Error::EncryptionContext(format!(
                    "header authentication failed; the message does not store \"{}\", so it must have been written with it as a required key (or the header was altered)",
                    printable(k, MAX_SHOWN_CHARS)
                )));
            }
            return Err(Error::HeaderAuthentication);
        }
        Ok(Body {
            key,
            key_bytes,
            next_seq: 1,
            verify,
            held: Zeroizing::new(Vec::new()),
        })
    }

    fn step_frame(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Step, Error> {
        let header = self.header.as_ref().ok_or(Error::Misuse("no header"))?;
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        let frame_len = header.frame_length;
        let mut r = Reader::new(data);
        let first = need!(r.u32());
        let is_final = first == FINAL_MARKER;
        let seq = if is_final { need!(r.u32()) } else { first };
        if seq != body.next_seq {
            return Err(Error::MalformedBody(format!(
                "frame sequence number {seq} where {} was expected",
                body.next_seq
            )));
        }
        let iv: [u8; IV_LEN] = need!(r.array());
        let len = if is_final {
            let len = need!(r.u32());
            if len > frame_len {
                return Err(Error::MalformedBody(format!(
                    "final frame of {len} bytes is longer than the frame length {frame_len}"
                )));
            }
            len
        } else {
            frame_len
        };
        let len_usize = usize::try_from(len).map_err(|_| Error::LimitExceeded {
            limit: Limit::FrameLength,
            found: u64::from(len),
            max: usize::MAX as u64,
        })?;
        let ct = need!(r.take(len_usize));
        let tag = need!(r.take(TAG_LEN));
        let used = r.position();

        let part = if is_final {
            Part::FinalFrame
        } else {
            Part::Frame
        };
        body::body_aad(&mut self.aad, &header.message_id, part, seq, u64::from(len));
        // Signed: into `held`, after what it already holds.
        let hold = body.verify.is_some();
        let dst: &mut Vec<u8> = if hold { &mut body.held } else { out };
        let start = dst.len();
        dst.extend_from_slice(ct);
        if body
            .key
            .open_in_place(&iv, &self.aad, &mut dst[start..], tag)
            .is_err()
        {
            dst.truncate(start);
            return Err(Error::FrameAuthentication { sequence: seq });
        }
        // A regular frame authenticated: the frame held before it is released.
        if hold && !is_final && start > 0 {
            out.extend_from_slice(&body.held[..start]);
            body.held.drain(..start);
        }
        if let Some((_, h)) = &mut body.verify {
            h.update(&data[..used]);
        }
        if is_final {
            self.state = if body.verify.is_some() {
                State::Footer
            } else {
                State::Done
            };
        } else {
            body.next_seq = seq
                .checked_add(1)
                .filter(|s| *s != FINAL_MARKER)
                .ok_or_else(|| Error::MalformedBody("more than 2^32 − 1 frames".into()))?;
        }
        Ok(Step::Consumed(used))
    }

    /// Opens a run of complete regular frames at the start of `data` at once (on every core
    /// with the `parallel` feature); returns the bytes used, 0 when fewer than two frames are
    /// there (the one-frame path then takes over, and reports any error in detail).
    fn open_frames(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let Some((f, n)) = self.run_at(data, usize::MAX) else {
            return Ok(0);
        };
        let (Some(header), Some(body)) = (self.header.as_ref(), self.body.as_mut()) else {
            return Ok(0);
        };
        let per = f + body::FRAME_OVERHEAD;
        let first = body.next_seq;
        let expect = first + n as u32;
        let frames = &data[..n * per];
        // Signed: the frame held so far goes out before the run (the run's frames carry
        // plaintext, so a failure among them still keeps some back); the run's last frame is
        // held instead.
        out.extend_from_slice(&body.held);
        body.held.clear();
        let start = out.len();
        out.resize(start + n * f, 0);
        let hash = body.verify.as_mut().map(|(_, h)| h);
        let failed = open_many(
            &body.key,
            &header.message_id,
            first,
            f,
            frames,
            &mut out[start..],
            hash,
        );
        if let Some(i) = failed {
            out.truncate(start + i * f);
            return Err(Error::FrameAuthentication {
                sequence: first + i as u32,
            });
        }
        if body.verify.is_some() {
            let last = out.len() - f;
            body.held.extend_from_slice(&out[last..]);
            zeroize::Zeroize::zeroize(&mut out[last..]);
            out.truncate(last);
        }
        body.next_seq = expect;
        Ok(n * per)
    }

    /// The frame length and the number of consecutive complete regular frames (at most
    /// `max`, at least 2) at the start of `data`, with the expected sequence numbers.
    fn run_at(&self, data: &[u8], max: usize) -> Option<(usize, usize)> {
        let (Some(header), Some(body)) = (self.header.as_ref(), self.body.as_ref()) else {
            return None;
        };
        let f = usize::try_from(header.frame_length).ok()?;
        let per = f + body::FRAME_OVERHEAD;
        let mut n = 0usize;
        let mut expect = body.next_seq;
        while n < max && (n + 1) * per <= data.len() {
            let at = n * per;
            let seq = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            if seq != expect || seq == FINAL_MARKER || seq == FINAL_MARKER - 1 {
                break;
            }
            expect += 1;
            n += 1;
        }
        (n >= 2).then_some((f, n))
    }

    /// Copies a run of complete regular frames at the start of `data` into `deferred`
    /// instead of opening it (see [`Decryptor::update_deferred`]); returns the bytes used,
    /// 0 when there is no run of two frames or more.
    fn hand_out(&mut self, data: &[u8], deferred: &mut Deferred) -> Result<usize, Error> {
        let Some((f, n)) = self.run_at(data, deferred.max_frames) else {
            return Ok(0);
        };
        let header = self.header.as_ref().ok_or(Error::Misuse("no header"))?;
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        let used = n * (f + body::FRAME_OVERHEAD);
        let frames = &data[..used];
        if let Some((_, h)) = &mut body.verify {
            h.defer();
            h.update(frames);
        }
        deferred.first_seq = body.next_seq;
        deferred.count = n;
        deferred.frame_len = f;
        deferred.message_id.clear();
        deferred.message_id.extend_from_slice(&header.message_id);
        deferred.frames.extend_from_slice(frames);
        self.deferred = Some((body.next_seq, n));
        Ok(used)
    }

    fn step_non_framed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Step, Error> {
        let header = self.header.as_ref().ok_or(Error::Misuse("no header"))?;
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        let mut r = Reader::new(data);
        let iv: [u8; IV_LEN] = need!(r.array());
        let len = need!(r.u64());
        if len > MAX_NON_FRAMED {
            return Err(Error::MalformedBody(format!(
                "non-framed content of {len} bytes exceeds 2^36 − 32"
            )));
        }
        let max = self
            .config
            .max_non_framed_size
            .unwrap_or(u64::MAX)
            .min(usize::MAX as u64);
        if len > max {
            return Err(Error::LimitExceeded {
                limit: Limit::NonFramedSize,
                found: len,
                max,
            });
        }
        let len_usize = usize::try_from(len).map_err(|_| Error::Misuse("length checked above"))?;
        let ct = need!(r.take(len_usize));
        let tag = need!(r.take(TAG_LEN));
        let used = r.position();
        body::body_aad(&mut self.aad, &header.message_id, Part::SingleBlock, 1, len);
        let hold = body.verify.is_some();
        let dst: &mut Vec<u8> = if hold { &mut body.held } else { out };
        let start = dst.len();
        dst.extend_from_slice(ct);
        if body
            .key
            .open_in_place(&iv, &self.aad, &mut dst[start..], tag)
            .is_err()
        {
            dst.truncate(start);
            return Err(Error::BodyAuthentication);
        }
        if let Some((_, h)) = &mut body.verify {
            h.update(&data[..used]);
        }
        self.state = if hold { State::Footer } else { State::Done };
        Ok(Step::Consumed(used))
    }

    fn step_footer(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Step, Error> {
        let body = self.body.as_mut().ok_or(Error::Misuse("no body"))?;
        let mut r = Reader::new(data);
        let sig = need!(r.u16_prefixed());
        let used = r.position();
        if self.hash_outside {
            self.signature = Some(sig.to_vec());
            self.state = State::Digest;
            return Ok(Step::Consumed(used));
        }
        let (verifier, hash) = body
            .verify
            .take()
            .ok_or(Error::Misuse("no signature state"))?;
        verifier.verify(&hash.finish(), sig)?;
        out.extend_from_slice(&body.held);
        body.held.clear();
        self.state = State::Done;
        Ok(Step::Consumed(used))
    }
}

/// A run of complete regular frames that [`Decryptor::update_deferred`] handed out for an
/// outside AES-GCM to open, as they are in the message (sequence number ‖ IV ‖ ciphertext ‖
/// tag each). Reused from run to run.
///
/// Frame `i` (0-based) has sequence number `first_seq() + i`; it opens with
/// [`Deferred::iv`]`(i)` and [`Deferred::aad`]`(i)`; its ciphertext ‖ tag is
/// [`Deferred::sealed`]`(i)`, i.e. `frames()[sealed_range(i)]`.
#[derive(Debug)]
pub struct Deferred {
    max_frames: usize,
    first_seq: u32,
    count: usize,
    frame_len: usize,
    message_id: Vec<u8>,
    frames: Vec<u8>,
}

impl Deferred {
    /// Runs of at most `max_frames` frames (at least 2).
    pub fn new(max_frames: usize) -> Self {
        Self {
            max_frames: max_frames.max(2),
            first_seq: 0,
            count: 0,
            frame_len: 0,
            message_id: Vec::new(),
            frames: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.count = 0;
        self.frames.clear();
    }

    /// How many frames the run has (0 when none was handed out).
    pub fn count(&self) -> usize {
        self.count
    }
    /// The first frame's sequence number.
    pub fn first_seq(&self) -> u32 {
        self.first_seq
    }
    /// Plaintext bytes per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }
    /// The run's bytes, as in the message.
    pub fn frames(&self) -> &[u8] {
        &self.frames
    }
    /// Where frame `i`'s ciphertext ‖ tag is in [`Deferred::frames`]. (Like the other
    /// per-frame getters, panics if `i ≥ count()`.)
    pub fn sealed_range(&self, i: usize) -> core::ops::Range<usize> {
        assert!(i < self.count, "frame {i} of {} handed out", self.count);
        let start = i * (self.frame_len + body::FRAME_OVERHEAD) + 4 + IV_LEN;
        start..start + self.frame_len + TAG_LEN
    }
    /// Frame `i`'s ciphertext ‖ tag.
    pub fn sealed(&self, i: usize) -> &[u8] {
        &self.frames[self.sealed_range(i)]
    }
    /// Frame `i`'s IV, as the message stores it.
    pub fn iv(&self, i: usize) -> [u8; IV_LEN] {
        let at = self.sealed_range(i).start - IV_LEN;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&self.frames[at..at + IV_LEN]);
        iv
    }
    /// Frame `i`'s AAD.
    pub fn aad(&self, i: usize) -> FrameAad {
        assert!(i < self.count, "frame {i} of {} handed out", self.count);
        FrameAad::new(
            &self.message_id,
            Part::Frame,
            self.first_seq + i as u32,
            self.frame_len as u64,
        )
    }
}

/// What an outside AES-GCM made of a [`Deferred`] run (for [`Decryptor::complete`]).
#[derive(Clone, Copy, Debug)]
pub enum Opened<'a> {
    /// Every frame's tag verified: their plaintexts in order, frame length bytes each.
    All(&'a [u8]),
    /// Frame `index` (0-based in the run) did not verify, and is the first that did not:
    /// `before` holds the plaintexts of the frames before it, frame length bytes each.
    FailedAt {
        /// The first frame that failed.
        index: usize,
        /// The plaintexts of frames `0..index`.
        before: &'a [u8],
    },
}
