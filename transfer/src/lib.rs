//! One transfer engine for the `cse` tool and the page.
//!
//! - [`plan`]: part sizes from `Encryptor::message_len`, download ranges.
//! - [`upload`]: read, encrypt, cut into parts, a bounded number in flight; complete, or abort
//!   on any failure or cancel (no object and no parts left).
//! - [`download`]: ranged GETs pinned to the ETag (`If-Match`) into the streaming decryptor;
//!   the first range alone until the header passed the limits; no further range once the
//!   decryptor refused; plaintext to a [`Sink`] committed only after the message verified.
//! - [`inspect`]: what a message's header and size tell, without a key: ranged reads of the
//!   header (and of a signed message's footer), never the body.
//! - [`many`]: many objects at once under one [`Budget`] shared by objects and parts; the
//!   first failure stops new work; a [`Summary`] of what was and was not copied.
//! - [`Defaults`] and [`ErrorClass`]: one set of defaults, one classification of errors into
//!   what the user should do.
//!
//! Runtime-agnostic: the drivers are futures polled by whoever runs them (tokio natively,
//! the browser's event loop in the page). What differs is behind small traits: [`Exec`]
//! (where CPU work runs), [`Source`], [`Sink`], [`Progress`]; cancellation is a [`Cancel`]
//! flag the front end sets (Ctrl-C/SIGTERM, or an `AbortSignal`).
#![forbid(unsafe_code)]

mod budget;
mod defaults;
pub mod download;
mod error;
pub mod inspect;
pub mod many;
pub mod plan;
pub mod upload;

pub use budget::{Budget, Cancel, Permit, Watch};
pub use defaults::{DEFAULTS, Defaults, Settings};
pub use download::{Downloaded, Known, Sink, decrypt_in_memory, download};
pub use error::{Error, ErrorClass};
pub use many::{ObjectError, Summary, list, run_all};
pub use upload::{
    Earlier, Journal, Resumable, Source, Uploaded, encrypt_in_memory, upload, upload_resumable,
};

use std::future::Future;

use futures_util::future::LocalBoxFuture;

use cse_s3::Client;

/// Where CPU-heavy steps (encrypting a part, decrypting a range, hashing a payload) run:
/// natively on a worker thread, so objects decrypt on every core; in the page, inline.
pub trait Exec {
    /// Runs `f` and gives its result.
    fn run<R, F>(&self, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static;

    /// AES-GCM of whole frames outside core, if this front end has a faster one (the page:
    /// WebCrypto). `None` (the default): core seals and opens every frame itself.
    fn frames(&self) -> Option<&dyn FrameCipher> {
        None
    }

    /// The data key's private-key operation outside core, if this front end has a faster one
    /// for the key of this call (the page: RSA-OAEP in WebCrypto). Used with
    /// [`Exec::frames`] only. `None` (the default): the decryptor's keyring unwraps.
    fn keys(&self) -> Option<&dyn KeyUnwrap> {
        None
    }

    /// A signature hash computed outside core, with a digest of `digest_len` bytes, if this
    /// front end hashes faster elsewhere (the page: on a Worker of its own, beside the
    /// engine's thread). Used with [`Exec::frames`] only. `None` (the default): core hashes.
    fn hasher(&self, digest_len: usize) -> Option<Box<dyn MessageHasher>> {
        let _ = digest_len;
        None
    }
}

/// One message's signature hash outside core ([`cse_core::Encryptor::hash_outside`],
/// [`cse_core::Decryptor::hash_outside`]): fed, in order, every byte core hands out.
pub trait MessageHasher {
    /// Hashes `data` (a copy of it, if the hashing is elsewhere).
    fn update(&mut self, data: &[u8]);
    /// The digest of everything given.
    fn digest(self: Box<Self>) -> LocalBoxFuture<'static, Result<Vec<u8>, Error>>;
}

/// Unwraps a message's data key outside core ([`cse_core::Decryptor::unwrap_outside`]). The
/// key it gives is checked by core against the header (key commitment, header tag) as a
/// keyring's would be.
pub trait KeyUnwrap {
    /// The data key of the first of `request`'s candidates for this key that unwraps (in
    /// their order, within the attempt limit), or `None`: then the keyring tries, and
    /// reports what failed.
    fn unwrap<'a>(
        &'a self,
        request: cse_core::KeyRequest<'a>,
    ) -> LocalBoxFuture<'a, Option<cse_core::keyring::DataKey>>;
}

