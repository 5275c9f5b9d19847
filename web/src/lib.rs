//! cse in the browser: the same message engine (`cse-core`) and S3 layer (`cse-s3`) as the
//! native tool, compiled to wasm. Files are read in slices, encrypted frame by frame and
//! uploaded as multipart uploads with several parts in flight; downloads are ranged GETs fed
//! to the streaming decryptor. Keys stay in the page.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use bytes::Bytes;
use cse_core::{
    AlgorithmSuite, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext, Encryptor,
    RawRsaKeyring, RsaPadding,
};
use cse_s3::{
    Addressing, Body, Client, Config, Credentials, ErrorKind as S3ErrorKind, RetryPolicy, S3Error,
};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Blob};
use zeroize::Zeroizing;

const MIB: u64 = 1 << 20;
/// Bytes read from a file at a time.
const SLICE: u64 = 4 * MIB;

/// An error for JavaScript: an `Error` with `kind` and `hint` properties.
fn js_error(kind: &str, message: &str, hint: Option<&str>) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &"kind".into(), &kind.into());
    let _ = Reflect::set(&e, &"hint".into(), &hint.unwrap_or("").into());
    e.into()
}

fn s3_error(e: S3Error) -> JsValue {
    let kind = match e.kind() {
        S3ErrorKind::Network => "network",
        S3ErrorKind::Config => "config",
        _ => "s3",
    };
    js_error(kind, &e.to_string(), s3_hint(&e))
}

/// The likely fix of a failed S3 request, in the words of the page (its fields, the bucket's
/// CORS rule), when the error says enough to guess it.
fn s3_hint(e: &S3Error) -> Option<&'static str> {
    let code = e.code().unwrap_or_default();
    Some(match e.kind() {
        S3ErrorKind::Network => {
            "the browser could not reach the endpoint, or the bucket has no CORS rule for this \
             page: the bucket needs a CORS rule allowing this origin, the methods GET, PUT, POST, \
             DELETE and HEAD, all request headers (AllowedHeaders: *), and ExposeHeaders: ETag"
        }
        S3ErrorKind::Denied => match code {
            "SignatureDoesNotMatch" => {
                "the secret key does not match the access key: check the secret key"
            }
            "InvalidAccessKeyId" => {
                "the server does not know this access key: check the access key and the endpoint"
            }
            "AccessDenied" => "the credentials are valid but not allowed to do this on this bucket",
            "RequestTimeTooSkewed" => {
                "this machine's clock differs too much from the server's: fix the clock"
            }
            _ => return None,
        },
        S3ErrorKind::NotFound => match code {
            "NoSuchBucket" => {
                "the bucket does not exist on this endpoint: check the bucket name and the endpoint"
            }
            "NoSuchKey" => "no object has this key: check the key",
            "NoSuchUpload" => "the multipart upload was already completed or aborted",
            _ => return None,
        },
        S3ErrorKind::PreconditionFailed => "the object changed while it was being downloaded",
        _ if code == "EntityTooSmall" => "a part other than the last is below the 5 MiB minimum",
        _ if code == "PermanentRedirect" || e.status() == Some(301) => {
            "the bucket lives in another region or needs another endpoint: check the region"
        }
        _ if e.status() == Some(501) => "this S3-compatible server does not implement the request",
        _ => return None,
    })
}

fn message_error(e: cse_core::Error, key_label: Option<&str>) -> JsValue {
    use cse_core::Error as E;
    match &e {
        E::Key(_) => js_error("key", &e.to_string(), None),
        E::Config(_) | E::Misuse(_) | E::EncryptionContext(_) => {
            js_error("config", &e.to_string(), None)
        }
        E::NoDecryptableKey { .. } => js_error(
            "wrong-key",
            &e.to_string(),
            Some(&format!(
                "this object was encrypted for another key: load the private key matching {}",
                key_label.unwrap_or("the key the message names")
            )),
        ),
        E::LimitExceeded { limit, .. } => js_error(
            "refused",
            &e.to_string(),
            Some(&format!(
                "the object goes over a safety limit ({}) before anything was decrypted; the users' messages hold one data key and frames of 4096 bytes, so it is likely not one of them",
                limit.setting()
            )),
        ),
        E::TooManyEncryptedDataKeys { .. } => js_error(
            "refused",
            &e.to_string(),
            Some(
                "the object holds more data keys than the safety limit allows before anything was decrypted",
            ),
        ),
        E::HeaderAuthentication | E::CommitmentMismatch => js_error(
            "tampered",
            &e.to_string(),
            Some(
                "either the object was altered or the private key is not the one it was encrypted for",
            ),
        ),
        _ => js_error(
            "tampered",
            &e.to_string(),
            Some("the object is damaged or was altered: nothing was saved"),
        ),
    }
}

