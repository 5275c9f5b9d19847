//! The S3 commands: cp, ls, rm, mb, mpu.

use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use cse_core::{Decryptor, Encryptor};
use cse_s3::Client;
use cse_transfer::{Engine, Exec, Known, Progress, Summary};
use futures_util::{Stream, StreamExt};

use crate::cli::{Cli, Command, CpArgs, MpuCommand};
use crate::config::{Config, Filter, Output};
use crate::error::{Failure, Kind, shown};
use crate::output::Sink;
use crate::printer;
use crate::resume;
use crate::s3url::parse_s3_url;
use crate::transfer::{Bars, FileSink, ReadSource, Threads};

/// Whether `path` is selected: the last `--include`/`--exclude` pattern that matches it
/// decides; none matching means included.
fn selected(filters: &[Filter], path: &str) -> bool {
    filters
        .iter()
        .rev()
        .find(|f| f.pattern.matches(path))
        .is_none_or(|f| f.include)
}

fn client(config: &Config) -> Result<Client, Failure> {
    Ok(Client::new(config.s3()?.clone())?)
}

/// How a command's transfers run: the engine (client, settings, budget, cancel flag) and
/// what only the tool knows.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) engine: Engine<Threads>,
    expected_size: Option<u64>,
    bars: bool,
}

pub(crate) fn plan(config: &Config) -> Result<Plan, Failure> {
    let t = config.transfer()?;
    Ok(Plan {
        engine: Engine::new(
            client(config)?,
            t.settings,
            crate::signal::cancel(),
            Threads,
        ),
        expected_size: t.expected_size,
        bars: config.output.bars,
    })
}

fn s3_target(url: &str) -> Result<(&str, &str), Failure> {
    parse_s3_url(url)
        .ok_or_else(|| Failure::config(format!("{url:?} is not an s3://bucket[/key] URL")))
}

pub async fn run(cli: &Cli, config: &Config) -> Result<(), Failure> {
    let filters = &config.filters;
    match &cli.command {
        Command::Cp(args) => cp(config, args, filters).await,
        Command::Verify(args) => {
            let results = crate::verify::run(config, args).await?;
            crate::printer::verified(results, config.output)
        }
        Command::Ls(args) => {
            let (bucket, prefix) = s3_target(&args.target)?;
            let c = client(config)?;
            ls(&c, bucket, prefix, args.recursive).await
        }
        Command::Rm(args) => {
            let (bucket, key) = s3_target(&args.target)?;
            let c = client(config)?;
            if !args.recursive {
                if key.is_empty() {
                    return Err(Failure::config("give a key, or --recursive for a prefix"));
                }
                c.delete_object(bucket, key).await?;
                return printer::deleted(bucket, key, config.output);
            }
            let concurrency = config.transfer()?.settings.concurrency;
            rm_recursive(&c, bucket, key, filters, config.output, concurrency).await
        }
        Command::Mb(args) => {
            let (bucket, _) = s3_target(&args.target)?;
            client(config)?.create_bucket(bucket).await?;
            printer::made_bucket(bucket, config.output)
        }
        Command::Mpu(MpuCommand::Ls { target, .. }) => {
            let (bucket, prefix) = s3_target(target)?;
            let c = client(config)?;
            let local = local_states(&c, bucket);
            for u in c.list_multipart_uploads(bucket, prefix).await? {
                // An upload cse can continue says from which file, and how far it got.
                let state = local
                    .iter()
                    .find(|l| l.key == u.key && l.upload_id == u.upload_id);
                printer::multipart_upload(&u, state)?;
            }
            Ok(())
        }
        Command::Mpu(MpuCommand::Abort {
            target,
            upload_id,
            all,
            ..
        }) => {
            let (bucket, key) = s3_target(target)?;
            let c = client(config)?;
            let uploads = match (upload_id, all) {
                (Some(id), _) => vec![(key.to_string(), id.clone())],
                (None, true) => c
                    .list_multipart_uploads(bucket, key)
                    .await?
                    .into_iter()
                    .map(|u| (u.key, u.upload_id))
                    .collect(),
                (None, false) => return Err(Failure::config("give --upload-id ID or --all")),
            };
            let local = local_states(&c, bucket);
            for (k, id) in uploads {
                c.abort_multipart_upload(bucket, &k, &id).await?;
                for l in local.iter().filter(|l| l.key == k && l.upload_id == id) {
                    let _ = std::fs::remove_file(&l.path);
                }
                printer::aborted(bucket, &k, &id, config.output)?;
            }
            Ok(())
        }
        Command::Keygen(_) | Command::Encrypt(_) | Command::Decrypt(_) | Command::Inspect(_) => {
            Err(Failure::other("internal: local command on the S3 path"))
        }
    }
}

