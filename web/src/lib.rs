//! cse in the browser: the same message engine (`cse-core`) and S3 layer (`cse-s3`) as the
//! native tool, compiled to wasm. Files are read in slices, encrypted frame by frame and
//! uploaded as multipart uploads with several parts in flight; downloads are ranged GETs fed
//! to the streaming decryptor. Keys stay in the page.
#![forbid(unsafe_code)]
//!
//! The pipelines are `cse-transfer`'s, as in the tool: this crate only binds them to
//! JavaScript (a `Blob` source, a JS sink, a progress callback, an `AbortSignal`) and shares
//! one budget of requests in flight between every upload and download of the page.

use std::cell::{Cell, RefCell};

use cse_core::{
    AlgorithmSuite, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext, Encryptor,
    RawRsaKeyring, RsaPadding,
};
use cse_s3::{
    Addressing, Client, Config, Credentials, ErrorKind as S3ErrorKind, RetryPolicy, S3Error,
};
use cse_transfer::{Budget, Cancel, DEFAULTS, Engine, ErrorClass, Settings};
use futures_util::future::LocalBoxFuture;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Blob};
use zeroize::Zeroizing;

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
    transfer_error(cse_transfer::Error::Message(e), key_label)
}

/// A failed transfer for JavaScript: the kind from the shared classification, the hint in
/// the page's words.
fn transfer_error(e: cse_transfer::Error, key_label: Option<&str>) -> JsValue {
    use cse_core::Error as C;
    use cse_transfer::Error as T;
    let class = e.class();
    let hint = match (&e, class) {
        (T::S3(s), _) => s3_hint(s).map(str::to_string),
        (T::Unaborted { upload_id, .. }, _) => Some(format!(
            "the multipart upload {upload_id} could not be aborted: remove it with the store's tools"
        )),
        (_, ErrorClass::WrongKey) => Some(format!(
            "this object was encrypted for another key: load the private key matching {}",
            key_label.unwrap_or("the key the message names")
        )),
        (T::HeaderTooLong { .. }, _) => Some(
            "the header goes over the page's safety limit, so no more of it was read; the users' messages have headers of about a kilobyte, so it is likely not one of them"
                .into(),
        ),
        (T::Message(C::LimitExceeded { limit, .. }), _) => Some(format!(
            "the object goes over a safety limit ({}) before anything was decrypted; the users' messages hold one data key and frames of 4096 bytes, so it is likely not one of them",
            limit.setting()
        )),
        (_, ErrorClass::Refused) => Some(
            "the object holds more data keys than the safety limit allows before anything was decrypted"
                .into(),
        ),
        (T::Message(C::HeaderAuthentication | C::CommitmentMismatch), _) => Some(
            "either the object was altered or the private key is not the one it was encrypted for"
                .into(),
        ),
        (_, ErrorClass::Rejected) => {
            Some("the object is damaged or was altered: nothing was saved".into())
        }
        (_, ErrorClass::Local) => {
            Some("check the free space and permissions where the file is saved".into())
        }
        _ => None,
    };
    js_error(class.page_kind(), &e.to_string(), hint.as_deref())
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
    let namespace =
        get_string(options, "keyNamespace").unwrap_or_else(|| DEFAULTS.key_namespace.into());
    let name = get_string(options, "keyName").unwrap_or_else(|| DEFAULTS.key_name.into());
    let padding = match get_string(options, "padding") {
        Some(p) => RsaPadding::from_name(&p)
            .ok_or_else(|| js_error("config", &format!("unknown RSA padding {p:?}"), None))?,
        None => DEFAULTS.padding,
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

/// Progress for one call: message bytes moved of those started, to `onProgress(done, total)`.
struct JsProgress {
    callback: Option<Function>,
    done: Cell<u64>,
    total: Cell<u64>,
}

impl JsProgress {
    fn new(callback: Option<Function>) -> Self {
        Self {
            callback,
            done: Cell::new(0),
            total: Cell::new(0),
        }
    }
    fn report(&self) {
        if let Some(f) = &self.callback {
            let _ = f.call2(
                &JsValue::NULL,
                &(self.done.get() as f64).into(),
                &(self.total.get() as f64).into(),
            );
        }
    }
}

impl cse_transfer::Progress for JsProgress {
    fn bytes(&self, n: u64) {
        self.done.set(self.done.get() + n);
        self.report();
    }
    fn started(&self, _label: &str, size: Option<u64>) {
        self.total.set(self.total.get() + size.unwrap_or(0));
    }
}

/// A browser file read in slices.
struct BlobSource {
    blob: Blob,
    offset: u64,
    size: u64,
}

impl cse_transfer::Source for BlobSource {
    async fn read(&mut self, max: usize) -> Result<Vec<u8>, cse_transfer::Error> {
        let end = self.size.min(self.offset + max as u64);
        if end <= self.offset {
            return Ok(Vec::new());
        }
        let data = read_slice(&self.blob, self.offset, end)
            .await
            .map_err(|e| cse_transfer::Error::Local(format!("reading the file: {}", js_text(e))))?;
        self.offset = end;
        Ok(data)
    }
}

/// Bytes handed to the page's sink at a time.
const SINK_PIECE: u32 = 1 << 20;

/// The page's sink: `sink.write(Uint8Array)` (awaited when it returns a promise), with
/// pieces of at most [`SINK_PIECE`] bytes. The piece is lent: it is one buffer reused for every
/// piece, so the sink copies what it keeps before its promise settles, and no buffer is
/// left per piece for the garbage collector (a 2 GiB download would otherwise leave 2 GiB of
/// them behind, freed only as the collector gets to them). Nothing to commit: the page
/// offers the file once the call resolved, and discards it otherwise.
struct JsSink {
    sink: JsValue,
    write: Function,
    /// The lent buffer, allocated once per download.
    piece: Uint8Array,
}

impl cse_transfer::Sink for JsSink {
    async fn write(&mut self, data: &[u8]) -> Result<(), cse_transfer::Error> {
        let failed = |e: JsValue| {
            cse_transfer::Error::Local(format!("writing the decrypted file failed: {}", js_text(e)))
        };
        for part in data.chunks(SINK_PIECE as usize) {
            let view = self.piece.subarray(0, part.len() as u32);
            view.copy_from(part);
            let ret = self.write.call1(&self.sink, &view);
            let ret = match ret {
                Ok(r) if r.is_instance_of::<js_sys::Promise>() => {
                    JsFuture::from(js_sys::Promise::from(r)).await
                }
                other => other,
            };
            // Plaintext: not left in the buffer longer than needed.
            view.fill(0, 0, part.len() as u32);
            ret.map_err(failed)?;
        }
        Ok(())
    }
    async fn commit(self) -> Result<(), cse_transfer::Error> {
        Ok(())
    }
}

fn js_text(e: JsValue) -> String {
    js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap_or_default()
}

/// The cancel flag of a call, set when its `AbortSignal` fires.
fn cancel_of(signal: &Option<AbortSignal>) -> Cancel {
    let cancel = Cancel::new();
    if let Some(s) = signal {
        if s.aborted() {
            cancel.cancel();
        } else {
            let c = cancel.clone();
            let on_abort = Closure::once_into_js(move || c.cancel());
            let _ = s.add_event_listener_with_callback("abort", on_abort.unchecked_ref());
        }
    }
    cancel
}

thread_local! {
    /// The budget every transfer of the page shares, by its size.
    static BUDGET: RefCell<Option<(usize, Budget)>> = const { RefCell::new(None) };
}

/// The page's budget of `n` requests in flight (a new one when `n` changed).
fn budget(n: usize) -> Budget {
    BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        match &*b {
            Some((size, budget)) if *size == n => budget.clone(),
            _ => {
                let budget = Budget::new(n);
                *b = Some((n, budget.clone()));
                budget
            }
        }
    })
}

