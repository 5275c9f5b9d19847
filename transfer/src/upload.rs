//! The upload driver: read, encrypt, cut into parts, parts in flight within the budget;
//! complete, or abort on any failure or cancel.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use cse_core::{Encryptor, Header};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::{Engine, Error, Exec, Permit, Progress, plan};

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
    let header = enc.header().clone();
    let total = plaintext_len.map(|n| enc.message_len(n));
    let part_size = usize::try_from(plan::part_size(total.unwrap_or(0), eng.settings.part_size))
        .map_err(|_| Error::Internal("part size too large"))?;
    let threshold = usize::try_from(eng.settings.multipart_threshold.max(1)).unwrap_or(usize::MAX);
    // Sized for what is expected, so that a small file does not get a part-sized buffer.
    let first = total.map_or(part_size, |t| {
        usize::try_from(t)
            .unwrap_or(usize::MAX)
            .min(part_size.max(threshold))
    });
    let cap = part_size + READ_CHUNK + (64 << 10);
    let mut p = Producer {
        source,
        enc: Some(enc),
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
    let permit = cancellable(cancel, first).await?;
    if p.ended() && p.pending.len() <= threshold {
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

    let id = cancellable(cancel, async {
        Ok(eng
            .client
            .create_multipart_upload(bucket, key, None)
            .await?)
    })
    .await?;
    let mut in_flight = FuturesUnordered::new();
    let send = |n: u32, data: Bytes, permit: Permit| {
        let id = id.as_str();
        async move {
            let len = data.len() as u64;
            let body = eng.body(data).await;
            let r = eng.client.upload_part(bucket, key, id, n, body).await;
            drop(permit);
            r.map(|etag| (n, etag, len))
        }
    };
    let Some((n, data)) = p.cut(part_size) else {
        return Err(Error::Internal("a multipart upload without a part"));
    };
    in_flight.push(send(n, data, permit));
    let mut done: Vec<(u32, String)> = Vec::new();
    type Next<'a, S> = Pin<Box<dyn Future<Output = (Producer<S>, NextPart)> + 'a>>;
    type NextPart = Result<Option<(u32, Bytes, Permit)>, Error>;
    let mut next: Option<Next<'_, S>> = Some(Box::pin(produce(p, eng, part_size)));
    let mut back: Option<Producer<S>> = None;
    enum Event<P> {
        Cancelled,
        Sent(Result<(u32, String, u64), cse_s3::S3Error>),
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
            Event::Sent(Ok((n, etag, len))) => {
                progress.bytes(len);
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
    let outcome = match outcome {
        Ok(()) => {
            done.sort_by_key(|(n, _)| *n);
            eng.client
                .complete_multipart_upload(bucket, key, &id, &done)
                .await
                .map(|_| ())
                .map_err(Error::from)
        }
        Err(e) => {
            // Parts already sent finish first: a part stored after the abort would stay.
            while in_flight.next().await.is_some() {}
            Err(e)
        }
    };
    drop(in_flight);
    if let Err(error) = outcome {
        return Err(
            match eng.client.abort_multipart_upload(bucket, key, &id).await {
                Ok(()) => error,
                Err(abort) => Error::Unaborted {
                    error: Box::new(error),
                    upload_id: id,
                    abort,
                },
            },
        );
    }
    let p = back.ok_or(Error::Internal("the producer did not come back"))?;
    Ok(Uploaded {
        header,
        plaintext: p.plaintext,
        message: p.message,
        parts: done.len() as u32,
    })
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