/// The resumable uploads recorded on this machine for `bucket` at `c`'s endpoint.
fn local_states(c: &Client, bucket: &str) -> Vec<resume::Listed> {
    let Ok(dir) = resume::state_dir() else {
        return Vec::new();
    };
    resume::list(&dir)
        .into_iter()
        .filter(|l| l.endpoint == c.config().endpoint && l.bucket == bucket)
        .collect()
}

async fn ls(c: &Client, bucket: &str, prefix: &str, recursive: bool) -> Result<(), Failure> {
    let mut token: Option<String> = None;
    loop {
        let delimiter = (!recursive).then_some("/");
        let page = c
            .list_objects(bucket, prefix, delimiter, token.as_deref())
            .await?;
        for p in &page.prefixes {
            printer::listed_prefix(p.strip_prefix(prefix).unwrap_or(p))?;
        }
        for o in &page.objects {
            let name = if recursive {
                o.key.as_str()
            } else {
                o.key.strip_prefix(prefix).unwrap_or(&o.key)
            };
            printer::listed_object(o, name)?;
        }
        match page.next_token {
            Some(t) if token.as_ref() == Some(&t) => {
                return Err(Failure::new(
                    Kind::S3,
                    "the listing gave the same continuation token twice",
                ));
            }
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

/// Deletes one listed page of keys: a batch request, or one by one (`concurrency` at once)
/// where the store lacks it. Gives the keys that failed with their error codes.
async fn delete_page(
    c: &Client,
    bucket: &str,
    keys: &[String],
    concurrency: usize,
) -> Result<Vec<(String, String)>, Failure> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    match c.delete_objects(bucket, keys).await {
        Ok(errors) => Ok(errors),
        // Some S3-compatible stores lack the batch call: delete one by one.
        Err(e) if e.status() == Some(501) => {
            let results: Vec<_> = futures_util::stream::iter(keys)
                .map(|k| async move { (k, c.delete_object(bucket, k).await) })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            Ok(results
                .into_iter()
                .filter_map(|(k, r)| {
                    r.err()
                        .map(|e| (k.clone(), e.code().unwrap_or("error").to_string()))
                })
                .collect())
        }
        Err(e) => Err(e.into()),
    }
}

/// `cse rm -r`: the listing is read page by page (never collected), each page deleted while
/// the next one is listed.
async fn rm_recursive(
    c: &Client,
    bucket: &str,
    prefix: &str,
    filters: &[Filter],
    out: Output,
    concurrency: usize,
) -> Result<(), Failure> {
    let mut token: Option<String> = None;
    let mut page = Some(c.list_objects(bucket, prefix, None, None).await?);
    let (mut failed_count, mut first_failed) = (0u64, None);
    while let Some(p) = page.take() {
        let mut keys = Vec::with_capacity(p.objects.len());
        for o in p.objects {
            let rel = relative_key(&o.key, prefix, bucket)?;
            if selected(filters, rel) {
                keys.push(o.key);
            }
        }
        let next = async {
            match &p.next_token {
                Some(t) if token.as_ref() == Some(t) => Err(Failure::new(
                    Kind::S3,
                    "the listing gave the same continuation token twice",
                )),
                Some(t) => Ok(Some(c.list_objects(bucket, prefix, None, Some(t)).await?)),
                None => Ok(None),
            }
        };
        let (deleted, next) =
            futures_util::future::join(delete_page(c, bucket, &keys, concurrency), next).await;
        let failed = deleted?;
        if !out.quiet {
            let failed: std::collections::HashSet<&str> =
                failed.iter().map(|(k, _)| k.as_str()).collect();
            for k in &keys {
                if !failed.contains(k.as_str()) {
                    printer::deleted(bucket, k, out)?;
                }
            }
        }
        failed_count += failed.len() as u64;
        if first_failed.is_none() {
            first_failed = failed.into_iter().next();
        }
        page = next?;
        token = p.next_token;
    }
    if let Some((k, code)) = first_failed {
        return Err(Failure::new(
            Kind::S3,
            format!(
                "{failed_count} deletions failed, e.g. {}: {}",
                shown(&format!("s3://{bucket}/{k}")),
                shown(&code)
            ),
        ));
    }
    Ok(())
}

/// An object to download: its key, its path below the prefix, and its size and ETag when
/// listed (no HEAD then).
#[derive(Debug)]
struct Remote {
    key: String,
    rel: String,
    known: Option<Known>,
}

type Jobs<'a, J> = Pin<Box<dyn Stream<Item = Result<J, Failure>> + 'a>>;

/// One object copied, for the printer: where from, where to, and what the transfer found.
#[derive(Debug)]
pub(crate) enum Copied {
    Up {
        source: String,
        target: String,
        done: cse_transfer::Uploaded,
    },
    Down {
        source: String,
        dest: String,
        done: cse_transfer::Downloaded,
    },
}

/// Ends a command of many objects: success, or one line of what was and was not copied
/// (when recursive) and the first failure (which gives the exit status).
fn finish(summary: Summary<Failure>, many: bool) -> Result<(), Failure> {
    if summary.is_complete() {
        return Ok(());
    }
    if many {
        printer::copy_summary(&summary);
    }
    let Summary {
        mut failed,
        listing,
        ..
    } = summary;
    Err(listing
        .or_else(|| (!failed.is_empty()).then(|| failed.swap_remove(0).1))
        .unwrap_or_else(|| Failure::interrupted(crate::signal::stop_name())))
}

/// `cse cp`: one object or many (`-r`), up to `--concurrency` requests in flight for all of
/// them together; the first failure stops new work.
async fn cp(config: &Config, args: &CpArgs, filters: &[Filter]) -> Result<(), Failure> {
    let plan = plan(config)?;
    let eng = &plan.engine;
    let spec = config.keys()?;
    let many = args.recursive;
    let bars = Bars::new(plan.bars, many);
    let print = |_: &str, r: &Result<Copied, Failure>| printer::copied(r, &bars, config.output);
    let concurrency = eng.settings.concurrency;
    let summary = match (parse_s3_url(&args.src), parse_s3_url(&args.dst)) {
        (None, Some((bucket, key))) => {
            let message = config.encrypt()?;
            let keyring = Arc::new(spec.encrypting(&message.recipients)?);
            let config = message.config.clone();
            let stdin = args.src == "-";
            let resumable = !stdin && !args.no_resume;
            let settings_id = if resumable {
                let recipients = spec.recipients_id(&message.recipients)?;
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(format!("{recipients}\0{config:?}")))
            } else {
                String::new()
            };
            let settings_id = &settings_id;
            let sources = local_sources(&args.src, args.recursive, filters)?;
            let name = move |path: &Path| {
                if stdin {
                    "-".to_string()
                } else {
                    path.display().to_string()
                }
            };
            let work = |(path, rel): (PathBuf, String)| {
                let key = object_key(key, &rel, args.recursive, &args.src);
                let shown_src = name(&path);
                let (keyring, config, bars) = (keyring.clone(), config.clone(), &bars);
                async move {
                    let target = format!("s3://{bucket}/{key}");
                    let (input, len, resume): (Box<dyn std::io::Read + Send>, _, _) = if stdin {
                        (Box::new(std::io::stdin()), None, None)
                    } else {
                        let mut f = std::fs::File::open(&path).map_err(|e| {
                            Failure::other(format!("{}: {e}", shown(&path.display())))
                        })?;
                        let len = f.metadata().ok().map(|m| m.len());
                        // Only uploads in parts can continue; a single PUT starts over.
                        let resume = match len {
                            Some(n) if resumable && n > eng.settings.multipart_threshold => {
                                let source = std::path::absolute(&path).map_err(|e| {
                                    Failure::other(format!("{}: {e}", shown(&path.display())))
                                })?;
                                let fingerprint = resume::Fingerprint::of(&mut f).map_err(|e| {
                                    Failure::other(format!("{}: {e}", shown(&path.display())))
                                })?;
                                Some((source, fingerprint))
                            }
                            _ => None,
                        };
                        (Box::new(f), len, resume)
                    };
                    let provider = config.provider;
                    let prepared = match resume {
                        None => None,
                        Some((source, fingerprint)) => Some(
                            resume_or_start(
                                eng,
                                bucket,
                                &key,
                                &source,
                                fingerprint,
                                settings_id,
                                provider,
                                &shown_src,
                            )
                            .await?,
                        ),
                    };
                    let (enc, state, earlier) = match prepared {
                        Some(Prepared::Resume(resumed)) => {
                            let (state, enc, earlier) = *resumed;
                            (enc, Some(state), Some(earlier))
                        }
                        Some(Prepared::Start(dir, source, fingerprint)) => {
                            let (enc, secret) = eng
                                .exec
                                .run(move || Encryptor::new_resumable(&*keyring, &config))
                                .await
                                .map_err(|e| Failure::message(e, None))?;
                            let target = resume::Target {
                                endpoint: &eng.client.config().endpoint,
                                bucket,
                                key: &key,
                                source: &source,
                                fingerprint,
                                settings: settings_id.clone(),
                            };
                            let state = resume::Upload::new(&dir, target, &secret)?;
                            (enc, Some(state), None)
                        }
                        None => {
                            let enc = eng
                                .exec
                                .run(move || Encryptor::new(&*keyring, &config))
                                .await
                                .map_err(|e| Failure::message(e, None))?;
                            (enc, None, None)
                        }
                    };
                    bars.started(&shown_src, len.map(|n| enc.message_len(n)));
                    let up = cse_transfer::upload_resumable(
                        eng,
                        bucket,
                        &key,
                        enc,
                        ReadSource::new(input, len),
                        len.or(plan.expected_size),
                        bars,
                        state.as_ref().map(|s| cse_transfer::Resumable {
                            journal: s,
                            earlier,
                        }),
                    )
                    .await;
                    bars.finished(&shown_src, up.is_ok());
                    if let Some(state) = &state
                        && !matches!(up, Err(cse_transfer::Error::Suspended { .. }))
                    {
                        // Completed, or aborted: nothing to continue.
                        state.remove();
                    }
                    let up = up.map_err(|e| {
                        let hint = match &e {
                            cse_transfer::Error::Suspended { upload_id, .. } => Some(format!(
                                "run the same command again to continue it, or discard it \
                                 with `cse mpu abort {} --upload-id {}`",
                                shown(&target),
                                shown(upload_id)
                            )),
                            _ => None,
                        };
                        let f = Failure::transfer(e, None)
                            .context(shown(&format!("{shown_src} to {target}")));
                        match hint {
                            Some(h) => f.with_hint(h),
                            None => f,
                        }
                    })?;
                    Ok(Copied::Up {
                        source: shown_src,
                        target,
                        done: up,
                    })
                }
            };
            let jobs = futures_util::stream::iter(sources.into_iter().map(Ok::<_, Failure>));
            let label = |(path, _): &(PathBuf, String)| name(path);
            cse_transfer::run_all(jobs, concurrency, &eng.cancel, label, work, print).await
        }
        (Some((bucket, key)), None) => {
            let message = config.decrypt()?;
            let (pem, config) = (&message.private_key, message.config.clone());
            let jobs: Jobs<'_, Remote> = if args.recursive {
                let prefix = key;
                let listed = cse_transfer::list(&eng.client, bucket, prefix);
                Box::pin(listed.filter_map(move |o| {
                    std::future::ready(listed_job(o, bucket, prefix, filters))
                }))
            } else {
                if key.is_empty() {
                    return Err(Failure::config(
                        "give an object key, or --recursive for a prefix",
                    ));
                }
                Box::pin(futures_util::stream::iter([Ok(Remote {
                    key: key.to_string(),
                    rel: String::new(),
                    known: None,
                })]))
            };
            // Read and parse the private key once for every object.
            let keyring = Arc::new(spec.decrypting(pem)?);
            let key_label = spec.label();
            let work = |r: Remote| {
                let (keyring, config, bars, key_label) =
                    (keyring.clone(), config.clone(), &bars, &key_label);
                async move {
                    let dest = local_destination(&args.dst, &r.key, &r.rel, args.recursive)?;
                    let dest_text = dest.display().to_string();
                    let label = format!("s3://{bucket}/{}", r.key);
                    let known = match r.known {
                        Some(k) => k,
                        None => {
                            let info = eng
                                .client
                                .head_object(bucket, &r.key)
                                .await
                                .map_err(|e| Failure::from(e).context(shown(&label)))?;
                            Known {
                                size: info.size,
                                etag: info.etag,
                            }
                        }
                    };
                    let sink = FileSink(Sink::open(&dest_text)?);
                    bars.started(&label, Some(known.size));
                    let dec = Decryptor::new(keyring, config);
                    let got =
                        cse_transfer::download(eng, bucket, &r.key, Some(known), dec, sink, bars)
                            .await;
                    bars.finished(&label, got.is_ok());
                    let got = got.map_err(|e| {
                        Failure::transfer(e, Some(key_label)).context(shown(&label))
                    })?;
                    Ok(Copied::Down {
                        source: label,
                        dest: dest_text,
                        done: got,
                    })
                }
            };
            let label = |r: &Remote| format!("s3://{bucket}/{}", r.key);
            cse_transfer::run_all(jobs, concurrency, &eng.cancel, label, work, print).await
        }
        // Config refused the others.
        _ => return Err(Failure::other("internal: cp needs one s3:// end")),
    };
    bars.bar.finish_and_clear();
    finish(summary, many)
}