/// The settings of a call from its options (`partSize`, `multipartThreshold`, `concurrency`).
fn settings(options: &JsValue) -> Settings {
    let part = get_u64(options, "partSize").unwrap_or(DEFAULTS.part_size);
    Settings {
        multipart_threshold: get_u64(options, "multipartThreshold")
            .unwrap_or(DEFAULTS.multipart_threshold),
        concurrency: get_u64(options, "concurrency")
            .map_or(DEFAULTS.concurrency, |n| n.max(1) as usize),
        ..Settings::default()
    }
    .with_part_size(part)
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
        let endpoint = need("endpoint")?;
        let config = Config {
            unsigned_payload: Config::unsigned_payload_by_default(&endpoint),
            endpoint,
            region: get_string(&options, "region").unwrap_or_else(|| "us-east-1".into()),
            addressing,
            credentials: Credentials {
                access_key_id: need("accessKeyId")?,
                secret_access_key: Zeroizing::new(need("secretAccessKey")?),
                session_token: get_string(&options, "sessionToken").map(Zeroizing::new),
            },
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
    /// `{key, plaintextBytes, messageBytes, parts, suite}`. Uploads and downloads of the page
    /// share one budget of `concurrency` requests in flight, so several files go at once.
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
        let enc = Encryptor::new(&keyring, &config).map_err(|e| message_error(e, None))?;
        let size = file.size() as u64;
        let progress = JsProgress::new(on_progress);
        cse_transfer::Progress::started(&progress, &key, Some(enc.message_len(size)));
        let eng = self.engine(&options, &signal, None);
        let source = BlobSource {
            blob: file,
            offset: 0,
            size,
        };
        let up = cse_transfer::upload(&eng, &self.bucket, &key, enc, source, Some(size), &progress)
            .await
            .map_err(|e| transfer_error(e, None))?;
        Ok(result(
            &key,
            up.plaintext,
            up.message,
            up.parts,
            &up.header.suite.to_string(),
        ))
    }

    /// Downloads `key` and decrypts it with the private key, handing verified plaintext to
    /// `sink.write(Uint8Array)` (awaited when it returns a promise) in pieces of at most
    /// 1 MiB; each piece is lent until that promise settles (one buffer is reused), so the
    /// sink copies what it keeps. Resolves only once the whole message verified; on
    /// rejection, what was written must be discarded.
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
        let web_rsa = WebRsa::new(&kr, &private_key_pem).await;
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
        let eng = self.engine(&options, &signal, web_rsa);
        let info = eng
            .client
            .head_object(&self.bucket, &key)
            .await
            .map_err(s3_error)?;
        let progress = JsProgress::new(on_progress);
        cse_transfer::Progress::started(&progress, &key, Some(info.size));
        let known = cse_transfer::Known {
            size: info.size,
            etag: info.etag,
        };
        let got = cse_transfer::download(
            &eng,
            &self.bucket,
            &key,
            Some(known),
            Decryptor::new(kr, config),
            JsSink {
                sink,
                write,
                piece: Uint8Array::new_with_length(SINK_PIECE),
            },
            &progress,
        )
        .await
        .map_err(|e| transfer_error(e, Some(&key_label)))?;
        Ok(result(
            &key,
            got.plaintext,
            got.message,
            0,
            &got.header.suite.to_string(),
        ))
    }

    /// What `key`'s message says about itself, with no key and no download: a HEAD, ranged
    /// GETs of the header (1 MiB at most) and, for a signed message, of its last 140 bytes.
    /// Resolves to `{key, suite, suiteName, committing, signed, messageVersion, messageId,
    /// framed, frameLength, headerBytes, messageBytes, plaintextBytes (null when the sizes fit
    /// no layout), encryptionContext: [[key, value], …], dataKeys: ["namespace/name", …] (at
    /// most 20), dataKeyCount}`. The header is not authenticated: its text is escaped here,
    /// and is to be shown as text only.
    pub async fn inspect(&self, key: String) -> Result<JsValue, JsValue> {
        let max_header = cse_core::DEFAULT_MAX_HEADER_SIZE as u64;
        let facts =
            cse_transfer::inspect::inspect_object(&self.client, &self.bucket, &key, max_header)
                .await
                .map_err(|e| transfer_error(e, None))?;
        Ok(facts_object(&key, &facts))
    }
}

