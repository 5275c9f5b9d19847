//! The upload driver: read, encrypt, cut into parts, parts in flight within the budget;
//! complete, or abort on any failure or cancel.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use cse_core::{Encryptor, Header};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::{Engine, Error, Exec, FrameCipher, FrameKey, MessageHasher, Permit, Progress, plan};

/// Plaintext read at a time.
const READ_CHUNK: usize = 1 << 20;

/// Where plaintext comes from: a file, stdin, a browser `Blob`.
pub trait Source {
    /// Up to `max` more bytes; empty at the end.
    fn read(&mut self, max: usize) -> impl Future<Output = Result<Vec<u8>, Error>>;
}

/// What an upload did.
#[derive(Debug)]
pub struct Uploaded {
    pub header: Header,
    pub plaintext: u64,
    pub message: u64,
    /// Parts of the multipart upload; 0 for one PUT.
    pub parts: u32,
}

/// Reads and encrypts into `pending`.
struct Producer<S> {
    source: S,
    enc: Option<Encryptor>,
    /// The frame key in the [`crate::FrameCipher`] once imported (`Some(None)`: it could
    /// not take it, core seals the frames).
    frame_key: Option<Option<Box<dyn FrameKey>>>,
    /// The signature hash when it is outside core ([`crate::Exec::hasher`]).
    hash: Option<Box<dyn MessageHasher>>,
    pending: Vec<u8>,
    plaintext: u64,
    message: u64,
    next_part: u32,
    /// Capacity of a part's buffer: a part, one read and its frames' overhead, so a buffer
    /// is never grown (which would double it).
    cap: usize,
}

impl<S: Source> Producer<S> {
    fn ended(&self) -> bool {
        self.enc.is_none()
    }

    /// Reads and encrypts until `pending` holds more than `want` bytes or the message ended.
    async fn fill(&mut self, exec: &impl Exec, want: usize) -> Result<(), Error> {
        while self.pending.len() <= want {
            let Some(enc) = self.enc.take() else {
                return Ok(());
            };
            let plain = self.source.read(READ_CHUNK).await?;
            let pending = std::mem::take(&mut self.pending);
            let before = pending.len();
            let done = plain.is_empty();
            self.plaintext += plain.len() as u64;
            if done && let Some(hash) = self.hash.take() {
                let mut pending = pending;
                let r = finish_outside(enc, hash, &mut pending).await;
                self.message += (pending.len() - before) as u64;
                self.pending = pending;
                r?;
                continue;
            }
            if !done
                && let Some(frames) = exec.frames()
                && !matches!(self.frame_key, Some(None))
            {
                let (mut enc, mut pending) = (enc, pending);
                let r = seal_outside(
                    frames,
                    &mut self.frame_key,
                    self.hash.as_mut(),
                    &mut enc,
                    &plain,
                    &mut pending,
                )
                .await;
                self.message += (pending.len() - before) as u64;
                self.pending = pending;
                r?;
                self.enc = Some(enc);
                continue;
            }
            let (enc, pending, r) = exec
                .run(move || {
                    let mut pending = pending;
                    if done {
                        let r = enc.finish(&mut pending);
                        (None, pending, r)
                    } else {
                        let mut enc = enc;
                        let r = enc.update(&plain, &mut pending);
                        (Some(enc), pending, r)
                    }
                })
                .await;
            self.message += (pending.len() - before) as u64;
            self.pending = pending;
            r?;
            self.enc = enc;
            if let (Some(h), Some(enc)) = (self.hash.as_deref_mut(), self.enc.as_mut()) {
                enc.take_hash_input(|b| h.update(b));
            }
        }
        Ok(())
    }

    /// The next part of at most `size` bytes, or `None` after the last.
    fn cut(&mut self, size: usize) -> Option<(u32, Bytes)> {
        if self.pending.is_empty() {
            return None;
        }
        let n = self.pending.len().min(size);
        let mut next = Vec::with_capacity(self.cap);
        next.extend_from_slice(&self.pending[n..]);
        self.pending.truncate(n);
        let data = std::mem::replace(&mut self.pending, next);
        self.next_part += 1;
        Some((self.next_part, Bytes::from(data)))
    }
}

