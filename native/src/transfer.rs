//! Encrypt-and-upload and download-and-decrypt.
//!
//! Upload: one thread reads and encrypts, cutting the message into parts; up to `concurrency`
//! parts are uploaded at once. A message no larger than the threshold goes in one PUT. Any
//! failure or Ctrl-C aborts the multipart upload, so no object and no parts are left.
//!
//! Download: ranged GETs (`concurrency` at once, each pinned to the object's ETag) are fed in
//! order to the decryptor on its own thread; the output file appears only once the footer
//! verified. The first range (1 MiB) is fetched alone and the others only once the header
//! passed the limits, so a hostile object costs one small request.

use std::io::{Read, Write};

use bytes::Bytes;
use cse_core::{
    DecryptConfig, Decryptor, EncryptConfig, Encryptor, Header, Keyring, RawRsaKeyring,
};
use cse_s3::{Body, Client, S3Error};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::error::{Failure, say, shown};
use crate::output::Sink;
use crate::progress::Progress;

/// How objects are moved.
#[derive(Clone, Debug)]
pub struct Plan {
    pub client: Client,
    pub part_size: u64,
    pub threshold: u64,
    pub concurrency: usize,
    pub expected_size: Option<u64>,
    pub progress: Progress,
}

/// The object a transfer reads or writes, and how progress names it.
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub label: &'a str,
}

/// What an upload did.
#[derive(Debug)]
pub struct Uploaded {
    pub header: Header,
    pub plaintext: u64,
    pub message: u64,
    pub parts: u32,
}

/// What the encrypting thread hands to the uploader.
enum Piece {
    /// The whole message, small enough for one PUT.
    Whole(Bytes),
    /// Part `n` (from 1) of a multipart upload, with its slot among the parts in memory.
    Part(u32, Bytes, OwnedSemaphorePermit),
    /// The message ended after `n` parts.
    End,
}

const READ_CHUNK: usize = 1 << 20;

/// Reads `input`, encrypts it and sends the message in pieces. Returns the header and the
/// plaintext and message lengths. A part is filled only once it has one of the `slots`, which
/// are released when its upload ends: at most that many parts exist at once.
fn produce(
    mut input: Box<dyn Read + Send>,
    mut enc: Encryptor,
    threshold: u64,
    part_size: usize,
    slots: Arc<Semaphore>,
    tx: mpsc::Sender<Piece>,
) -> Result<(Header, u64, u64), Failure> {
    let header = enc.header().clone();
    let runtime = tokio::runtime::Handle::current();
    let take_slot = || {
        runtime
            .block_on(slots.clone().acquire_owned())
            .map_err(|_| Failure::other("upload stopped"))
    };
    let mut slot = Some(take_slot()?);
    let mut pending: Vec<u8> = Vec::with_capacity(part_size + READ_CHUNK + 4096);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut whole = true;
    let mut part = 0u32;
    let (mut plaintext, mut message) = (0u64, 0u64);
    let closed = || Failure::other("upload stopped");
    let mut send_parts = |pending: &mut Vec<u8>, flush_all: bool| -> Result<(), Failure> {
        while pending.len() >= part_size || (flush_all && !pending.is_empty()) {
            let cut = pending.len().min(part_size);
            let mut next = Vec::with_capacity(part_size + READ_CHUNK + 4096);
            next.extend_from_slice(&pending[cut..]);
            pending.truncate(cut);
            part += 1;
            let data = std::mem::replace(pending, next);
            let filled = slot
                .take()
                .ok_or_else(|| Failure::other("internal: a part without a slot"))?;
            tx.blocking_send(Piece::Part(part, Bytes::from(data), filled))
                .map_err(|_| closed())?;
            if !(flush_all && pending.is_empty()) {
                slot = Some(take_slot()?);
            }
        }
        Ok(())
    };
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::other(format!("reading the input: {e}"))),
        };
        plaintext += n as u64;
        let before = pending.len();
        enc.update(&buf[..n], &mut pending)
            .map_err(|e| Failure::message(e, None))?;
        message += (pending.len() - before) as u64;
        if whole && pending.len() as u64 > threshold {
            whole = false;
        }
        if !whole {
            send_parts(&mut pending, false)?;
        }
    }
    let before = pending.len();
    enc.finish(&mut pending)
        .map_err(|e| Failure::message(e, None))?;
    message += (pending.len() - before) as u64;
    if whole && pending.len() as u64 <= threshold {
        tx.blocking_send(Piece::Whole(Bytes::from(pending)))
            .map_err(|_| closed())?;
    } else {
        send_parts(&mut pending, true)?;
        tx.blocking_send(Piece::End).map_err(|_| closed())?;
    }
    Ok((header, plaintext, message))
}

