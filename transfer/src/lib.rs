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
pub use download::{Downloaded, Known, Sink, download};
pub use error::{Error, ErrorClass};
pub use many::{ObjectError, Summary, list, run_all};
pub use upload::{Earlier, Journal, Resumable, Source, Uploaded, upload, upload_resumable};

use std::future::Future;

use cse_s3::Client;

/// Where CPU-heavy steps (encrypting a part, decrypting a range, hashing a payload) run:
/// natively on a worker thread, so objects decrypt on every core; in the page, inline.
pub trait Exec {
    /// Runs `f` and gives its result.
    fn run<R, F>(&self, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static;
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