impl S3Client {
    /// The engine of one call: the page's shared budget, the call's settings and cancel flag.
    /// The engine of one call; `keys`: a download's private key in WebCrypto.
    fn engine(
        &self,
        options: &JsValue,
        signal: &Option<AbortSignal>,
        keys: Option<WebRsa>,
    ) -> Engine<PageExec> {
        let settings = settings(options);
        Engine {
            client: self.client.clone(),
            budget: budget(settings.concurrency),
            settings,
            cancel: cancel_of(signal),
            exec: PageExec::new(keys),
        }
    }
}

/// Characters kept of one context key or value (as the tool shows them).
const SHOWN_CHARS: usize = 1024;

fn facts_object(key: &str, f: &cse_transfer::inspect::Facts) -> JsValue {
    let h = &f.header;
    let o = Object::new();
    let set = |name: &str, value: &JsValue| {
        let _ = Reflect::set(&o, &name.into(), value);
    };
    set("key", &key.into());
    set("suite", &h.suite.to_string().into());
    set("suiteName", &h.suite.name().into());
    set("committing", &h.suite.is_committing().into());
    set("signed", &h.suite.is_signed().into());
    set("messageVersion", &h.version().into());
    set("messageId", &f.message_id_hex().into());
    set(
        "framed",
        &(h.content_type == cse_core::ContentType::Framed).into(),
    );
    set("frameLength", &h.frame_length.into());
    set("headerBytes", &(f.header_len as f64).into());
    set("messageBytes", &(f.size as f64).into());
    set(
        "plaintextBytes",
        &f.plaintext.map_or(JsValue::NULL, |p| (p as f64).into()),
    );
    // Pairs, not an object: a key such as `__proto__` stays a key.
    let context = Array::new();
    for (k, v) in &h.encryption_context {
        let pair = Array::new();
        pair.push(&cse_core::printable(k, SHOWN_CHARS).into());
        pair.push(&cse_core::printable(v, SHOWN_CHARS).into());
        context.push(&pair);
    }
    set("encryptionContext", &context);
    let (shown, _) = f.shown_data_keys();
    let keys = Array::new();
    for k in shown {
        keys.push(&k.into());
    }
    set("dataKeys", &keys);
    set("dataKeyCount", &(h.encrypted_data_keys.len() as f64).into());
    o.into()
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

/// Frame AES-GCM in the browser's WebCrypto (`www/gcm.js`): core lays out the frames and
/// gives each one's IV, AAD and place; this only seals or opens them.
mod webcrypto {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/www/gcm.js")]
    extern "C" {
        #[wasm_bindgen(js_name = available)]
        pub fn gcm_available() -> bool;
        #[wasm_bindgen(js_name = importFrameKey, catch)]
        pub async fn import_frame_key(raw: &js_sys::Uint8Array) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(js_name = sealFrames, catch)]
        pub fn seal_frames(
            key: &JsValue,
            view: &[u8],
            ivs: &js_sys::Uint8Array,
            aads: &js_sys::Uint8Array,
            aad_len: u32,
            starts: &js_sys::Uint32Array,
            len: u32,
        ) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = openFrames, catch)]
        pub fn open_frames(
            key: &JsValue,
            view: &[u8],
            ivs: &js_sys::Uint8Array,
            aads: &js_sys::Uint8Array,
            aad_len: u32,
            starts: &js_sys::Uint32Array,
            len: u32,
        ) -> Result<js_sys::Promise, JsValue>;
    }
}