/// The SHA-256 of a part, computed off the async threads (unless payloads go unsigned).
async fn body(client: &Client, data: Bytes) -> Body {
    if client.config().unsigned_payload {
        return Body { data, sha256: None };
    }
    let hashed = data.clone();
    let sha256 = tokio::task::spawn_blocking(move || cse_s3::sha256_hex(&hashed))
        .await
        .ok();
    Body { data, sha256 }
}

/// Encrypts `input` (of `plaintext_len` bytes when known) and uploads it to `bucket/key`.
pub async fn upload(
    plan: &Plan,
    input: Box<dyn Read + Send>,
    plaintext_len: Option<u64>,
    keyring: &dyn Keyring,
    config: &EncryptConfig,
    to: Object<'_>,
) -> Result<Uploaded, Failure> {
    let Object { bucket, key, label } = to;
    let enc = Encryptor::new(keyring, config).map_err(|e| Failure::message(e, None))?;
    let known = plaintext_len.or(plan.expected_size);
    let total = known.map(|n| enc.message_len(n));
    let part_size = match total {
        Some(t) => cse_s3::plan_part_size(t, plan.part_size),
        None => cse_s3::plan_part_size(0, plan.part_size),
    };
    let threshold = plan.threshold.max(1);
    let part_usize =
        usize::try_from(part_size).map_err(|_| Failure::config("part size too large"))?;
    let (tx, mut rx) = mpsc::channel::<Piece>(1);
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let producer =
        tokio::task::spawn_blocking(move || produce(input, enc, threshold, part_usize, slots, tx));
    let bar = plan.progress.bar(plaintext_len.and(total), label);

    let first = rx.recv().await;
    let sent = match first {
        Some(Piece::Whole(data)) => {
            let len = data.len() as u64;
            let b = body(&plan.client, data).await;
            tokio::select! {
                r = plan.client.put_object(bucket, key, b, None) => r?,
                _ = crate::signal::interrupted() => return Err(Failure::interrupted("interrupted")),
            };
            bar.inc(len);
            0
        }
        Some(Piece::Part(n, data, slot)) => {
            let id = plan
                .client
                .create_multipart_upload(bucket, key, None)
                .await?;
            let mut tasks = JoinSet::new();
            let first = (n, data, slot);
            let result = tokio::select! {
                r = upload_parts(plan, (bucket, key, &id), first, &mut tasks, &mut rx, &bar) => r,
                _ = crate::signal::interrupted() => Err(Failure::interrupted(format!(
                    "interrupted: the multipart upload to s3://{bucket}/{key} was aborted"
                ))),
            };
            match result {
                Ok(parts) => {
                    let count = parts.len() as u32;
                    if let Err(e) = plan
                        .client
                        .complete_multipart_upload(bucket, key, &id, &parts)
                        .await
                    {
                        abort(plan, bucket, key, &id).await;
                        return Err(e.into());
                    }
                    count
                }
                Err(e) => {
                    drop(rx);
                    // Let parts already sent finish first: a part stored after the abort
                    // would stay behind.
                    let settle = async { while tasks.join_next().await.is_some() {} };
                    let _ = tokio::time::timeout(Duration::from_secs(60), settle).await;
                    tasks.abort_all();
                    abort(plan, bucket, key, &id).await;
                    // A failure of the reading side explains more than "upload stopped".
                    if let Ok(Err(produced)) = producer.await
                        && produced.message != "upload stopped"
                    {
                        return Err(produced);
                    }
                    return Err(e);
                }
            }
        }
        Some(Piece::End) | None => 0,
    };
    drop(rx);
    let (header, plaintext, message) = producer
        .await
        .map_err(|e| Failure::other(format!("encryption thread: {e}")))??;
    bar.finish_and_clear();
    Ok(Uploaded {
        header,
        plaintext,
        message,
        parts: sent,
    })
}

