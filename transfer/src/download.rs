//! The download driver: ranged GETs pinned to the object's ETag (`If-Match`) feed the
//! streaming decryptor in order; plaintext goes to a [`Sink`] committed only once the whole
//! message verified.
//!
//! The first range is fetched alone; the others only once the header was read and passed
//! the limits, so a hostile object costs one small request. Once the decryptor refused, no
//! further range is fetched. Each range holds a slot of the budget from its request until
//! the decryptor is done with it, so memory stays near the budget × the range size.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use cse_core::{Decryptor, Deferred, Header, Keyring, Opened};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;

use crate::upload::cancellable;
use crate::{Engine, Error, Exec, FrameCipher, FrameKey, MessageHasher, Permit, Progress, plan};

/// Bytes given to the decryptor at a time.
const PIECE: usize = 1 << 20;

/// Where verified plaintext goes. Whatever was written must be discarded unless `commit`
/// is called (the drivers call it only after the message verified).
pub trait Sink {
    /// Writes plaintext frames that authenticated.
    fn write(&mut self, data: &[u8]) -> impl Future<Output = Result<(), Error>>;
    /// Makes the output final (rename the temporary file; offer the download).
    fn commit(self) -> impl Future<Output = Result<(), Error>>;
}

/// What a download did.
#[derive(Debug)]
pub struct Downloaded {
    pub header: Header,
    pub plaintext: u64,
    pub message: u64,
}

/// What is known of an object before its download (from a listing): no HEAD needed.
#[derive(Clone, Debug)]
pub struct Known {
    pub size: u64,
    pub etag: String,
}

/// The decryptor, the sink and the frame key in the [`crate::FrameCipher`] once imported:
/// what goes from one range to the next.
struct Reading<K, W> {
    dec: Decryptor<K>,
    sink: W,
    /// `Some(None)`: the cipher could not take the key, core opens the runs.
    frame_key: Option<Option<Box<dyn FrameKey>>>,
    /// The signature hash outside core ([`crate::Exec::hasher`]), once the header is read.
    hash: Option<Box<dyn MessageHasher>>,
}

type Step<'a, K, W> = Pin<Box<dyn Future<Output = (Reading<K, W>, Result<(), Error>)> + 'a>>;

/// Runs of whole frames handed to a [`crate::FrameCipher`] at a time.
const RUN_FRAMES: usize = 64;

/// Decrypts `chunk` onto `out`, runs of whole frames opened by `frames`: core hands them
/// out (and hashes them while they are opened), checks everything else with its own key and
/// releases plaintext by its own rules. When the decryptor awaits the data key, the exec's
/// [`crate::KeyUnwrap`] unwraps it (else the keyring), and the exec's hasher, if it has one, takes
/// the signature hash from then on.
async fn open_outside<K: Keyring>(
    exec: &impl Exec,
    frames: &dyn FrameCipher,
    key: &mut Option<Option<Box<dyn FrameKey>>>,
    hash: &mut Option<Box<dyn MessageHasher>>,
    dec: &mut Decryptor<K>,
    chunk: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut run = Deferred::new(RUN_FRAMES);
    let mut plain = zeroize::Zeroizing::new(Vec::new());
    let mut input = chunk;
    loop {
        let n = dec.update_deferred(input, out, &mut run)?;
        input = &input[n..];
        if let Some(request) = dec.awaiting_key() {
            let digest_len = request.header.suite.signature().map(|a| a.digest_len());
            let data_key = match exec.keys() {
                Some(k) => k.unwrap(request).await,
                None => None,
            };
            if let Some(h) = digest_len.and_then(|n| exec.hasher(n)) {
                dec.hash_outside()?;
                *hash = Some(h);
            }
            dec.supply_key(data_key)?;
            continue;
        }
        if run.count() == 0 {
            if let Some(h) = hash.as_deref_mut() {
                dec.take_hash_input(|b| h.update(b));
            }
            return Ok(());
        }
        if key.is_none() {
            let raw = dec
                .frame_key()
                .ok_or(Error::Internal("no frame key after the header"))?;
            *key = Some(frames.import(raw).await?);
        }
        let Some(Some(k)) = key.as_ref() else {
            // The cipher cannot take this key: core opens the run.
            dec.open_deferred(&mut run, out)?;
            continue;
        };
        let mut meanwhile = || match hash.as_deref_mut() {
            Some(h) => dec.take_hash_input(|b| h.update(b)),
            None => dec.catch_up_hash(),
        };
        let bad = k.open(&run, &mut plain, &mut meanwhile).await?;
        let opened = match bad {
            None => Opened::All(&plain),
            Some(index) => Opened::FailedAt {
                index,
                before: &plain,
            },
        };
        dec.complete(&mut run, opened, out)?;
    }
}

