//! The S3 commands: cp, ls, rm, mb, mpu.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use clap::ArgMatches;
use cse_s3::Client;
use futures_util::StreamExt;

use crate::cli::{Cli, Command, CpArgs, MpuCommand, TransferArgs};
use crate::error::{Failure, Kind, shown, tell};
use crate::keys::{KeySpec, key_path};
use crate::local::{decrypt_config, encrypt_config};
use crate::output::Sink;
use crate::progress::Progress;
use crate::s3url::parse_s3_url;
use crate::settings::{FileConfig, s3_config};
use crate::transfer::{Object, Plan, download, upload};

const MIB: u64 = 1 << 20;

/// An `--include` or `--exclude` pattern, in command-line order (the last match decides).
#[derive(Debug)]
pub struct Filter {
    include: bool,
    pattern: glob::Pattern,
}

/// The include/exclude patterns of `cp` or `rm`, in the order given.
pub fn filters_in_order(matches: &ArgMatches) -> Vec<Filter> {
    let Some((_, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (id, include) in [("include", true), ("exclude", false)] {
        let Ok(Some(values)) = sub.try_get_many::<String>(id) else {
            continue;
        };
        let Some(indices) = sub.indices_of(id) else {
            continue;
        };
        for (value, index) in values.zip(indices) {
            if let Ok(pattern) = glob::Pattern::new(value) {
                found.push((index, Filter { include, pattern }));
            }
        }
    }
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, f)| f).collect()
}

fn selected(filters: &[Filter], path: &str) -> bool {
    filters
        .iter()
        .rev()
        .find(|f| f.pattern.matches(path))
        .is_none_or(|f| f.include)
}

fn check_patterns(args: &[&String]) -> Result<(), Failure> {
    for p in args {
        glob::Pattern::new(p).map_err(|e| Failure::config(format!("pattern {p:?}: {e}")))?;
    }
    Ok(())
}

fn client(cli: &Cli, file: &FileConfig, t: &TransferArgs) -> Result<Client, Failure> {
    Ok(Client::new(s3_config(&t.s3.or(&cli.s3), file)?)?)
}

pub(crate) fn plan(cli: &Cli, file: &FileConfig, t: &TransferArgs) -> Result<Plan, Failure> {
    let part_size = match (&t.part_size, &file.part_size) {
        (Some(p), _) => *p,
        (None, Some(s)) => crate::cli::parse_size(s).map_err(Failure::config)?,
        (None, None) => 8 * MIB,
    };
    if part_size < cse_s3::MIN_PART_SIZE {
        return Err(Failure::config(
            "the part size must be at least 5MiB (an S3 limit)",
        ));
    }
    Ok(Plan {
        client: client(cli, file, t)?,
        part_size,
        threshold: t.multipart_threshold.unwrap_or(8 * MIB),
        concurrency: t.concurrency.or(file.concurrency).unwrap_or(10).max(1),
        expected_size: t.expected_size,
        progress: Progress::new(cli.global.quiet, cli.global.no_progress),
    })
}

fn s3_target(url: &str) -> Result<(&str, &str), Failure> {
    parse_s3_url(url)
        .ok_or_else(|| Failure::config(format!("{url:?} is not an s3://bucket[/key] URL")))
}