async fn abort(plan: &Plan, bucket: &str, key: &str, id: &str) {
    if let Err(e) = plan.client.abort_multipart_upload(bucket, key, id).await {
        let object = shown(&format!("s3://{bucket}/{key}"));
        let id = shown(&id);
        say(&format!(
            "cse: could not abort multipart upload {id} of {object}: {}\n\
             cse: hint: remove it later with `cse mpu abort {object} --upload-id {id}`",
            shown(&e)
        ));
    }
}

/// Part number, ETag and size of an uploaded part.
type PartResult = Result<(u32, String, u64), S3Error>;

/// Uploads parts as the encrypting thread produces them, `concurrency` at once.
async fn upload_parts(
    plan: &Plan,
    (bucket, key, upload_id): (&str, &str, &str),
    first: (u32, Bytes, OwnedSemaphorePermit),
    tasks: &mut JoinSet<PartResult>,
    rx: &mut mpsc::Receiver<Piece>,
    bar: &ProgressBar,
) -> Result<Vec<(u32, String)>, Failure> {
    let mut done = Vec::new();
    let mut next = Some(first);
    let mut ended = false;
    loop {
        if let Some((n, data, slot)) = next.take() {
            let client = plan.client.clone();
            let (bucket, key, id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
            tasks.spawn(async move {
                let len = data.len() as u64;
                let b = body(&client, data).await;
                let etag = client.upload_part(&bucket, &key, &id, n, b).await?;
                drop(slot);
                Ok((n, etag, len))
            });
        }
        if ended && tasks.is_empty() {
            break;
        }
        let can_take = !ended;
        tokio::select! {
            piece = rx.recv(), if can_take => match piece {
                Some(Piece::Part(n, data, slot)) => next = Some((n, data, slot)),
                Some(Piece::End) => ended = true,
                Some(Piece::Whole(_)) => return Err(Failure::other("internal: whole message after parts")),
                None => return Err(Failure::other("upload stopped")),
            },
            joined = tasks.join_next(), if !tasks.is_empty() => {
                let (n, etag, len) = joined
                    .ok_or_else(|| Failure::other("internal: no task"))?
                    .map_err(|e| Failure::other(format!("upload task: {e}")))??;
                bar.inc(len);
                done.push((n, etag));
            }
        }
    }
    done.sort_by_key(|(n, _)| *n);
    Ok(done)
}

/// The first range of a download: enough for any header within the default limit.
const FIRST_RANGE: u64 = 1 << 20;

/// `[start, end)` pieces covering `size` bytes, the first of `first` bytes and the others of
/// `step`, made one at a time and with checked arithmetic (any `size` up to `u64::MAX`).
fn ranges(size: u64, first: u64, step: u64) -> impl Iterator<Item = (u64, u64)> {
    let step = step.max(1);
    let mut start = 0u64;
    std::iter::from_fn(move || {
        if start >= size {
            return None;
        }
        let len = if start == 0 { first.max(1) } else { step };
        let end = start.saturating_add(len).min(size);
        let piece = (start, end);
        start = end;
        Some(piece)
    })
}

/// What a download did.
#[derive(Debug)]
pub struct Downloaded {
    pub header: Header,
    pub plaintext: u64,
    pub message: u64,
}

/// Downloads `bucket/key`, decrypts it into `sink` and commits the sink once it verified.
pub async fn download(
    plan: &Plan,
    from: Object<'_>,
    keyring: Arc<RawRsaKeyring>,
    config: DecryptConfig,
    sink: Sink,
    key_label: &str,
) -> Result<Downloaded, Failure> {
    let Object { bucket, key, label } = from;
    let info = plan.client.head_object(bucket, key).await?;
    if info.size == 0 {
        return Err(Failure::new(
            crate::error::Kind::Message,
            format!(
                "{} is empty: not an encrypted message",
                shown(&format!("s3://{bucket}/{key}"))
            ),
        ));
    }
    // A range is fetched only once it has a slot, released when the decryptor is done with
    // it: at most `concurrency` ranges are in memory, queued ones included. Until the header
    // has been read (and checked against the limits) there is one slot: a hostile object is
    // refused after one small range, not after `concurrency` parts were fetched.
    let concurrency = plan.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(1));
    let opened = slots.clone();
    let (tx, mut rx) = mpsc::channel::<(Bytes, OwnedSemaphorePermit)>(1);
    let owned_label = key_label.to_string();
    let consumer = tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        let mut dec = Decryptor::new(keyring, config);
        let mut out = Vec::with_capacity(READ_CHUNK + (64 << 10));
        let fail = |e| Failure::message(e, Some(&owned_label));
        let io = |e: std::io::Error| Failure::other(format!("writing the output: {e}"));
        // On a failure no further range is fetched: ranges waiting for a slot stop.
        let stop = |f: Failure| {
            opened.close();
            f
        };
        let mut widened = false;
        while let Some((chunk, slot)) = rx.blocking_recv() {
            for piece in chunk.chunks(READ_CHUNK) {
                dec.update(piece, &mut out).map_err(|e| stop(fail(e)))?;
                sink.write_all(&out).map_err(|e| stop(io(e)))?;
                out.clear();
            }
            if !widened && dec.header().is_some() {
                opened.add_permits(concurrency - 1);
                widened = true;
            }
            drop((chunk, slot));
        }
        dec.finish().map_err(fail)?;
        let header = dec
            .header()
            .cloned()
            .ok_or_else(|| Failure::other("internal: no header after finish"))?;
        let plaintext = dec.released();
        sink.commit()?;
        Ok::<_, Failure>((header, plaintext))
    });

    let bar = plan.progress.bar(Some(info.size), label);
    // Made as they are fetched (the size comes from the server: nothing is allocated for it).
    let ranges = ranges(info.size, FIRST_RANGE, plan.part_size);
    let etag = info.etag.clone();
    let mut fetched = futures_util::stream::iter(ranges)
        .map(|(start, end)| {
            let client = plan.client.clone();
            let etag = etag.clone();
            let (bucket, key) = (bucket.to_string(), key.to_string());
            let slots = slots.clone();
            // Spawned, so ranges download on every runtime thread.
            async move {
                let slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|_| Failure::other("download stopped"))?;
                let data = tokio::spawn(async move {
                    client
                        .get_range(&bucket, &key, start, end, Some(&etag))
                        .await
                })
                .await
                .map_err(|e| Failure::other(format!("download task: {e}")))?
                .map_err(Failure::from)?;
                Ok((data, slot))
            }
        })
        .buffered(concurrency);
    let mut fetch_error = None;
    loop {
        let chunk = tokio::select! {
            c = fetched.next() => match c {
                Some(c) => c,
                None => break,
            },
            _ = crate::signal::interrupted() => Err(Failure::interrupted("interrupted")),
        };
        match chunk {
            Ok((data, slot)) => {
                let len = data.len() as u64;
                if tx.send((data, slot)).await.is_err() {
                    break; // the decryptor failed; its error is reported below
                }
                bar.inc(len);
            }
            // Slots are closed when the decryptor failed; its error is reported below.
            Err(_) if slots.is_closed() => break,
            Err(e) => {
                fetch_error = Some(e);
                break;
            }
        }
    }
    drop(fetched);
    drop(tx);
    let decrypted = consumer
        .await
        .map_err(|e| Failure::other(format!("decryption thread: {e}")))?;
    bar.finish_and_clear();
    if let Some(e) = fetch_error {
        return Err(e);
    }
    let (header, plaintext) = decrypted?;
    Ok(Downloaded {
        header,
        plaintext,
        message: info.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_object_and_never_overflow() {
        let r: Vec<_> = ranges(10, 4, 4).collect();
        assert_eq!(r, [(0, 4), (4, 8), (8, 10)]);
        let r: Vec<_> = ranges(10, 1, 4).collect();
        assert_eq!(r, [(0, 1), (1, 5), (5, 9), (9, 10)]);
        assert_eq!(ranges(3, 8, 8).collect::<Vec<_>>(), [(0, 3)]);
        assert_eq!(ranges(0, 4, 4).count(), 0);
        assert_eq!(ranges(3, 0, 0).count(), 3);
        let mut huge = ranges(u64::MAX, 1 << 20, 8 << 20);
        assert_eq!(huge.next(), Some((0, 1 << 20)));
        assert_eq!(huge.next(), Some((1 << 20, 9 << 20)));
        let mut tail = ranges(u64::MAX, u64::MAX - 1, u64::MAX);
        assert_eq!(tail.next(), Some((0, u64::MAX - 1)));
        assert_eq!(tail.next(), Some((u64::MAX - 1, u64::MAX)));
        assert_eq!(tail.next(), None);
    }
}