/// With the signature hash outside, once the footer is read: the rest of the bytes to
/// `hash`, its digest to the decryptor, which releases to `last` the plaintext it held for
/// the signature. Nothing when no digest is awaited.
async fn check_digest<K: Keyring>(
    dec: &mut Decryptor<K>,
    hash: Option<Box<dyn MessageHasher>>,
    last: &mut Vec<u8>,
) -> Result<(), Error> {
    if !dec.awaiting_digest() {
        return Ok(());
    }
    let mut hash = hash.ok_or(Error::Internal("no hash for the signature"))?;
    dec.take_hash_input(|b| hash.update(b));
    let digest = hash.digest().await?;
    Ok(dec.supply_digest(&digest, last)?)
}

/// Decrypts a whole message held in memory as a download does: frames, data key and
/// signature hash outside core where `exec` has them, else in core. The plaintext, once the
/// whole message verified.
pub async fn decrypt_in_memory<K: Keyring>(
    exec: &impl Exec,
    dec: Decryptor<K>,
    message: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let mut dec = dec;
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(message.len()));
    match exec.frames() {
        Some(frames) => {
            dec = dec.unwrap_outside();
            let (mut key, mut hash) = (None, None);
            open_outside(
                exec, frames, &mut key, &mut hash, &mut dec, message, &mut out,
            )
            .await?;
            check_digest(&mut dec, hash, &mut out).await?;
        }
        None => dec.update(message, &mut out)?,
    }
    dec.finish()?;
    Ok(out)
}

/// Decrypts one range (through [`Exec`], or inline with its [`crate::FrameCipher`]) and
/// writes what verified; gives the slot back.
async fn consume<K, W, E>(
    exec: &E,
    reading: Reading<K, W>,
    chunk: Bytes,
    permit: Permit,
) -> (Reading<K, W>, Result<(), Error>)
where
    K: Keyring + Send + 'static,
    W: Sink,
    E: Exec,
{
    let Reading {
        dec,
        mut sink,
        mut frame_key,
        mut hash,
    } = reading;
    if let Some(frames) = exec.frames() {
        let mut dec = dec;
        let mut out = Vec::with_capacity(chunk.len());
        let r = open_outside(
            exec,
            frames,
            &mut frame_key,
            &mut hash,
            &mut dec,
            &chunk,
            &mut out,
        )
        .await;
        drop(permit);
        let r = match r {
            Ok(()) if !out.is_empty() => sink.write(&out).await,
            other => other,
        };
        zeroize::Zeroize::zeroize(&mut out);
        let reading = Reading {
            dec,
            sink,
            frame_key,
            hash,
        };
        return (reading, r);
    }
    let (dec, out, r) = exec
        .run(move || {
            let mut dec = dec;
            let mut out = Vec::with_capacity(chunk.len());
            let mut r = Ok(());
            for piece in chunk.chunks(PIECE) {
                if let Err(e) = dec.update(piece, &mut out) {
                    r = Err(e);
                    break;
                }
            }
            (dec, out, r)
        })
        .await;
    drop(permit);
    if let Err(e) = r {
        let reading = Reading {
            dec,
            sink,
            frame_key,
            hash,
        };
        return (reading, Err(e.into()));
    }
    let w = if out.is_empty() {
        Ok(())
    } else {
        sink.write(&out).await
    };
    let reading = Reading {
        dec,
        sink,
        frame_key,
        hash,
    };
    (reading, w)
}