pub async fn run(cli: &Cli, file: &FileConfig, filters: Vec<Filter>) -> Result<(), Failure> {
    let quiet = cli.global.quiet;
    match &cli.command {
        Command::Cp(args) => cp(cli, file, args, &filters).await,
        Command::Verify(args) => crate::verify::run(cli, file, args).await,
        Command::Ls(args) => {
            let (bucket, prefix) = s3_target(&args.target)?;
            let c = client(cli, file, &args.transfer)?;
            ls(&c, bucket, prefix, args.recursive).await
        }
        Command::Rm(args) => {
            check_patterns(&args.include.iter().chain(&args.exclude).collect::<Vec<_>>())?;
            let (bucket, key) = s3_target(&args.target)?;
            let c = client(cli, file, &args.transfer)?;
            if !args.recursive {
                if key.is_empty() {
                    return Err(Failure::config("give a key, or --recursive for a prefix"));
                }
                c.delete_object(bucket, key).await?;
                if !quiet {
                    tell(&format!(
                        "delete: {}",
                        shown(&format!("s3://{bucket}/{key}"))
                    ))?;
                }
                return Ok(());
            }
            rm_recursive(&c, bucket, key, &filters, quiet, args.transfer.concurrency).await
        }
        Command::Mb(args) => {
            let (bucket, _) = s3_target(&args.target)?;
            client(cli, file, &args.transfer)?
                .create_bucket(bucket)
                .await?;
            if !quiet {
                tell(&format!("make_bucket: {}", shown(&bucket)))?;
            }
            Ok(())
        }
        Command::Mpu(MpuCommand::Ls { target, transfer }) => {
            let (bucket, prefix) = s3_target(target)?;
            let c = client(cli, file, transfer)?;
            for u in c.list_multipart_uploads(bucket, prefix).await? {
                tell(&format!(
                    "{}\t{}\t{}",
                    shown(&u.key),
                    shown(&u.upload_id),
                    shown(&u.initiated)
                ))?;
            }
            Ok(())
        }
        Command::Mpu(MpuCommand::Abort {
            target,
            upload_id,
            all,
            transfer,
        }) => {
            let (bucket, key) = s3_target(target)?;
            let c = client(cli, file, transfer)?;
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
            for (k, id) in uploads {
                c.abort_multipart_upload(bucket, &k, &id).await?;
                if !quiet {
                    tell(&format!(
                        "abort: {} {}",
                        shown(&format!("s3://{bucket}/{k}")),
                        shown(&id)
                    ))?;
                }
            }
            Ok(())
        }
        Command::Keygen(_) | Command::Encrypt(_) | Command::Decrypt(_) | Command::Inspect(_) => {
            Err(Failure::other("internal: local command on the S3 path"))
        }
    }
}