/// A listed object as a download job: `None` for what is skipped (the prefix itself,
/// "folders", filtered out); an error for a key outside the prefix.
fn listed_job(
    listed: Result<cse_s3::ObjectInfo, cse_transfer::Error>,
    bucket: &str,
    prefix: &str,
    filters: &[Filter],
) -> Option<Result<Remote, Failure>> {
    let o = match listed {
        Ok(o) => o,
        Err(e) => return Some(Err(Failure::transfer(e, None))),
    };
    let rel = match relative_key(&o.key, prefix, bucket) {
        Ok(rel) => rel.trim_start_matches('/').to_string(),
        Err(f) => return Some(Err(f)),
    };
    if rel.is_empty() || o.key.ends_with('/') || !selected(filters, &rel) {
        return None;
    }
    Some(Ok(Remote {
        known: Some(Known {
            size: o.size,
            etag: o.etag,
        }),
        key: o.key,
        rel,
    }))
}

/// A listed key relative to the prefix asked for. A server (or something in between) that
/// answers with a key outside the prefix is refused rather than trusted.
fn relative_key<'k>(key: &'k str, prefix: &str, bucket: &str) -> Result<&'k str, Failure> {
    key.strip_prefix(prefix).ok_or_else(|| {
        Failure::new(
            Kind::S3,
            format!(
                "the listing of {} returned the key {}, which is outside the prefix",
                shown(&format!("s3://{bucket}/{prefix}")),
                shown(&key)
            ),
        )
    })
}