fn get(obj: &JsValue, name: &str) -> Option<JsValue> {
    if obj.is_undefined() || obj.is_null() {
        return None;
    }
    Reflect::get(obj, &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn get_string(obj: &JsValue, name: &str) -> Option<String> {
    get(obj, name)
        .and_then(|v| v.as_string())
        .filter(|s| !s.is_empty())
}

fn get_u64(obj: &JsValue, name: &str) -> Option<u64> {
    get(obj, name)
        .and_then(|v| v.as_f64())
        .filter(|f| *f >= 0.0)
        .map(|f| f as u64)
}

fn context_of(obj: &JsValue) -> Result<EncryptionContext, JsValue> {
    let mut ctx = EncryptionContext::new();
    if let Some(c) = get(obj, "context") {
        let entries = Object::entries(
            &c.dyn_into::<Object>()
                .map_err(|_| js_error("config", "context must be an object of strings", None))?,
        );
        for entry in entries.iter() {
            let pair: Array = entry.into();
            let (k, v) = (pair.get(0).as_string(), pair.get(1).as_string());
            match (k, v) {
                (Some(k), Some(v)) => {
                    ctx.insert(k, v);
                }
                _ => return Err(js_error("config", "context values must be strings", None)),
            }
        }
    }
    Ok(ctx)
}

fn keyring(options: &JsValue) -> Result<RawRsaKeyring, JsValue> {
    let namespace = get_string(options, "keyNamespace").unwrap_or_else(|| "MyAppKeys".into());
    let name = get_string(options, "keyName").unwrap_or_else(|| "S3RSAKey".into());
    let padding = match get_string(options, "padding") {
        Some(p) => RsaPadding::from_name(&p)
            .ok_or_else(|| js_error("config", &format!("unknown RSA padding {p:?}"), None))?,
        None => RsaPadding::OaepSha256,
    };
    RawRsaKeyring::new(&namespace, &name, padding).map_err(|e| message_error(e, None))
}

fn encrypt_config(options: &JsValue) -> Result<EncryptConfig, JsValue> {
    let suite = match get_u64(options, "suite") {
        Some(id) => Some(
            u16::try_from(id)
                .ok()
                .and_then(AlgorithmSuite::from_id)
                .ok_or_else(|| js_error("config", &format!("unknown suite {id:#06x}"), None))?,
        ),
        None => None,
    };
    let mut config = EncryptConfig {
        suite,
        encryption_context: context_of(options)?,
        ..EncryptConfig::default()
    };
    if suite.is_some_and(|s| !s.is_committing()) {
        config.commitment_policy = cse_core::CommitmentPolicy::ForbidEncryptAllowDecrypt;
    }
    if let Some(f) = get_u64(options, "frameLength") {
        config.frame_length =
            u32::try_from(f).map_err(|_| js_error("config", "frameLength is too large", None))?;
    }
    Ok(config)
}

fn aborted(signal: &Option<AbortSignal>) -> bool {
    signal.as_ref().is_some_and(AbortSignal::aborted)
}

fn cancelled() -> JsValue {
    js_error("cancelled", "cancelled", None)
}

fn progress(cb: &Option<Function>, done: u64, total: u64) {
    if let Some(f) = cb {
        let _ = f.call2(
            &JsValue::NULL,
            &(done as f64).into(),
            &(total as f64).into(),
        );
    }
}

async fn read_slice(blob: &Blob, start: u64, end: u64) -> Result<Vec<u8>, JsValue> {
    let part = blob.slice_with_f64_and_f64(start as f64, end as f64)?;
    let buf = JsFuture::from(part.array_buffer()).await?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// An S3 bucket reached with signed requests.
#[wasm_bindgen]
#[derive(Debug)]
pub struct S3Client {
    client: Client,
    bucket: String,
}

#[wasm_bindgen]
impl S3Client {
    /// `{endpoint, region, bucket, accessKeyId, secretAccessKey, sessionToken?, addressingStyle?}`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<S3Client, JsValue> {
        let need = |name: &str| {
            get_string(&options, name)
                .ok_or_else(|| js_error("config", &format!("{name} is required"), None))
        };
        let addressing = match get_string(&options, "addressingStyle").as_deref() {
            Some("virtual") => Addressing::VirtualHost,
            _ => Addressing::Path,
        };
        let config = Config {
            endpoint: need("endpoint")?,
            region: get_string(&options, "region").unwrap_or_else(|| "us-east-1".into()),
            addressing,
            credentials: Credentials {
                access_key_id: need("accessKeyId")?,
                secret_access_key: Zeroizing::new(need("secretAccessKey")?),
                session_token: get_string(&options, "sessionToken").map(Zeroizing::new),
            },
            unsigned_payload: false,
            // A browser cannot tell a missing CORS rule from a server that is down: give up
            // sooner than the command-line tool does.
            retry: RetryPolicy {
                max_attempts: get_u64(&options, "maxAttempts").unwrap_or(3).max(1) as u32,
                ..RetryPolicy::default()
            },
            // The browser verifies TLS with its own trust store.
            ca_bundle: None,
        };
        Ok(S3Client {
            client: Client::new(config).map_err(s3_error)?,
            bucket: need("bucket")?,
        })
    }

    /// Every object under `prefix`: `[{key, size, lastModified, etag}]`.
    pub async fn list(&self, prefix: String) -> Result<Array, JsValue> {
        let objects = self
            .client
            .list_all(&self.bucket, &prefix)
            .await
            .map_err(s3_error)?;
        let out = Array::new();
        for o in objects {
            let item = Object::new();
            let _ = Reflect::set(&item, &"key".into(), &o.key.into());
            let _ = Reflect::set(&item, &"size".into(), &(o.size as f64).into());
            let _ = Reflect::set(&item, &"lastModified".into(), &o.last_modified.into());
            let _ = Reflect::set(&item, &"etag".into(), &o.etag.into());
            out.push(&item);
        }
        Ok(out)
    }

    /// Deletes one object.
    pub async fn delete(&self, key: String) -> Result<(), JsValue> {
        self.client
            .delete_object(&self.bucket, &key)
            .await
            .map_err(s3_error)
    }

    /// Encrypts `file` with the public key and uploads it to `key`. Resolves to
    /// `{key, plaintextBytes, messageBytes, parts, suite}`.
    pub async fn upload(
        &self,
        key: String,
        file: Blob,
        public_key_pem: Vec<u8>,
        options: JsValue,
        on_progress: Option<Function>,
        signal: Option<AbortSignal>,
    ) -> Result<JsValue, JsValue> {
        let keyring = recipients(&options, &public_key_pem)?;
        let config = encrypt_config(&options)?;
        let part_wanted = get_u64(&options, "partSize").unwrap_or(8 * MIB);
        let concurrency = get_u64(&options, "concurrency").unwrap_or(4).max(1) as usize;
        let threshold = get_u64(&options, "multipartThreshold").unwrap_or(8 * MIB);
        let size = file.size() as u64;
        let mut enc = Encryptor::new(&keyring, &config).map_err(|e| message_error(e, None))?;
        let suite = enc.header().suite.to_string();
        let total = enc.message_len(size);
        let c = &self.client;
        let bucket = self.bucket.as_str();

        if total <= threshold {
            let plain = read_slice(&file, 0, size).await?;
            let mut message = Vec::with_capacity(total as usize);
            enc.update(&plain, &mut message)
                .and_then(|()| enc.finish(&mut message))
                .map_err(|e| message_error(e, None))?;
            if aborted(&signal) {
                return Err(cancelled());
            }
            c.put_object(bucket, &key, Body::from(message), None)
                .await
                .map_err(s3_error)?;
            progress(&on_progress, total, total);
            return Ok(result(&key, size, total, 0, &suite));
        }

        let part_size = cse_s3::plan_part_size(total, part_wanted) as usize;
        let upload_id = c
            .create_multipart_upload(bucket, &key, None)
            .await
            .map_err(s3_error)?;
        let parts = upload_parts(
            c,
            bucket,
            &key,
            &upload_id,
            &file,
            enc,
            part_size,
            concurrency,
            total,
            &on_progress,
            &signal,
        )
        .await;
        let outcome = match parts {
            Ok(parts) => c
                .complete_multipart_upload(bucket, &key, &upload_id, &parts)
                .await
                .map(|_| parts.len())
                .map_err(s3_error),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(n) => Ok(result(&key, size, total, n as u32, &suite)),
            Err(e) => {
                // Leave no parts behind: abort, and report the original error.
                let _ = c.abort_multipart_upload(bucket, &key, &upload_id).await;
                Err(e)
            }
        }
    }

    /// Downloads `key` and decrypts it with the private key, handing verified plaintext to
    /// `sink.write(Uint8Array)` (awaited when it returns a promise). Resolves only once the
    /// whole message verified; on rejection, what was written must be discarded.
    pub async fn download(
        &self,
        key: String,
        private_key_pem: Vec<u8>,
        options: JsValue,
        sink: JsValue,
        on_progress: Option<Function>,
        signal: Option<AbortSignal>,
    ) -> Result<JsValue, JsValue> {
        let private_key_pem = Zeroizing::new(private_key_pem);
        let kr = keyring(&options)?;
        let key_label = format!("{}/{}", kr.namespace(), kr.name());
        let kr = kr
            .with_private_key(&private_key_pem)
            .map_err(|e| message_error(e, None))?;
        let config = DecryptConfig {
            encryption_context: context_of(&options)?,
            ..DecryptConfig::default()
        };
        let write: Function = get(&sink, "write")
            .and_then(|w| w.dyn_into().ok())
            .ok_or_else(|| js_error("config", "the sink needs a write(chunk) method", None))?;
        let part = get_u64(&options, "partSize").unwrap_or(8 * MIB).max(MIB);
        let concurrency = get_u64(&options, "concurrency").unwrap_or(4).max(1) as usize;
        let c = &self.client;
        let bucket = self.bucket.as_str();
        let info = c.head_object(bucket, &key).await.map_err(s3_error)?;
        if info.size == 0 {
            return Err(js_error(
                "tampered",
                "the object is empty: not an encrypted message",
                None,
            ));
        }
        let ranges: Vec<(u64, u64)> = (0..info.size.div_ceil(part))
            .map(|i| (i * part, ((i + 1) * part).min(info.size)))
            .collect();
        let etag = info.etag.clone();
        let mut chunks = futures_util::stream::iter(ranges)
            .map(|(start, end)| {
                let (key, etag) = (key.as_str(), etag.as_str());
                async move { c.get_range(bucket, key, start, end, Some(etag)).await }
            })
            .buffered(concurrency);
        let mut dec = Decryptor::new(kr, config);
        let mut out = Vec::new();
        let mut done = 0u64;
        while let Some(chunk) = chunks.next().await {
            if aborted(&signal) {
                return Err(cancelled());
            }
            let chunk = chunk.map_err(s3_error)?;
            done += chunk.len() as u64;
            for piece in chunk.chunks(MIB as usize) {
                dec.update(piece, &mut out)
                    .map_err(|e| message_error(e, Some(&key_label)))?;
                if !out.is_empty() {
                    emit(&write, &sink, &out).await?;
                    out.clear();
                }
            }
            progress(&on_progress, done, info.size);
        }
        dec.finish()
            .map_err(|e| message_error(e, Some(&key_label)))?;
        let header = dec
            .header()
            .ok_or_else(|| js_error("tampered", "no header", None))?;
        Ok(result(
            &key,
            dec.released(),
            info.size,
            0,
            &header.suite.to_string(),
        ))
    }
}

async fn emit(write: &Function, sink: &JsValue, data: &[u8]) -> Result<(), JsValue> {
    let failed = |e: JsValue| {
        let text = js_sys::Error::from(e)
            .message()
            .as_string()
            .unwrap_or_default();
        js_error(
            "output",
            &format!("writing the decrypted file failed: {text}"),
            Some("check the free space and permissions where the file is saved"),
        )
    };
    let ret = write.call1(sink, &Uint8Array::from(data)).map_err(failed)?;
    if ret.is_instance_of::<js_sys::Promise>() {
        JsFuture::from(js_sys::Promise::from(ret))
            .await
            .map_err(failed)?;
    }
    Ok(())
}

fn result(key: &str, plaintext: u64, message: u64, parts: u32, suite: &str) -> JsValue {
    let o = Object::new();
    let _ = Reflect::set(&o, &"key".into(), &key.into());
    let _ = Reflect::set(&o, &"plaintextBytes".into(), &(plaintext as f64).into());
    let _ = Reflect::set(&o, &"messageBytes".into(), &(message as f64).into());
    let _ = Reflect::set(&o, &"parts".into(), &parts.into());
    let _ = Reflect::set(&o, &"suite".into(), &suite.into());
    o.into()
}

/// Reads, encrypts and uploads parts with up to `concurrency` in flight; memory stays near
/// `concurrency` parts.
#[allow(clippy::too_many_arguments)]
async fn upload_parts(
    c: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    file: &Blob,
    enc: Encryptor,
    part_size: usize,
    concurrency: usize,
    total: u64,
    on_progress: &Option<Function>,
    signal: &Option<AbortSignal>,
) -> Result<Vec<(u32, String)>, JsValue> {
    let size = file.size() as u64;
    let mut enc = Some(enc);
    let mut offset = 0u64;
    let mut finished = false;
    let mut pending: Vec<u8> = Vec::new();
    let mut ready: VecDeque<(u32, Bytes)> = VecDeque::new();
    let mut next_number = 1u32;
    let mut in_flight = FuturesUnordered::new();
    let outcome: Result<Vec<(u32, String)>, JsValue> = async {
        let mut parts = Vec::new();
        let mut uploaded = 0u64;
        loop {
            if aborted(signal) {
                return Err(cancelled());
            }
            // Encrypt until a part is ready (or the file ends), unless enough are waiting.
            while ready.is_empty() && !finished && in_flight.len() < concurrency {
                match enc.take() {
                    Some(mut e) if offset < size => {
                        let end = (offset + SLICE).min(size);
                        let plain = read_slice(file, offset, end).await?;
                        offset = end;
                        e.update(&plain, &mut pending)
                            .map_err(|e| message_error(e, None))?;
                        enc = Some(e);
                    }
                    Some(e) => {
                        e.finish(&mut pending).map_err(|e| message_error(e, None))?;
                        finished = true;
                    }
                    None => finished = true,
                }
                while pending.len() >= part_size || (finished && !pending.is_empty()) {
                    let cut = pending.len().min(part_size);
                    let rest = pending.split_off(cut);
                    ready.push_back((
                        next_number,
                        Bytes::from(std::mem::replace(&mut pending, rest)),
                    ));
                    next_number += 1;
                }
            }
            while in_flight.len() < concurrency {
                let Some((n, data)) = ready.pop_front() else {
                    break;
                };
                let len = data.len() as u64;
                in_flight.push(async move {
                    c.upload_part(bucket, key, upload_id, n, Body::from(data))
                        .await
                        .map(|etag| (n, etag, len))
                });
            }
            // Wait for a part only when no more may start or nothing is left to encrypt;
            // otherwise poll once, which sends the new requests, and go on encrypting.
            let must_wait = in_flight.len() >= concurrency || (finished && ready.is_empty());
            let next = if must_wait {
                Some(in_flight.next().await)
            } else {
                in_flight.next().now_or_never()
            };
            match next {
                Some(Some(r)) => {
                    let (n, etag, len) = r.map_err(s3_error)?;
                    uploaded += len;
                    progress(on_progress, uploaded, total);
                    parts.push((n, etag));
                }
                Some(None) if finished && ready.is_empty() => break,
                _ => {}
            }
        }
        parts.sort_by_key(|(n, _)| *n);
        Ok(parts)
    }
    .await;
    // Requests already sent finish before the caller aborts the upload, so no part can
    // land after the abort.
    if outcome.is_err() {
        while in_flight.next().await.is_some() {}
    }
    outcome
}

/// Encrypts a whole buffer (benchmarks, small files).
#[wasm_bindgen(js_name = encryptBuffer)]
pub fn encrypt_buffer(
    public_key_pem: &[u8],
    data: &[u8],
    suite: u16,
    frame_length: u32,
) -> Result<Vec<u8>, JsValue> {
    let options = Object::new();
    let _ = Reflect::set(&options, &"suite".into(), &suite.into());
    let _ = Reflect::set(&options, &"frameLength".into(), &frame_length.into());
    let options: JsValue = options.into();
    let keyring = keyring(&options)?
        .with_public_key(public_key_pem)
        .map_err(|e| message_error(e, None))?;
    let config = encrypt_config(&options)?;
    cse_core::encrypt(&keyring, &config, data).map_err(|e| message_error(e, None))
}

/// Decrypts a whole message (benchmarks, small files).
#[wasm_bindgen(js_name = decryptBuffer)]
pub fn decrypt_buffer(private_key_pem: &[u8], message: &[u8]) -> Result<Vec<u8>, JsValue> {
    let keyring = keyring(&JsValue::UNDEFINED)?
        .with_private_key(private_key_pem)
        .map_err(|e| message_error(e, None))?;
    cse_core::decrypt(keyring, DecryptConfig::default(), message)
        .map(|(plain, _)| plain)
        .map_err(|e| message_error(e, Some("MyAppKeys/S3RSAKey")))
}

/// A keyring for every public key in `pems`: one PEM block or several (one per recipient,
/// each data key named like the others: keyName or S3RSAKey), or one DER key.
fn recipients(options: &JsValue, pems: &[u8]) -> Result<cse_core::MultiKeyring, JsValue> {
    const BEGIN: &str = "-----BEGIN ";
    let text = core::str::from_utf8(pems).unwrap_or_default();
    let mut blocks: Vec<&[u8]> = text
        .match_indices(BEGIN)
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| &pems[w[0]..w[1]])
        .collect();
    let pem = match text.rfind(BEGIN) {
        Some(last) => {
            blocks.push(&pems[last..]);
            true
        }
        None => {
            blocks.push(pems);
            false
        }
    };
    let mut keyrings: Vec<Box<dyn cse_core::Keyring>> = Vec::with_capacity(blocks.len());
    for block in blocks {
        // One end of line after each PEM block, whatever the files ended with.
        let mut block = block.to_vec();
        if pem {
            block.truncate(block.trim_ascii_end().len());
            block.push(b'\n');
        }
        let k = keyring(options)?
            .with_public_key(&block)
            .map_err(|e| message_error(e, None))?;
        keyrings.push(Box::new(k));
    }
    let generator = keyrings.remove(0);
    cse_core::MultiKeyring::new(Some(generator), keyrings).map_err(|e| message_error(e, None))
}

/// Whether a private key file is protected by a passphrase (`ENCRYPTED PRIVATE KEY`).
#[wasm_bindgen(js_name = isEncryptedPrivateKey)]
pub fn is_encrypted_private_key(key: &[u8]) -> bool {
    cse_core::keyring::is_encrypted_private_key(key)
}

/// Decrypts a passphrase-protected private key (PKCS #8, PBES2 with PBKDF2 or scrypt, as
/// openssl writes it) into the unencrypted key (PKCS #8 DER) that `download` takes. The
/// passphrase is used here and zeroized; a wrong one is an error of kind `key`.
#[wasm_bindgen(js_name = unlockPrivateKey)]
pub fn unlock_private_key(key: &[u8], passphrase: String) -> Result<Vec<u8>, JsValue> {
    let passphrase = Zeroizing::new(passphrase);
    cse_core::keyring::decrypt_private_key(key, passphrase.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|e| message_error(e, None))
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