/// Downloads `bucket/key`, decrypts it with `dec` into `sink` and commits the sink once the
/// message verified. `known` (size and ETag from a listing) saves the HEAD request.
#[allow(clippy::too_many_arguments)]
pub async fn download<E, K, W>(
    eng: &Engine<E>,
    bucket: &str,
    key: &str,
    known: Option<Known>,
    dec: Decryptor<K>,
    sink: W,
    progress: &impl Progress,
) -> Result<Downloaded, Error>
where
    E: Exec,
    K: Keyring + Send + 'static,
    W: Sink,
{
    let cancel = &eng.cancel;
    let known = match known {
        Some(k) => k,
        None => {
            let info = cancellable(cancel, async {
                Ok(eng.client.head_object(bucket, key).await?)
            })
            .await?;
            Known {
                size: info.size,
                etag: info.etag,
            }
        }
    };
    if known.size == 0 {
        return Err(Error::EmptyObject);
    }
    let size = known.size;
    let etag: Arc<str> = Arc::from(known.etag.as_str());
    let s = &eng.settings;
    let mut ranges = plan::ranges(size, s.first_range, s.range_size).peekable();
    let fetch = |(start, end): (u64, u64), permit: Permit| {
        let etag = etag.clone();
        async move {
            let r = eng
                .client
                .get_range(bucket, key, start, end, Some(&etag))
                .await;
            r.map(|data| (data, permit))
        }
    };
    let mut in_flight = FuturesOrdered::new();
    let mut fetched: VecDeque<(Bytes, Permit)> = VecDeque::new();
    let mut acquiring = None;
    let mut header_read = false;
    // The path that opens frames outside stops at the data key: the exec may unwrap it, and
    // may take the signature hash.
    let dec = match eng.exec.frames() {
        Some(_) => dec.unwrap_outside(),
        None => dec,
    };
    let mut state = Some(Reading {
        dec,
        sink,
        frame_key: None,
        hash: None,
    });
    let mut step: Option<Step<'_, K, W>> = None;
    enum Event<K, W> {
        Cancelled,
        Slot(Permit),
        Fetched(Result<(Bytes, Permit), cse_s3::S3Error>),
        Consumed(Box<(Reading<K, W>, Result<(), Error>)>),
    }
    let mut watch = cancel.watch();
    loop {
        // Until the header passed the limits, one range at a time.
        let idle = in_flight.is_empty() && fetched.is_empty() && step.is_none();
        let may_launch = ranges.peek().is_some() && (header_read || idle);
        if may_launch && acquiring.is_none() {
            acquiring = Some(eng.budget.acquire());
        }
        if step.is_none()
            && let Some((chunk, permit)) = fetched.pop_front()
            && let Some(reading) = state.take()
        {
            step = Some(Box::pin(consume(&eng.exec, reading, chunk, permit)));
        }
        if step.is_none() && fetched.is_empty() && in_flight.is_empty() && !may_launch {
            break;
        }
        let event = poll_fn(|cx| {
            if watch.poll_cancelled(cx).is_ready() {
                return Poll::Ready(Event::Cancelled);
            }
            if let Some(f) = step.as_mut()
                && let Poll::Ready(r) = f.as_mut().poll(cx)
            {
                return Poll::Ready(Event::Consumed(Box::new(r)));
            }
            if !in_flight.is_empty()
                && let Poll::Ready(Some(r)) = in_flight.poll_next_unpin(cx)
            {
                return Poll::Ready(Event::Fetched(r));
            }
            if let Some(a) = acquiring.as_mut()
                && let Poll::Ready(permit) = Pin::new(a).poll(cx)
            {
                return Poll::Ready(Event::Slot(permit));
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Cancelled => return Err(Error::Cancelled),
            Event::Slot(permit) => {
                acquiring = None;
                if let Some(range) = ranges.next() {
                    in_flight.push_back(fetch(range, permit));
                }
            }
            Event::Fetched(Ok((data, permit))) => {
                progress.bytes(data.len() as u64);
                fetched.push_back((data, permit));
            }
            // Dropping the futures in flight cancels their requests.
            Event::Fetched(Err(e)) => return Err(e.into()),
            Event::Consumed(consumed) => {
                let (reading, r) = *consumed;
                step = None;
                // A refusal stops everything: no further range is fetched.
                r?;
                header_read = reading.dec.header().is_some();
                state = Some(reading);
            }
        }
    }
    let Reading {
        mut dec,
        mut sink,
        hash,
        ..
    } = state.ok_or(Error::Internal("the decryptor did not come back"))?;
    let mut last = Vec::new();
    cancellable(cancel, check_digest(&mut dec, hash, &mut last)).await?;
    if !last.is_empty() {
        let written = sink.write(&last).await;
        zeroize::Zeroize::zeroize(&mut last);
        written?;
    }
    dec.finish()?;
    let header = dec
        .header()
        .cloned()
        .ok_or(Error::Internal("no header after finish"))?;
    let plaintext = dec.released();
    drop(dec);
    cancellable(cancel, sink.commit()).await?;
    Ok(Downloaded {
        header,
        plaintext,
        message: size,
    })
}