/// How a resumable file upload begins.
enum Prepared {
    /// Continue the upload in this state, with the encryptor made again and what is stored.
    Resume(Box<(resume::Upload, Encryptor, cse_transfer::Earlier)>),
    /// A new upload whose state goes into this directory.
    Start(PathBuf, PathBuf, resume::Fingerprint),
}

/// Finds the state of an interrupted upload of `source` to `bucket/key` and checks it with
/// the server: continue it, or start over (saying why, after aborting a stale upload).
#[allow(
    clippy::too_many_arguments,
    reason = "one upload's identity and settings"
)]
async fn resume_or_start<E: Exec>(
    eng: &Engine<E>,
    bucket: &str,
    key: &str,
    source: &Path,
    fingerprint: resume::Fingerprint,
    settings: &str,
    provider: cse_core::crypto::CryptoProvider,
    shown_src: &str,
) -> Result<Prepared, Failure> {
    let dir = resume::state_dir()?;
    let target = resume::Target {
        endpoint: &eng.client.config().endpoint,
        bucket,
        key,
        source,
        fingerprint: fingerprint.clone(),
        settings: settings.to_string(),
    };
    let start = |why: Option<&str>| {
        if let Some(why) = why {
            printer::starting_over(shown_src, why);
        }
        Ok(Prepared::Start(
            dir.clone(),
            source.to_path_buf(),
            fingerprint.clone(),
        ))
    };
    let state = match resume::find(&dir, &target)? {
        resume::Found::Nothing => return start(None),
        resume::Found::Stale { upload_id, reason } => {
            if let Some(id) = upload_id {
                let _ = eng.client.abort_multipart_upload(bucket, key, &id).await;
            }
            return start(Some(reason));
        }
        resume::Found::Resume(state) => *state,
    };
    let enc = state.secret().and_then(|secret| {
        Encryptor::resume(&secret, provider).map_err(|e| {
            Failure::new(
                Kind::Config,
                format!(
                    "{}: {}; remove it (cse mpu abort) or use --no-resume",
                    shown(&state.path().display()),
                    shown(&e)
                ),
            )
        })
    })?;
    let (upload_id, part_size, parts) = state.earlier();
    let listed = match eng.client.list_parts(bucket, key, &upload_id).await {
        Err(e) if e.code() == Some("NoSuchUpload") => None,
        other => Some(other?),
    };
    let on_server: std::collections::BTreeMap<u32, cse_s3::PartInfo> = listed
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.number, p))
        .collect();
    // A server that lists none of the parts we stored does not have the upload any more.
    if (on_server.is_empty() && !parts.is_empty()) || part_size == 0 {
        state.remove();
        let _ = eng
            .client
            .abort_multipart_upload(bucket, key, &upload_id)
            .await;
        return start(Some("the interrupted upload is no longer on the server"));
    }
    let stored: std::collections::BTreeMap<u32, (String, Option<u64>)> = parts
        .into_iter()
        .filter_map(|(n, etag)| {
            let p = on_server.get(&n)?;
            // An ETag the server lists must be the one we recorded.
            if p.etag
                .as_ref()
                .is_some_and(|e| e.trim_matches('"') != etag.trim_matches('"'))
            {
                return None;
            }
            Some((n, (etag, p.size)))
        })
        .collect();
    state.retain(|n| stored.contains_key(&n));
    printer::continuing(shown_src, stored.len());
    Ok(Prepared::Resume(Box::new((
        state,
        enc,
        cse_transfer::Earlier {
            upload_id,
            part_size,
            stored,
        },
    ))))
}