/// The IVs, AADs (each of `aad_len` bytes) and frame starts of `n` frames, packed for gcm.js.
struct FrameParams {
    ivs: Uint8Array,
    aads: Uint8Array,
    aad_len: u32,
    starts: js_sys::Uint32Array,
}

impl FrameParams {
    fn new(
        n: usize,
        iv: impl Fn(usize) -> [u8; 12],
        aad: impl Fn(usize) -> cse_core::FrameAad,
        start: impl Fn(usize) -> usize,
    ) -> Self {
        let mut ivs = Vec::with_capacity(n * 12);
        let mut aads = Vec::new();
        let mut starts = Vec::with_capacity(n);
        for i in 0..n {
            ivs.extend_from_slice(&iv(i));
            aads.extend_from_slice(aad(i).as_ref());
            starts.push(start(i) as u32);
        }
        Self {
            ivs: Uint8Array::from(&ivs[..]),
            aads: Uint8Array::from(&aads[..]),
            aad_len: (aads.len() / n.max(1)) as u32,
            starts: js_sys::Uint32Array::from(&starts[..]),
        }
    }
}

/// One message's frame key, imported into WebCrypto (non-extractable).
struct WebGcm {
    key: JsValue,
}

impl WebGcm {
    /// `None` where WebCrypto is missing (pages served over plain http from another host)
    /// or refuses the key (Chromium has no AES-192): core then seals or opens the frames.
    async fn new(raw: Zeroizing<Vec<u8>>) -> Option<Self> {
        if !webcrypto::gcm_available() {
            return None;
        }
        let copy = Uint8Array::from(&raw[..]);
        drop(raw);
        // gcm.js zeroes `copy` once WebCrypto took the key (or refused it).
        let key = webcrypto::import_frame_key(&copy).await.ok()?;
        Some(Self { key })
    }