/// Encrypts `plain` onto `pending`, the whole frames sealed by `frames`: core lays them out,
/// the cipher seals them (while the frames committed before are hashed), core takes them
/// back. On failure the frames laid out, which still hold plaintext, are zeroed.
async fn seal_outside(
    frames: &dyn FrameCipher,
    key: &mut Option<Option<Box<dyn FrameKey>>>,
    mut hash: Option<&mut Box<dyn MessageHasher>>,
    enc: &mut Encryptor,
    plain: &[u8],
    pending: &mut Vec<u8>,
) -> Result<(), Error> {
    if key.is_none() {
        *key = Some(frames.import(enc.frame_key()).await?);
    }
    let Some(Some(key)) = key.as_ref() else {
        // The cipher cannot take this key: core seals.
        enc.update(plain, pending)?;
        if let Some(h) = hash {
            enc.take_hash_input(|b| h.update(b));
        }
        return Ok(());
    };
    let staged = enc.stage(plain, pending)?;
    let at = staged.offset();
    let sealed = key
        .seal(&staged, pending, &mut || match hash.as_mut() {
            Some(h) => enc.take_hash_input(|b| h.update(b)),
            None => enc.catch_up_hash(),
        })
        .await;
    if let Err(e) = sealed {
        zeroize::Zeroize::zeroize(&mut pending[at..]);
        return Err(e);
    }
    enc.commit(staged, pending)?;
    Ok(())
}

/// Frames sealed outside: the signature hash too, where the front end has a hasher (the
/// encryptor then hands out what to hash).
fn outside_hash(exec: &impl Exec, enc: &mut Encryptor) -> Option<Box<dyn MessageHasher>> {
    exec.frames()?;
    let alg = enc.header().suite.signature()?;
    exec.hasher(alg.digest_len())
        .filter(|_| matches!(enc.hash_outside(), Ok(true)))
}

/// Encrypts a whole buffer as an upload does: frames and signature hash outside core where
/// `exec` has them (runs of 64 frames), else in core. The message.
pub async fn encrypt_in_memory(
    exec: &impl Exec,
    enc: Encryptor,
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut enc = enc;
    let len = usize::try_from(enc.message_len(data.len() as u64)).unwrap_or(0);
    let mut out = Vec::with_capacity(len);
    let Some(frames) = exec.frames() else {
        enc.update(data, &mut out)?;
        enc.finish(&mut out)?;
        return Ok(out);
    };
    let mut hash = outside_hash(exec, &mut enc);
    let mut key = None;
    let run = 64 * enc.header().frame_length as usize;
    for chunk in data.chunks(run.max(1)) {
        seal_outside(frames, &mut key, hash.as_mut(), &mut enc, chunk, &mut out).await?;
    }
    match hash {
        Some(h) => finish_outside(enc, h, &mut out).await?,
        None => enc.finish(&mut out)?,
    }
    Ok(out)
}

/// Ends a message whose signature hash is outside: the final frame, its bytes to `hash`, the
/// digest, and the footer that signs it.
async fn finish_outside(
    mut enc: Encryptor,
    mut hash: Box<dyn MessageHasher>,
    pending: &mut Vec<u8>,
) -> Result<(), Error> {
    enc.finish_frames(pending)?;
    enc.take_hash_input(|b| hash.update(b));
    let digest = hash.digest().await?;
    Ok(enc.finish_with_digest(&digest, pending)?)
}

/// Takes a slot, then reads and encrypts the next part into it: at most as many parts exist
/// as the budget has slots.
async fn produce<S: Source, E: Exec>(
    mut p: Producer<S>,
    eng: &Engine<E>,
    part_size: usize,
) -> (Producer<S>, Result<Option<(u32, Bytes, Permit)>, Error>) {
    if p.ended() && p.pending.is_empty() {
        return (p, Ok(None));
    }
    let permit = eng.budget.acquire().await;
    let r = p.fill(&eng.exec, part_size.saturating_sub(1)).await;
    let r = r.map(|()| p.cut(part_size).map(|(n, data)| (n, data, permit)));
    (p, r)
}