async fn ls(c: &Client, bucket: &str, prefix: &str, recursive: bool) -> Result<(), Failure> {
    let mut token: Option<String> = None;
    loop {
        let delimiter = (!recursive).then_some("/");
        let page = c
            .list_objects(bucket, prefix, delimiter, token.as_deref())
            .await?;
        for p in &page.prefixes {
            tell(&format!(
                "{:>30} {}",
                "PRE",
                shown(&p.strip_prefix(prefix).unwrap_or(p))
            ))?;
        }
        for o in &page.objects {
            let date = o.last_modified.replace('T', " ");
            let date = date.get(..19).unwrap_or(&date);
            let name = if recursive {
                o.key.as_str()
            } else {
                o.key.strip_prefix(prefix).unwrap_or(&o.key)
            };
            tell(&format!("{} {:>10} {}", shown(&date), o.size, shown(&name)))?;
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

async fn rm_recursive(
    c: &Client,
    bucket: &str,
    prefix: &str,
    filters: &[Filter],
    quiet: bool,
    concurrency: Option<usize>,
) -> Result<(), Failure> {
    let mut keys: Vec<String> = Vec::new();
    for o in c.list_all(bucket, prefix).await? {
        let rel = relative_key(&o.key, prefix, bucket)?;
        if selected(filters, rel) {
            keys.push(o.key);
        }
    }
    let mut failed = Vec::new();
    for batch in keys.chunks(1000) {
        match c.delete_objects(bucket, batch).await {
            Ok(errors) => failed.extend(errors),
            // Some S3-compatible stores lack the batch call: delete one by one.
            Err(e) if e.status() == Some(501) => {
                let results: Vec<_> = futures_util::stream::iter(batch)
                    .map(|k| async move { (k, c.delete_object(bucket, k).await) })
                    .buffer_unordered(concurrency.unwrap_or(10).max(1))
                    .collect()
                    .await;
                for (k, r) in results {
                    if let Err(e) = r {
                        failed.push((k.clone(), e.code().unwrap_or("error").to_string()));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !quiet {
        let failed: std::collections::HashSet<&str> =
            failed.iter().map(|(k, _)| k.as_str()).collect();
        for k in &keys {
            if !failed.contains(k.as_str()) {
                tell(&format!("delete: {}", shown(&format!("s3://{bucket}/{k}"))))?;
            }
        }
    }
    if let Some((k, code)) = failed.first() {
        return Err(Failure::new(
            Kind::S3,
            format!(
                "{} deletions failed, e.g. {}: {}",
                failed.len(),
                shown(&format!("s3://{bucket}/{k}")),
                shown(code)
            ),
        ));
    }
    Ok(())
}

/// `cse cp`.
async fn cp(
    cli: &Cli,
    file: &FileConfig,
    args: &CpArgs,
    filters: &[Filter],
) -> Result<(), Failure> {
    check_patterns(&args.include.iter().chain(&args.exclude).collect::<Vec<_>>())?;
    let plan = plan(cli, file, &args.transfer)?;
    let spec = KeySpec::resolve(&args.keyring, file)?;
    let quiet = cli.global.quiet;
    match (parse_s3_url(&args.src), parse_s3_url(&args.dst)) {
        (None, Some((bucket, key))) => {
            let keyring = spec.encrypting(&args.public_key, file)?;
            let config = encrypt_config(
                args.suite.as_deref(),
                args.frame_length,
                &args.context,
                &args.commitment,
            )?;
            let sources = local_sources(&args.src, args.recursive, filters)?;
            for (path, rel) in sources {
                let key = object_key(key, &rel, args.recursive, &args.src);
                let (input, len): (Box<dyn std::io::Read + Send>, _) = if args.src == "-" {
                    (Box::new(std::io::stdin()), None)
                } else {
                    let f = std::fs::File::open(&path)
                        .map_err(|e| Failure::other(format!("{}: {e}", path.display())))?;
                    let len = f.metadata().ok().map(|m| m.len());
                    (Box::new(f), len)
                };
                let shown = if args.src == "-" {
                    "-".to_string()
                } else {
                    path.display().to_string()
                };
                let up = upload(
                    &plan,
                    input,
                    len,
                    &keyring,
                    &config,
                    Object {
                        bucket,
                        key: &key,
                        label: &shown,
                    },
                )
                .await
                .map_err(|f| {
                    f.context(crate::error::shown(&format!(
                        "{shown} to s3://{bucket}/{key}"
                    )))
                })?;
                if !quiet {
                    tell(&format!(
                        "upload: {} to {} ({} bytes encrypted into {}, suite {}{})",
                        crate::error::shown(&shown),
                        crate::error::shown(&format!("s3://{bucket}/{key}")),
                        up.plaintext,
                        up.message,
                        up.header.suite,
                        if up.parts > 0 {
                            format!(", {} parts", up.parts)
                        } else {
                            String::new()
                        }
                    ))?;
                }
            }
            Ok(())
        }
        (Some((bucket, key)), None) => {
            let pem = key_path(
                args.private_key.clone(),
                file.private_key.as_ref(),
                "private_key.pem",
            );
            let config = decrypt_config(
                &args.context,
                &args.limits,
                args.refuse_signed,
                &args.commitment,
            );
            let objects: Vec<(String, String)> = if args.recursive {
                let prefix = key;
                let mut found = Vec::new();
                for o in plan.client.list_all(bucket, prefix).await? {
                    let rel = relative_key(&o.key, prefix, bucket)?
                        .trim_start_matches('/')
                        .to_string();
                    if rel.is_empty() || o.key.ends_with('/') || !selected(filters, &rel) {
                        continue;
                    }
                    found.push((o.key, rel));
                }
                found
            } else {
                if key.is_empty() {
                    return Err(Failure::config(
                        "give an object key, or --recursive for a prefix",
                    ));
                }
                vec![(key.to_string(), String::new())]
            };
            // Read and parse the private key once for every object.
            let keyring = Arc::new(spec.decrypting(&pem)?);
            for (object, rel) in objects {
                let dest = local_destination(&args.dst, &object, &rel, args.recursive)?;
                let dest_text = dest.display().to_string();
                let sink = Sink::open(&dest_text)?;
                let label = format!("s3://{bucket}/{object}");
                let from = Object {
                    bucket,
                    key: &object,
                    label: &label,
                };
                let got = download(
                    &plan,
                    from,
                    keyring.clone(),
                    config.clone(),
                    sink,
                    &spec.label(),
                )
                .await
                .map_err(|f| f.context(shown(&label)))?;
                if !quiet && dest_text != "-" {
                    tell(&format!(
                        "download: {} to {} ({} bytes decrypted from {}, suite {})",
                        shown(&label),
                        shown(&dest_text),
                        got.plaintext,
                        got.message,
                        got.header.suite
                    ))?;
                }
            }
            Ok(())
        }
        (Some(_), Some(_)) => Err(Failure::config(
            "both ends are s3:// URLs; copy through a local file (cse never decrypts on the server)",
        )),
        (None, None) => Err(Failure::config(
            "neither end is an s3:// URL; use `cse encrypt` or `cse decrypt` for local files",
        )),
    }
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