/// Local files to upload with their paths relative to the source (for key names).
fn local_sources(
    src: &str,
    recursive: bool,
    filters: &[Filter],
) -> Result<Vec<(PathBuf, String)>, Failure> {
    let path = PathBuf::from(src);
    if src == "-" || !recursive {
        if src != "-" && path.is_dir() {
            return Err(Failure::config(format!(
                "{src} is a directory: add --recursive"
            )));
        }
        return Ok(vec![(path, String::new())]);
    }
    let mut found = Vec::new();
    let mut stack = vec![path.clone()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
            let p = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Failure::other(format!("{}: {e}", p.display())))?;
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_file() {
                let rel = p
                    .strip_prefix(&path)
                    .unwrap_or(&p)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if selected(filters, &rel) {
                    found.push((p, rel));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The object key for an upload: `key` itself, or `key` + file name when it ends with `/`
/// (or is empty), or prefix + relative path when recursive.
fn object_key(key: &str, rel: &str, recursive: bool, src: &str) -> String {
    if recursive {
        let prefix = if key.is_empty() || key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        return format!("{prefix}{rel}");
    }
    if key.is_empty() || key.ends_with('/') {
        let name = Path::new(src)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stdin".into());
        return format!("{key}{name}");
    }
    key.to_string()
}

/// Where a downloaded object goes; refuses keys that would escape the destination folder.
fn local_destination(
    dst: &str,
    object: &str,
    rel: &str,
    recursive: bool,
) -> Result<PathBuf, Failure> {
    if dst == "-" {
        if recursive {
            return Err(Failure::config("--recursive cannot write to stdout"));
        }
        return Ok(PathBuf::from("-"));
    }
    let base = PathBuf::from(dst);
    let rel = if recursive {
        rel.to_string()
    } else if base.is_dir() || dst.ends_with('/') {
        object.rsplit('/').next().unwrap_or(object).to_string()
    } else {
        return Ok(base);
    };
    let rel_path = Path::new(&rel);
    if rel.is_empty()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(Failure::config(format!(
            "object key {} does not map to a safe local path",
            shown(&object)
        )));
    }
    let dest = base.join(rel_path);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::other(format!("{}: {e}", parent.display())))?;
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(include: bool, p: &str) -> Filter {
        Filter {
            include,
            pattern: glob::Pattern::new(p).expect("pattern"),
        }
    }

    #[test]
    fn the_last_matching_filter_decides() {
        let filters = [f(false, "*"), f(true, "*.txt"), f(false, "tmp/*")];
        assert!(selected(&filters, "a/b.txt"));
        assert!(!selected(&filters, "a/b.bin"));
        assert!(!selected(&filters, "tmp/x.txt"));
        assert!(selected(&[], "anything"));
    }

    #[test]
    fn keys_for_uploads() {
        assert_eq!(object_key("dir/", "", false, "/x/a.txt"), "dir/a.txt");
        assert_eq!(object_key("", "", false, "a.txt"), "a.txt");
        assert_eq!(object_key("k", "", false, "a.txt"), "k");
        assert_eq!(object_key("p", "s/a.txt", true, "d"), "p/s/a.txt");
        assert_eq!(object_key("", "s/a.txt", true, "d"), "s/a.txt");
    }

    #[test]
    fn listed_keys_outside_the_prefix_are_errors() {
        assert_eq!(relative_key("run/a.txt", "run/", "b").ok(), Some("a.txt"));
        assert_eq!(relative_key("anything", "", "b").ok(), Some("anything"));
        assert!(relative_key("other/a.txt", "run/", "b").is_err());
        assert!(relative_key("ru", "run/", "b").is_err());
        // A prefix that ends inside a multi-byte character of the key: no panic.
        assert!(relative_key("é", "\u{c3}", "b").is_err());
        assert!(relative_key("éa", "e", "b").is_err());
        let f = relative_key("\u{1b}]0;x\u{7}", "p/", "b").expect_err("outside");
        assert!(!f.to_string().bytes().any(|b| b < 0x20), "{f}");
    }

    #[test]
    fn keys_that_escape_are_refused() {
        let tmp = std::env::temp_dir();
        let d = tmp.to_string_lossy();
        assert!(local_destination(&d, "p/../../etc/x", "../../etc/x", true).is_err());
        assert!(local_destination(&d, "p//abs", "/abs", true).is_err());
        assert!(local_destination("-", "k", "", true).is_err());
    }
}