    /// Seals every frame of `staged` in `out` (ciphertext ‖ tag over each frame's range);
    /// `meanwhile` runs here while the browser seals them.
    async fn seal(
        &self,
        staged: &cse_core::Staged,
        out: &mut [u8],
        meanwhile: impl FnOnce(),
    ) -> Result<(), JsValue> {
        let n = staged.count();
        if n == 0 {
            return Ok(());
        }
        let base = staged.offset();
        let p = FrameParams::new(
            n,
            |i| staged.iv(i),
            |i| staged.aad(i),
            |i| staged.sealed_range(i).start - base,
        );
        // WebCrypto copies each frame's plaintext during this call, from a view of `out`.
        let sealing = webcrypto::seal_frames(
            &self.key,
            &out[base..staged.end()],
            &p.ivs,
            &p.aads,
            p.aad_len,
            &p.starts,
            staged.frame_len() as u32,
        )?;
        meanwhile();
        let sealed = js_sys::Array::from(&JsFuture::from(sealing).await?);
        for i in 0..n {
            let r = staged.sealed_range(i);
            let ct = Uint8Array::new(&sealed.get(i as u32));
            if ct.length() as usize != r.len() {
                return Err(js_error(
                    "config",
                    "WebCrypto sealed a frame to the wrong length",
                    None,
                ));
            }
            ct.copy_to(&mut out[r]);
        }
        Ok(())
    }

    /// Opens the run of `d`: the plaintext of the frames that verified goes to `plain`
    /// (frame length bytes each, in order), and the first frame that did not, if any, is
    /// returned.
    /// `meanwhile` runs here while the browser opens them.
    async fn open(
        &self,
        d: &cse_core::Deferred,
        plain: &mut Zeroizing<Vec<u8>>,
        meanwhile: impl FnOnce(),
    ) -> Result<Option<usize>, JsValue> {
        let (n, f) = (d.count(), d.frame_len());
        let p = FrameParams::new(n, |i| d.iv(i), |i| d.aad(i), |i| d.sealed_range(i).start);
        // WebCrypto copies each frame during this call, from a view of the run.
        let opening = webcrypto::open_frames(
            &self.key,
            d.frames(),
            &p.ivs,
            &p.aads,
            p.aad_len,
            &p.starts,
            f as u32,
        )?;
        meanwhile();
        let frames = js_sys::Array::from(&JsFuture::from(opening).await?);
        plain.clear();
        plain.resize(n * f, 0);
        let mut failed = None;
        for i in 0..n {
            let b = frames.get(i as u32);
            if failed.is_some() || b.is_null() {
                failed = failed.or(Some(i));
            } else {
                let pt = Uint8Array::new(&b);
                if pt.length() as usize != f {
                    return Err(js_error(
                        "config",
                        "WebCrypto opened a frame to the wrong length",
                        None,
                    ));
                }
                pt.copy_to(&mut plain[i * f..(i + 1) * f]);
            }
            // The browser's copy of the plaintext, zeroed.
            if !b.is_null() {
                Uint8Array::new(&b).fill(0, 0, f as u32);
            }
        }
        if let Some(i) = failed {
            zeroize::Zeroize::zeroize(&mut plain[i * f..]);
            plain.truncate(i * f);
        }
        Ok(failed)
    }
}

fn transfer_webcrypto_error(e: JsValue) -> cse_transfer::Error {
    cse_transfer::Error::Local(format!("WebCrypto AES-GCM failed: {}", js_text(e)))
}