/// AES-GCM for the runs of whole frames that core lays out ([`cse_core::Encryptor::stage`])
/// or hands out ([`cse_core::Decryptor::update_deferred`]). Core keeps everything else: the
/// frame layout, IVs and AADs, the order, the signature hash and what plaintext is
/// released. The drivers call it inline (not through [`Exec::run`]).
pub trait FrameCipher {
    /// Imports one message's frame key (the caller's copy is zeroed when dropped); `None`
    /// when this cipher cannot take it (a browser without AES-192): core then seals or opens
    /// that message's frames itself.
    fn import(
        &self,
        raw: zeroize::Zeroizing<Vec<u8>>,
    ) -> LocalBoxFuture<'_, Result<Option<Box<dyn FrameKey>>, Error>>;
}

/// One message's frame key, imported by a [`FrameCipher`].
pub trait FrameKey {
    /// Seals every frame of `staged` in `out` (ciphertext ‖ tag over each frame's range);
    /// `meanwhile` runs once the frames are handed over, while they are sealed.
    fn seal<'a>(
        &'a self,
        staged: &'a cse_core::Staged,
        out: &'a mut [u8],
        meanwhile: &'a mut dyn FnMut(),
    ) -> LocalBoxFuture<'a, Result<(), Error>>;

    /// Opens every frame of `run`: the plaintext of the frames before the first that did not
    /// verify (all of them when all did) goes to `plain`, frame length bytes each, and that
    /// frame's index is returned. `meanwhile` runs while the frames are opened.
    fn open<'a>(
        &'a self,
        run: &'a cse_core::Deferred,
        plain: &'a mut zeroize::Zeroizing<Vec<u8>>,
        meanwhile: &'a mut dyn FnMut(),
    ) -> LocalBoxFuture<'a, Result<Option<usize>, Error>>;
}

/// Runs CPU work inline, where the future is polled (the page; tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl Exec for Inline {
    fn run<R, F>(&self, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        std::future::ready(f())
    }
}

/// Progress of transfers, in message bytes and objects.
pub trait Progress {
    /// `n` more message bytes were sent or received.
    fn bytes(&self, n: u64);
    /// An object of `size` message bytes (when known) started.
    fn started(&self, _label: &str, _size: Option<u64>) {}
    /// An object ended, copied or not.
    fn finished(&self, _label: &str, _ok: bool) {}
}

/// No progress shown.
impl Progress for () {
    fn bytes(&self, _n: u64) {}
}

impl<P: Progress + ?Sized> Progress for &P {
    fn bytes(&self, n: u64) {
        (**self).bytes(n);
    }
    fn started(&self, label: &str, size: Option<u64>) {
        (**self).started(label, size);
    }
    fn finished(&self, label: &str, ok: bool) {
        (**self).finished(label, ok);
    }
}

/// What every transfer of a command shares: the client, the settings, the budget of requests
/// in flight (objects and parts together), the cancel flag and where CPU work runs.
#[derive(Debug)]
pub struct Engine<E> {
    pub client: Client,
    pub settings: Settings,
    pub budget: Budget,
    pub cancel: Cancel,
    pub exec: E,
}

impl<E: Exec> Engine<E> {
    /// An engine whose budget is `settings.concurrency`.
    pub fn new(client: Client, settings: Settings, cancel: Cancel, exec: E) -> Self {
        Self {
            budget: Budget::new(settings.concurrency.max(1)),
            client,
            settings,
            cancel,
            exec,
        }
    }

    /// The hex SHA-256 of a payload when the client signs payloads (computed by [`Exec`]).
    async fn body(&self, data: bytes::Bytes) -> cse_s3::Body {
        if self.client.config().unsigned_payload {
            return cse_s3::Body { data, sha256: None };
        }
        let hashed = data.clone();
        let sha256 = self.exec.run(move || cse_s3::sha256_hex(&hashed)).await;
        cse_s3::Body {
            data,
            sha256: Some(sha256),
        }
    }
}