/// Where a resumable upload writes down its progress, so that a later run can continue it.
/// Each call returns once the record is durable; a failure stops (and aborts) the upload.
pub trait Journal {
    /// The multipart upload was created with parts of `part_size` bytes.
    fn started(&self, upload_id: &str, part_size: u64) -> Result<(), Error>;
    /// Part `number` is stored with `etag`.
    fn stored(&self, number: u32, etag: &str) -> Result<(), Error>;
}

/// What an earlier run of a resumable upload stored.
#[derive(Clone, Debug)]
pub struct Earlier {
    pub upload_id: String,
    pub part_size: u64,
    /// Parts stored and still on the server: number → ETag and, when the server listed it,
    /// size (a part whose size differs from the one made again is sent again).
    pub stored: std::collections::BTreeMap<u32, (String, Option<u64>)>,
}

/// A resumable upload: always multipart, with its progress written to `journal`; when the
/// store cannot be reached (longer than the retries last) or after [`crate::Cancel::suspend`]
/// (SIGTERM, SIGHUP), its parts are kept and [`Error::Suspended`] is returned; any other
/// failure aborts it as without resume.
/// With `earlier`, the message is encrypted again from the start by an encryptor made with
/// `Encryptor::resume` (same bytes up to the signature) and only the parts not stored are
/// sent; the message hash covers the whole message again without reading anything back.
pub struct Resumable<'a> {
    pub journal: &'a dyn Journal,
    pub earlier: Option<Earlier>,
}

impl std::fmt::Debug for Resumable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumable")
            .field("earlier", &self.earlier)
            .finish_non_exhaustive()
    }
}

/// Encrypts `source` with `enc` and uploads it to `bucket/key`. `plaintext_len`, when known,
/// plans the part size (and whether one PUT does).
pub async fn upload<E: Exec, S: Source>(
    eng: &Engine<E>,
    bucket: &str,
    key: &str,
    enc: Encryptor,
    source: S,
    plaintext_len: Option<u64>,
    progress: &impl Progress,
) -> Result<Uploaded, Error> {
    upload_resumable(eng, bucket, key, enc, source, plaintext_len, progress, None).await
}