impl cse_transfer::FrameKey for WebGcm {
    fn seal<'a>(
        &'a self,
        staged: &'a cse_core::Staged,
        out: &'a mut [u8],
        meanwhile: &'a mut dyn FnMut(),
    ) -> LocalBoxFuture<'a, Result<(), cse_transfer::Error>> {
        Box::pin(async move {
            WebGcm::seal(self, staged, out, meanwhile)
                .await
                .map_err(transfer_webcrypto_error)
        })
    }

    fn open<'a>(
        &'a self,
        run: &'a cse_core::Deferred,
        plain: &'a mut Zeroizing<Vec<u8>>,
        meanwhile: &'a mut dyn FnMut(),
    ) -> LocalBoxFuture<'a, Result<Option<usize>, cse_transfer::Error>> {
        Box::pin(async move {
            WebGcm::open(self, run, plain, meanwhile)
                .await
                .map_err(transfer_webcrypto_error)
        })
    }
}

/// The data key's RSA-OAEP unwrap in the browser's WebCrypto (`www/rsa.js`): native and
/// off the engine's thread, where wasm spends a fifth of a second on an RSA-4096 key.
mod webrsa {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/www/rsa.js")]
    extern "C" {
        #[wasm_bindgen(js_name = importUnwrapKey)]
        pub async fn import_unwrap_key(pkcs8: &js_sys::Uint8Array, hash: &str) -> JsValue;
        #[wasm_bindgen(js_name = unwrap)]
        pub async fn unwrap(key: &JsValue, ciphertext: &js_sys::Uint8Array) -> JsValue;
    }
}

/// The private key of a call imported into WebCrypto, with the keyring's name: it unwraps
/// the data keys cse-core hands out ([`cse_core::Decryptor::unwrap_outside`]).
struct WebRsa {
    key: JsValue,
    namespace: String,
    name: String,
}

impl WebRsa {
    /// `None` where WebCrypto is missing, the padding is not OAEP (PKCS #1 v1.5 is not in
    /// WebCrypto) or the key is refused: the keyring unwraps in wasm then.
    async fn new(keyring: &RawRsaKeyring, private_key: &[u8]) -> Option<Self> {
        let hash = match keyring.padding() {
            RsaPadding::Pkcs1 => return None,
            RsaPadding::OaepSha1 => "SHA-1",
            RsaPadding::OaepSha256 => "SHA-256",
            RsaPadding::OaepSha384 => "SHA-384",
            RsaPadding::OaepSha512 => "SHA-512",
        };
        if !webcrypto::gcm_available() {
            return None;
        }
        let der = cse_core::keyring::private_key_pkcs8_der(private_key).ok()?;
        let copy = Uint8Array::from(&der[..]);
        drop(der);
        // rsa.js zeroes `copy` once WebCrypto took the key (or refused it).
        let key = webrsa::import_unwrap_key(&copy, hash).await;
        (!key.is_null()).then(|| Self {
            key,
            namespace: keyring.namespace().to_string(),
            name: keyring.name().to_string(),
        })
    }

    /// The first candidate that unwraps to a key of the suite's length.
    async fn unwrap(
        &self,
        request: cse_core::KeyRequest<'_>,
    ) -> Option<cse_core::keyring::DataKey> {
        for edk in request.candidates(&self.namespace, self.name.as_bytes()) {
            let out = webrsa::unwrap(&self.key, &Uint8Array::from(&edk.ciphertext[..])).await;
            if out.is_null() {
                continue;
            }
            let out = Uint8Array::new(&out);
            let key = Zeroizing::new(out.to_vec());
            out.fill(0, 0, out.length());
            if key.len() == request.data_key_len() {
                return Some(cse_core::keyring::DataKey::new(key.to_vec()));
            }
        }
        None
    }
}

impl cse_transfer::KeyUnwrap for WebRsa {
    fn unwrap<'a>(
        &'a self,
        request: cse_core::KeyRequest<'a>,
    ) -> LocalBoxFuture<'a, Option<cse_core::keyring::DataKey>> {
        Box::pin(WebRsa::unwrap(self, request))
    }
}

/// The signature hash of signed messages on a Worker of its own (`www/hash.js`), fed the
/// bytes cse-core hands out ([`cse_core::Encryptor::hash_outside`],
/// [`cse_core::Decryptor::hash_outside`]).
mod webhash {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/www/hash.js")]
    extern "C" {
        #[wasm_bindgen(js_name = available)]
        pub fn hash_available() -> bool;
        pub fn prestart() -> js_sys::Promise;

        pub type OutsideHash;
        #[wasm_bindgen(constructor)]
        pub fn new(len: usize) -> OutsideHash;
        #[wasm_bindgen(method)]
        pub fn update(this: &OutsideHash, data: &[u8]);
        #[wasm_bindgen(method)]
        pub fn digest(this: &OutsideHash) -> js_sys::Promise;
        #[wasm_bindgen(method)]
        pub fn drop(this: &OutsideHash);
    }
}