/// [`upload`], resumable when `resume` is given.
#[allow(
    clippy::too_many_arguments,
    reason = "the arguments of upload, and the resume hook"
)]
pub async fn upload_resumable<E: Exec, S: Source>(
    eng: &Engine<E>,
    bucket: &str,
    key: &str,
    enc: Encryptor,
    source: S,
    plaintext_len: Option<u64>,
    progress: &impl Progress,
    resume: Option<Resumable<'_>>,
) -> Result<Uploaded, Error> {
    let header = enc.header().clone();
    let total = plaintext_len.map(|n| enc.message_len(n));
    let earlier = resume.as_ref().and_then(|r| r.earlier.clone());
    let planned = match &earlier {
        Some(e) => e.part_size,
        None => plan::part_size(total.unwrap_or(0), eng.settings.part_size),
    };
    let part_size = usize::try_from(planned).map_err(|_| Error::Internal("part size too large"))?;
    let threshold = usize::try_from(eng.settings.multipart_threshold.max(1)).unwrap_or(usize::MAX);
    // Sized for what is expected, so that a small file does not get a part-sized buffer.
    let first = total.map_or(part_size, |t| {
        usize::try_from(t)
            .unwrap_or(usize::MAX)
            .min(part_size.max(threshold))
    });
    let cap = part_size + READ_CHUNK + (64 << 10);
    let mut enc = enc;
    let hash = outside_hash(&eng.exec, &mut enc);
    let mut p = Producer {
        source,
        enc: Some(enc),
        frame_key: None,
        hash,
        pending: Vec::with_capacity(first.saturating_add(if total.is_some() {
            64 << 10
        } else {
            READ_CHUNK
        })),
        cap,
        plaintext: 0,
        message: 0,
        next_part: 0,
    };
    let cancel = &eng.cancel;

    // The first slot, and enough of the message to tell one PUT from a multipart upload.
    let first = async {
        let permit = eng.budget.acquire().await;
        p.fill(&eng.exec, threshold).await.map(|()| permit)
    };
    let permit = match cancellable(cancel, first).await {
        Ok(permit) => permit,
        // A resumed upload exists already: kept or aborted like any later failure.
        Err(e) => {
            return Err(match &earlier {
                Some(ea) if keeps(&e, cancel) => Error::Suspended {
                    error: Box::new(e),
                    upload_id: ea.upload_id.clone(),
                    stored: ea.stored.len() as u32,
                },
                Some(ea) => abort_after(eng, bucket, key, ea.upload_id.clone(), e).await,
                None => e,
            });
        }
    };
    if resume.is_none() && p.ended() && p.pending.len() <= threshold {
        let data = Bytes::from(std::mem::take(&mut p.pending));
        let len = data.len() as u64;
        let put = async {
            let body = eng.body(data).await;
            eng.client.put_object(bucket, key, body, None).await
        };
        cancellable(cancel, async { put.await.map_err(Error::from) }).await?;
        drop(permit);
        progress.bytes(len);
        return Ok(Uploaded {
            header,
            plaintext: p.plaintext,
            message: p.message,
            parts: 0,
        });
    }

    let id = match &earlier {
        Some(e) => e.upload_id.clone(),
        None => {
            // Not cut short by a cancel: the server may already have created the upload
            // when the answer is dropped, and nothing would abort it. A cancel that came
            // meanwhile is seen by the loop below, which aborts (or keeps) it.
            let id = eng
                .client
                .create_multipart_upload(bucket, key, None)
                .await?;
            if let Some(r) = &resume
                && let Err(e) = r.journal.started(&id, planned)
            {
                return Err(abort_after(eng, bucket, key, id, e).await);
            }
            id
        }
    };
    let journal = resume.as_ref().map(|r| r.journal);
    let stored_before = earlier.map(|e| e.stored).unwrap_or_default();
    let mut in_flight = FuturesUnordered::new();
    // A part stored by an earlier run is not sent again (its bytes are the same).
    let send = |n: u32, data: Bytes, permit: Permit| {
        let id = id.as_str();
        let len = data.len() as u64;
        let kept = stored_before
            .get(&n)
            .filter(|(_, size)| size.is_none_or(|s| s == len))
            .map(|(etag, _)| etag.clone());
        async move {
            if let Some(etag) = kept {
                drop(permit);
                return Ok((n, etag, len, false));
            }
            let body = eng.body(data).await;
            let r = eng.client.upload_part(bucket, key, id, n, body).await;
            drop(permit);
            r.map(|etag| (n, etag, len, true))
        }
    };
    let Some((n, data)) = p.cut(part_size) else {
        return Err(Error::Internal("a multipart upload without a part"));
    };
    in_flight.push(send(n, data, permit));
    let mut done: Vec<(u32, String)> = Vec::new();
    // Whether a failure may keep the upload for a later run (not after the journal failed).
    let mut keepable = journal.is_some();
    type Next<'a, S> = Pin<Box<dyn Future<Output = (Producer<S>, NextPart)> + 'a>>;
    type NextPart = Result<Option<(u32, Bytes, Permit)>, Error>;
    let mut next: Option<Next<'_, S>> = Some(Box::pin(produce(p, eng, part_size)));
    let mut back: Option<Producer<S>> = None;
    enum Event<P> {
        Cancelled,
        Sent(Result<(u32, String, u64, bool), cse_s3::S3Error>),
        Produced(P),
    }
    let mut watch = cancel.watch();
    let outcome: Result<(), Error> = loop {
        if next.is_none() && in_flight.is_empty() {
            break Ok(());
        }
        let event = poll_fn(|cx| {
            if watch.poll_cancelled(cx).is_ready() {
                return Poll::Ready(Event::Cancelled);
            }
            if let Poll::Ready(Some(r)) = in_flight.poll_next_unpin(cx) {
                return Poll::Ready(Event::Sent(r));
            }
            if let Some(f) = next.as_mut()
                && let Poll::Ready(r) = f.as_mut().poll(cx)
            {
                return Poll::Ready(Event::Produced(r));
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Cancelled => break Err(Error::Cancelled),
            Event::Sent(Ok((n, etag, len, sent))) => {
                progress.bytes(len);
                if sent
                    && let Some(j) = journal
                    && let Err(e) = j.stored(n, &etag)
                {
                    keepable = false;
                    break Err(e);
                }
                done.push((n, etag));
            }
            Event::Sent(Err(e)) => break Err(e.into()),
            Event::Produced((p, Ok(Some((n, data, permit))))) => {
                in_flight.push(send(n, data, permit));
                next = Some(Box::pin(produce(p, eng, part_size)));
            }
            Event::Produced((p, Ok(None))) => {
                back = Some(p);
                next = None;
            }
            Event::Produced((p, Err(e))) => {
                back = Some(p);
                next = None;
                break Err(e);
            }
        }
    };
    drop(next);
    let keep = |e: &Error| keepable && keeps(e, cancel);
    let outcome = match outcome {
        Ok(()) => {
            done.sort_by_key(|(n, _)| *n);
            eng.client
                .complete_multipart_upload(bucket, key, &id, &done)
                .await
                .map(|_| ())
                .map_err(Error::from)
        }
        // Kept: parts still in flight are dropped (a later run sends them again).
        Err(e) if keep(&e) => Err(e),
        Err(e) => {
            // Parts already sent finish first: a part stored after the abort would stay.
            while in_flight.next().await.is_some() {}
            Err(e)
        }
    };
    drop(in_flight);
    if let Err(error) = outcome {
        if keep(&error) {
            return Err(Error::Suspended {
                error: Box::new(error),
                upload_id: id,
                stored: stored_before
                    .keys()
                    .chain(done.iter().map(|(n, _)| n))
                    .collect::<std::collections::BTreeSet<_>>()
                    .len() as u32,
            });
        }
        return Err(abort_after(eng, bucket, key, id, error).await);
    }
    let p = back.ok_or(Error::Internal("the producer did not come back"))?;
    Ok(Uploaded {
        header,
        plaintext: p.plaintext,
        message: p.message,
        parts: done.len() as u32,
    })
}

/// Whether a resumable upload keeps its parts after `e`: the store out of reach (longer than
/// the retries last) or a suspend; an answer from the store, a local failure or a refusal
/// aborts it as without resume.
fn keeps(e: &Error, cancel: &crate::Cancel) -> bool {
    match e {
        Error::Cancelled => cancel.keeps_work(),
        e => e.class() == crate::ErrorClass::Network,
    }
}

/// Aborts the multipart upload `id` after `error`; the error to report.
async fn abort_after<E: Exec>(
    eng: &Engine<E>,
    bucket: &str,
    key: &str,
    id: String,
    error: Error,
) -> Error {
    match eng.client.abort_multipart_upload(bucket, key, &id).await {
        Ok(()) => error,
        Err(abort) => Error::Unaborted {
            error: Box::new(error),
            upload_id: id,
            abort,
        },
    }
}

/// Runs `f` unless the cancel flag is set first.
pub(crate) async fn cancellable<T>(
    cancel: &crate::Cancel,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let mut f = std::pin::pin!(f);
    let mut watch = cancel.watch();
    poll_fn(|cx| {
        if watch.poll_cancelled(cx).is_ready() {
            return Poll::Ready(Err(Error::Cancelled));
        }
        f.as_mut().poll(cx)
    })
    .await
}