/// One message's signature hash on the hash Worker; dropped unfinished, it is forgotten there.
struct WorkerHash {
    hash: Option<webhash::OutsideHash>,
    len: usize,
}

impl WorkerHash {
    /// `None` where the page cannot start the Worker: core hashes then.
    fn new(len: usize) -> Option<Self> {
        webhash::hash_available().then_some(Self { hash: None, len })
    }

    /// Sends `data` (copied) to be hashed.
    fn update(&mut self, data: &[u8]) {
        self.hash
            .get_or_insert_with(|| webhash::OutsideHash::new(self.len))
            .update(data);
    }

    /// The digest of everything sent.
    async fn digest(mut self) -> Result<Vec<u8>, JsValue> {
        let h = self
            .hash
            .take()
            .unwrap_or_else(|| webhash::OutsideHash::new(self.len));
        let d = JsFuture::from(h.digest()).await?;
        Ok(Uint8Array::new(&d).to_vec())
    }
}

impl cse_transfer::MessageHasher for WorkerHash {
    fn update(&mut self, data: &[u8]) {
        WorkerHash::update(self, data);
    }

    fn digest(self: Box<Self>) -> LocalBoxFuture<'static, Result<Vec<u8>, cse_transfer::Error>> {
        Box::pin(async move {
            WorkerHash::digest(*self).await.map_err(|e| {
                cse_transfer::Error::Local(format!("the hash Worker failed: {}", js_text(e)))
            })
        })
    }
}

impl Drop for WorkerHash {
    fn drop(&mut self) {
        if let Some(h) = self.hash.take() {
            h.drop();
        }
    }
}

/// A message's signature hash (SHA-384 or SHA-256, by the digest's length: 48 or 32), for
/// the page's hash Worker (`www/hash.js`).
#[wasm_bindgen]
pub struct MessageDigest(DigestState);

impl std::fmt::Debug for MessageDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageDigest(..)")
    }
}

enum DigestState {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
}

#[wasm_bindgen]
impl MessageDigest {
    #[wasm_bindgen(constructor)]
    pub fn new(len: usize) -> Result<MessageDigest, JsValue> {
        use sha2::Digest;
        match len {
            32 => Ok(Self(DigestState::Sha256(sha2::Sha256::new()))),
            48 => Ok(Self(DigestState::Sha384(sha2::Sha384::new()))),
            _ => Err(js_error("config", "a digest of 32 or 48 bytes", None)),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match &mut self.0 {
            DigestState::Sha256(h) => h.update(data),
            DigestState::Sha384(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        use sha2::Digest;
        match self.0 {
            DigestState::Sha256(h) => h.finalize().to_vec(),
            DigestState::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

/// The page's frame cipher: WebCrypto AES-GCM.
#[derive(Debug)]
struct WebCrypto;

impl cse_transfer::FrameCipher for WebCrypto {
    fn import(
        &self,
        raw: Zeroizing<Vec<u8>>,
    ) -> LocalBoxFuture<'_, Result<Option<Box<dyn cse_transfer::FrameKey>>, cse_transfer::Error>>
    {
        Box::pin(async move {
            Ok(WebGcm::new(raw)
                .await
                .map(|g| Box::new(g) as Box<dyn cse_transfer::FrameKey>))
        })
    }
}

/// Where the page's transfers run their CPU work: inline (one thread), with frame AES-GCM in
/// WebCrypto where the page has it, and a download's data key unwrapped there too.
struct PageExec {
    webcrypto: Option<WebCrypto>,
    keys: Option<WebRsa>,
    /// Whether signed messages are hashed on the hash Worker: for whole buffers only. In the
    /// page's uploads it kept one part in flight where the engine's own hash keeps two
    /// (browser case a2, a 24 MiB upload in parts of 8 MiB), for a reason not found yet.
    hash_worker: bool,
}

impl std::fmt::Debug for PageExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageExec")
            .field("webcrypto", &self.webcrypto)
            .field("keys", &self.keys.is_some())
            .field("hash_worker", &self.hash_worker)
            .finish()
    }
}

impl PageExec {
    /// For transfers: `keys`, a download's private key in WebCrypto.
    fn new(keys: Option<WebRsa>) -> Self {
        Self {
            webcrypto: webcrypto::gcm_available().then_some(WebCrypto),
            keys,
            hash_worker: false,
        }
    }

    /// For a whole buffer: with the hash Worker.
    fn for_buffer(keys: Option<WebRsa>) -> Self {
        Self {
            hash_worker: true,
            ..Self::new(keys)
        }
    }
}

impl cse_transfer::Exec for PageExec {
    fn run<R, F>(&self, f: F) -> impl std::future::Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        std::future::ready(f())
    }

    fn frames(&self) -> Option<&dyn cse_transfer::FrameCipher> {
        self.webcrypto
            .as_ref()
            .map(|w| w as &dyn cse_transfer::FrameCipher)
    }

    fn keys(&self) -> Option<&dyn cse_transfer::KeyUnwrap> {
        self.keys
            .as_ref()
            .map(|k| k as &dyn cse_transfer::KeyUnwrap)
    }

    fn hasher(&self, digest_len: usize) -> Option<Box<dyn cse_transfer::MessageHasher>> {
        if !self.hash_worker {
            return None;
        }
        WorkerHash::new(digest_len).map(|h| Box::new(h) as Box<dyn cse_transfer::MessageHasher>)
    }
}

/// Starts the Worker that hashes signed messages for `encryptBuffer`/`decryptBuffer`, for a
/// caller that will use them: otherwise the first signed message starts it, and waits about a
/// tenth of a second for it. Resolves once it is ready. The page's transfers do not use it.
#[wasm_bindgen(js_name = startHashWorker)]
pub async fn start_hash_worker() {
    let _ = JsFuture::from(webhash::prestart()).await;
}

/// Encrypts a whole buffer (benchmarks, small files) as the page's uploads do: frames in
/// WebCrypto and the signature hash on its Worker where the page has them, else in wasm;
/// resolves to the message.
#[wasm_bindgen(js_name = encryptBuffer)]
pub async fn encrypt_buffer(
    public_key_pem: Vec<u8>,
    data: Vec<u8>,
    suite: u16,
    frame_length: u32,
) -> Result<Vec<u8>, JsValue> {
    let options = Object::new();
    let _ = Reflect::set(&options, &"suite".into(), &suite.into());
    let _ = Reflect::set(&options, &"frameLength".into(), &frame_length.into());
    let options: JsValue = options.into();
    let keyring = keyring(&options)?
        .with_public_key(&public_key_pem)
        .map_err(|e| message_error(e, None))?;
    let config = encrypt_config(&options)?;
    let enc = Encryptor::new(&keyring, &config).map_err(|e| message_error(e, None))?;
    cse_transfer::encrypt_in_memory(&PageExec::for_buffer(None), enc, &data)
        .await
        .map_err(|e| transfer_error(e, None))
}

/// Decrypts a whole message (benchmarks, small files) as the page's downloads do: frames
/// and the data key's unwrap in WebCrypto, the signature hash on its Worker, where the page
/// has them; core checks everything and decides what is released. Resolves to the plaintext
/// once the whole message verified.
#[wasm_bindgen(js_name = decryptBuffer)]
pub async fn decrypt_buffer(
    private_key_pem: Vec<u8>,
    message: Vec<u8>,
) -> Result<Vec<u8>, JsValue> {
    let private_key_pem = Zeroizing::new(private_key_pem);
    let keyring = keyring(&JsValue::UNDEFINED)?;
    let key_label = format!("{}/{}", keyring.namespace(), keyring.name());
    let web_rsa = WebRsa::new(&keyring, &private_key_pem).await;
    let keyring = keyring
        .with_private_key(&private_key_pem)
        .map_err(|e| message_error(e, None))?;
    let dec = Decryptor::new(keyring, DecryptConfig::default());
    let mut plain = cse_transfer::decrypt_in_memory(&PageExec::for_buffer(web_rsa), dec, &message)
        .await
        .map_err(|e| transfer_error(e, Some(&key_label)))?;
    Ok(std::mem::take(&mut *plain))
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
