//! The validated configuration of one run, built once in `main` before any work: the parsed
//! flags (clap has already applied their environment variables), the cse config file and the
//! AWS shared files become the settings each command needs. Every setting that can be wrong
//! (a size, a suite, a padding, a pattern, two ends of a copy, the S3 credentials, an
//! unreadable config file) is refused here, with exit status 5 or 2. Nothing here prints.
//!
//! Precedence, as the AWS tools have it: flag, then environment, then the cse config file
//! (`~/.config/cse/config.toml`), then `~/.aws`, then the built-in default.

use std::path::PathBuf;

use clap::ArgMatches;
use cse_core::{AlgorithmSuite, CommitmentPolicy, DecryptConfig, EncryptConfig, EncryptionContext};
use cse_transfer::{DEFAULTS, Settings};

use crate::cli::{
    Cli, Command, CommitmentArgs, DecryptOptions, EncryptOptions, MessageArgs, MpuCommand, Policy,
    PrivateKeyArgs, PublicKeyArgs, ReadArgs, S3Args, TransferArgs, WriteArgs,
};
use crate::error::Failure;
use crate::keys::{KeySpec, key_path, recipient_values};
use crate::s3url::parse_s3_url;
use crate::settings::{Env, FileConfig, s3_config};

/// Everything a command needs besides its positional arguments (which stay in [`Cli`]).
#[derive(Debug)]
pub struct Config {
    pub output: Output,
    /// How to reach the store; present when the command talks to S3.
    pub s3: Option<cse_s3::Config>,
    /// How transfers run (cp; verify of objects).
    pub transfer: Option<Transfer>,
    /// The raw RSA keyring's namespace, name and padding (commands that use a key).
    pub keys: Option<KeySpec>,
    /// How messages are written (encrypt, cp uploads).
    pub encrypt: Option<Encrypting>,
    /// How messages are read (decrypt, verify, cp downloads).
    pub decrypt: Option<Decrypting>,
    /// `--include`/`--exclude` of cp and rm, in command-line order.
    pub filters: Vec<Filter>,
}

/// Where output goes and how much of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    pub quiet: bool,
    /// Progress bars on stderr: not quiet, not `--no-progress`, stderr a terminal.
    pub bars: bool,
}

/// The transfer engine's settings and what only the tool knows.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub settings: Settings,
    pub expected_size: Option<u64>,
}

/// Writing messages: the recipients (`[NAME=]PATH`, read when the keyring is built) and the
/// message settings.
#[derive(Clone, Debug)]
pub struct Encrypting {
    pub recipients: Vec<String>,
    pub config: EncryptConfig,
}

/// Reading messages: the private key file (read, and its passphrase asked, when the keyring
/// is built) and the message settings.
#[derive(Clone, Debug)]
pub struct Decrypting {
    pub private_key: PathBuf,
    pub config: DecryptConfig,
}

impl Config {
    /// The configuration of this run: the config file, the process environment and the
    /// AWS shared files.
    pub fn build(cli: &Cli, matches: &ArgMatches) -> Result<Self, Failure> {
        let file = FileConfig::load()?;
        let env = crate::settings::env;
        let mut config = Self::resolve(cli, &file, &env)?;
        config.filters = filters_in_order(matches);
        Ok(config)
    }

    /// The configuration of `cli` given the config file and the environment (the filters,
    /// which need clap's matches, are left empty).
    pub fn resolve(cli: &Cli, file: &FileConfig, env: Env<'_>) -> Result<Self, Failure> {
        let quiet = cli.global.quiet;
        let mut c = Self {
            output: Output {
                quiet,
                bars: crate::transfer::bars_shown(quiet, cli.global.no_progress),
            },
            s3: None,
            transfer: None,
            keys: None,
            encrypt: None,
            decrypt: None,
            filters: Vec::new(),
        };
        let s3 = |t: &S3Args| s3_config(&t.or(&cli.s3), file, env);
        match &cli.command {
            Command::Keygen(_) => {}
            Command::Encrypt(args) => c.encrypting(&args.options, file)?,
            Command::Decrypt(args) => c.decrypting(&args.options, file)?,
            Command::Inspect(args) => {
                // Only an object needs the store; a file or a bad URL needs no credentials.
                if let Some((_, key)) = parse_s3_url(&args.target)
                    && !key.is_empty()
                {
                    c.s3 = Some(s3(&args.s3)?);
                }
            }
            Command::Verify(args) => {
                if args.targets.iter().any(|t| parse_s3_url(t).is_some()) {
                    c.transfer = Some(transfer(&args.transfer, file)?);
                    c.s3 = Some(s3(&args.transfer.s3)?);
                }
                c.decrypting(&args.options, file)?;
            }
            Command::Cp(args) => {
                check_patterns(args.include.iter().chain(&args.exclude))?;
                c.transfer = Some(transfer(&args.transfer, file)?);
                c.s3 = Some(s3(&args.transfer.s3)?);
                let keys = KeySpec::resolve(&args.keyring, file)?;
                c.keys = Some(keys);
                match (parse_s3_url(&args.src), parse_s3_url(&args.dst)) {
                    (None, Some(_)) => {
                        c.encrypt = Some(encrypting(
                            &args.recipients,
                            &args.message,
                            &args.write,
                            &args.commitment,
                            file,
                        )?);
                    }
                    (Some(_), None) => {
                        c.decrypt = Some(decrypting(
                            &args.private_key,
                            &args.message,
                            &args.read,
                            &args.commitment,
                            file,
                        ));
                    }
                    (Some(_), Some(_)) => {
                        return Err(Failure::config(
                            "both ends are s3:// URLs; copy through a local file (cse never decrypts on the server)",
                        ));
                    }
                    (None, None) => {
                        return Err(Failure::config(
                            "neither end is an s3:// URL; use `cse encrypt` or `cse decrypt` for local files",
                        ));
                    }
                }
            }
            Command::Ls(args) => c.s3 = Some(s3(&args.transfer.s3)?),
            Command::Rm(args) => {
                check_patterns(args.include.iter().chain(&args.exclude))?;
                c.s3 = Some(s3(&args.transfer.s3)?);
                // rm reads only the flag: deletes are small requests, not parts.
                c.transfer = Some(Transfer {
                    settings: Settings {
                        concurrency: args.transfer.concurrency.unwrap_or(DEFAULTS.concurrency),
                        ..Settings::default()
                    },
                    expected_size: None,
                });
            }
            Command::Mb(args) => c.s3 = Some(s3(&args.transfer.s3)?),
            Command::Mpu(MpuCommand::Ls { transfer, .. } | MpuCommand::Abort { transfer, .. }) => {
                c.s3 = Some(s3(&transfer.s3)?);
            }
        }
        Ok(c)
    }

    fn encrypting(&mut self, o: &EncryptOptions, file: &FileConfig) -> Result<(), Failure> {
        self.keys = Some(KeySpec::resolve(&o.keyring, file)?);
        self.encrypt = Some(encrypting(
            &o.recipients,
            &o.message,
            &o.write,
            &o.commitment,
            file,
        )?);
        Ok(())
    }

    fn decrypting(&mut self, o: &DecryptOptions, file: &FileConfig) -> Result<(), Failure> {
        self.keys = Some(KeySpec::resolve(&o.keyring, file)?);
        self.decrypt = Some(decrypting(
            &o.private_key,
            &o.message,
            &o.read,
            &o.commitment,
            file,
        ));
        Ok(())
    }

    /// The S3 settings; an internal error when the command was not meant to need them.
    pub fn s3(&self) -> Result<&cse_s3::Config, Failure> {
        self.s3
            .as_ref()
            .ok_or_else(|| Failure::other("internal: no S3 settings"))
    }

    /// The keyring settings; an internal error when the command was not meant to need them.
    pub fn keys(&self) -> Result<&KeySpec, Failure> {
        self.keys
            .as_ref()
            .ok_or_else(|| Failure::other("internal: no key settings"))
    }

    /// The transfer settings; an internal error when the command was not meant to need them.
    pub fn transfer(&self) -> Result<&Transfer, Failure> {
        self.transfer
            .as_ref()
            .ok_or_else(|| Failure::other("internal: no transfer settings"))
    }

    /// How messages are written; an internal error when not resolved for this command.
    pub fn encrypt(&self) -> Result<&Encrypting, Failure> {
        self.encrypt
            .as_ref()
            .ok_or_else(|| Failure::other("internal: no encryption settings"))
    }

    /// How messages are read; an internal error when not resolved for this command.
    pub fn decrypt(&self) -> Result<&Decrypting, Failure> {
        self.decrypt
            .as_ref()
            .ok_or_else(|| Failure::other("internal: no decryption settings"))
    }
}

/// An `--include` or `--exclude` pattern, in command-line order (the last match decides).
#[derive(Debug)]
pub struct Filter {
    pub include: bool,
    pub pattern: glob::Pattern,
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

fn check_patterns<'a>(patterns: impl Iterator<Item = &'a String>) -> Result<(), Failure> {
    for p in patterns {
        glob::Pattern::new(p).map_err(|e| Failure::config(format!("pattern {p:?}: {e}")))?;
    }
    Ok(())
}

/// Part size: flag, then the config file, then the default; at least S3's 5 MiB.
/// Concurrency: flag, then the config file, then the default.
fn transfer(t: &TransferArgs, file: &FileConfig) -> Result<Transfer, Failure> {
    let part_size = match (&t.part_size, &file.part_size) {
        (Some(p), _) => *p,
        (None, Some(s)) => crate::cli::parse_size(s).map_err(Failure::config)?,
        (None, None) => DEFAULTS.part_size,
    };
    if part_size < cse_transfer::plan::MIN_PART_SIZE {
        return Err(Failure::config(
            "the part size must be at least 5MiB (an S3 limit)",
        ));
    }
    let settings = Settings {
        multipart_threshold: t
            .multipart_threshold
            .unwrap_or(DEFAULTS.multipart_threshold),
        concurrency: t
            .concurrency
            .or(file.concurrency)
            .unwrap_or(DEFAULTS.concurrency)
            .max(1),
        ..Settings::default()
    }
    .with_part_size(part_size);
    Ok(Transfer {
        settings,
        expected_size: t.expected_size,
    })
}

fn policy(args: &CommitmentArgs) -> CommitmentPolicy {
    match args.commitment_policy {
        None | Some(Policy::RequireEncryptRequireDecrypt) => {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        }
        Some(Policy::RequireEncryptAllowDecrypt) => CommitmentPolicy::RequireEncryptAllowDecrypt,
        Some(Policy::ForbidEncryptAllowDecrypt) => CommitmentPolicy::ForbidEncryptAllowDecrypt,
    }
}

fn context(message: &MessageArgs) -> EncryptionContext {
    message.context.iter().cloned().collect()
}

/// `0x0578`, `0578`, `1400` (decimal) or the official name.
pub fn parse_suite(s: &str) -> Result<AlgorithmSuite, Failure> {
    let t = s.trim();
    let by_id = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .map(|h| u16::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| u16::from_str_radix(t, 16).ok().filter(|_| t.len() == 4));
    by_id
        .and_then(AlgorithmSuite::from_id)
        .or_else(|| {
            AlgorithmSuite::ALL
                .iter()
                .copied()
                .find(|a| a.name().eq_ignore_ascii_case(t))
        })
        .ok_or_else(|| {
            let known: Vec<String> = AlgorithmSuite::ALL.iter().map(|a| a.to_string()).collect();
            Failure::config(format!(
                "unknown algorithm suite {s:?}; known: {}",
                known.join(", ")
            ))
        })
}

/// Writing messages: the recipients (flag or CSE_PUBLIC_KEY, else the config file, else
/// `public_key.pem`) and cse-core's settings.
fn encrypting(
    recipients: &PublicKeyArgs,
    message: &MessageArgs,
    write: &WriteArgs,
    commitment: &CommitmentArgs,
    file: &FileConfig,
) -> Result<Encrypting, Failure> {
    Ok(Encrypting {
        recipients: recipient_values(&recipients.public_key, file),
        config: EncryptConfig {
            commitment_policy: policy(commitment),
            suite: write.suite.as_deref().map(parse_suite).transpose()?,
            frame_length: write.frame_length,
            encryption_context: context(message),
            provider: cse_core::crypto::CryptoProvider::fastest(),
            ..EncryptConfig::default()
        },
    })
}

/// Reading messages: the private key (flag or CSE_PRIVATE_KEY, else the config file, else
/// `private_key.pem`), the required context, the limits and the policy.
fn decrypting(
    key: &PrivateKeyArgs,
    message: &MessageArgs,
    read: &ReadArgs,
    commitment: &CommitmentArgs,
    file: &FileConfig,
) -> Decrypting {
    let limits = &read.limits;
    Decrypting {
        private_key: key_path(
            key.private_key.clone(),
            file.private_key.as_ref(),
            "private_key.pem",
        ),
        config: DecryptConfig {
            commitment_policy: policy(commitment),
            encryption_context: context(message),
            refuse_signed: read.refuse_signed,
            max_encrypted_data_keys: Some(limits.max_encrypted_data_keys),
            max_key_attempts: Some(limits.max_key_attempts),
            max_header_size: Some(usize::try_from(limits.max_header_size.0).unwrap_or(usize::MAX)),
            max_frame_length: Some(limits.max_frame_length.0),
            max_non_framed_size: Some(limits.max_body_size.0),
            provider: cse_core::crypto::CryptoProvider::fastest(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::Parser;

    use super::*;
    use crate::error::Kind;

    /// An environment of `pairs` only (no HOME: no ~/.aws files are read).
    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    fn resolve(args: &[&str], file: &FileConfig, env: &[(&str, &str)]) -> Result<Config, Failure> {
        let cli = Cli::try_parse_from(args).expect("parses");
        let env = env_of(env);
        Config::resolve(&cli, file, &env)
    }

    fn region(args: &[&str], file: &FileConfig, env: &[(&str, &str)]) -> String {
        resolve(args, file, env)
            .expect("valid")
            .s3
            .expect("s3")
            .region
    }

    #[test]
    fn suites_parse_by_id_and_name() {
        let s = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
        for text in [
            "0x0578",
            "0578",
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        ] {
            assert_eq!(parse_suite(text).ok(), Some(s), "{text}");
        }
        assert!(parse_suite("0x9999").is_err());
        assert!(parse_suite("rot13").is_err());
    }

    #[test]
    fn filters_keep_the_command_line_order() {
        use clap::CommandFactory;
        let args = [
            "cse",
            "cp",
            "-r",
            "d",
            "s3://b/p",
            "--exclude",
            "*",
            "--include",
            "*.txt",
            "--exclude",
            "tmp/*",
        ];
        let matches = Cli::command().try_get_matches_from(args).expect("parses");
        let f: Vec<(bool, String)> = filters_in_order(&matches)
            .into_iter()
            .map(|f| (f.include, f.pattern.to_string()))
            .collect();
        let want = [(false, "*"), (true, "*.txt"), (false, "tmp/*")];
        assert_eq!(f, want.map(|(i, p)| (i, p.to_string())));
    }

    #[test]
    fn flag_beats_environment_beats_config_file_beats_default() {
        let file = FileConfig {
            region: Some("from-file".into()),
            ..FileConfig::default()
        };
        let with_env = [KEYS[0], KEYS[1], ("AWS_REGION", "from-env")];
        let ls = ["cse", "ls", "s3://b"];
        let ls_flag = ["cse", "ls", "s3://b", "--region", "from-flag"];
        assert_eq!(region(&ls_flag, &file, &with_env), "from-flag");
        assert_eq!(region(&ls, &file, &with_env), "from-env");
        assert_eq!(region(&ls, &file, &KEYS), "from-file");
        assert_eq!(region(&ls, &FileConfig::default(), &KEYS), "us-east-1");
        // Before the command counts too; after it wins.
        let outer = ["cse", "--region", "outer", "ls", "s3://b"];
        assert_eq!(region(&outer, &file, &with_env), "outer");

        // The endpoint: flag, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the config file.
        let file = FileConfig {
            endpoint_url: Some("http://file.example".into()),
            ..FileConfig::default()
        };
        let endpoint = |args: &[&str], env: &[(&str, &str)]| {
            let s3 = resolve(args, &file, env).expect("valid").s3.expect("s3");
            (s3.endpoint, s3.unsigned_payload)
        };
        let generic = [
            KEYS[0],
            KEYS[1],
            ("AWS_ENDPOINT_URL", "https://generic.example"),
        ];
        assert_eq!(
            endpoint(&ls, &generic),
            ("https://generic.example".into(), true)
        );
        assert_eq!(endpoint(&ls, &KEYS), ("http://file.example".into(), false));
        let flag = [
            "cse",
            "ls",
            "s3://b",
            "--endpoint-url",
            "https://flag.example",
        ];
        assert_eq!(
            endpoint(&flag, &generic),
            ("https://flag.example".into(), true)
        );
    }

    #[test]
    fn keys_and_transfer_settings_flag_then_config_file_then_default() {
        let file = FileConfig {
            key_name: Some("FileKey".into()),
            part_size: Some("16MiB".into()),
            concurrency: Some(3),
            private_key: Some(PathBuf::from("/keys/file.pem")),
            ..FileConfig::default()
        };
        let c = resolve(&["cse", "cp", "s3://b/k", "out"], &file, &KEYS).expect("valid");
        assert_eq!(c.keys.as_ref().map(|k| k.name.as_str()), Some("FileKey"));
        assert_eq!(
            c.keys.as_ref().map(|k| k.namespace.as_str()),
            Some("MyAppKeys")
        );
        let t = c.transfer.as_ref().expect("transfer");
        assert_eq!(
            (t.settings.part_size, t.settings.concurrency),
            (16 << 20, 3)
        );
        let d = c.decrypt.as_ref().expect("download");
        assert_eq!(d.private_key, PathBuf::from("/keys/file.pem"));
        assert!(c.encrypt.is_none());

        let c = resolve(
            &[
                "cse",
                "cp",
                "in",
                "s3://b/k",
                "--key-name",
                "FlagKey",
                "--part-size",
                "5MiB",
                "--concurrency",
                "0",
                "--suite",
                "0x0478",
                "-c",
                "a=b",
            ],
            &file,
            &KEYS,
        )
        .expect("valid");
        assert_eq!(c.keys.as_ref().map(|k| k.name.as_str()), Some("FlagKey"));
        let t = c.transfer.as_ref().expect("transfer");
        assert_eq!((t.settings.part_size, t.settings.concurrency), (5 << 20, 1));
        let e = c.encrypt.as_ref().expect("upload");
        assert_eq!(e.recipients, ["public_key.pem"]);
        assert_eq!(e.config.suite.map(|s| s.id()), Some(0x0478));
        assert_eq!(
            e.config.encryption_context.get("a").map(String::as_str),
            Some("b")
        );

        // Only what reaches the store needs S3 settings (and credentials).
        let none = FileConfig::default();
        let c = resolve(&["cse", "verify", "a.msg", "b.msg"], &none, &[]).expect("files");
        assert!(c.s3.is_none() && c.transfer.is_none() && c.decrypt.is_some());
        assert!(resolve(&["cse", "verify", "a.msg", "s3://b/k"], &none, &[]).is_err());
        let c = resolve(&["cse", "inspect", "a.msg"], &none, &[]).expect("a file");
        assert!(c.s3.is_none());
        assert!(resolve(&["cse", "inspect", "s3://b/k"], &none, &[]).is_err());
        let c = resolve(&["cse", "decrypt", "in", "-o", "out"], &none, &[])
            .expect("local commands need no credentials");
        assert!(c.s3.is_none());
        assert_eq!(
            c.decrypt.expect("decrypt").private_key,
            PathBuf::from("private_key.pem")
        );
    }

    #[test]
    fn invalid_settings_are_refused_before_any_work() {
        let config_error = |args: &[&str], file: &FileConfig, env: &[(&str, &str)]| {
            let f = resolve(args, file, env).expect_err("refused");
            assert!(matches!(f.kind, Kind::Config), "{args:?}: {f}");
            f.to_string()
        };
        let none = FileConfig::default();
        let small = FileConfig {
            part_size: Some("1MiB".into()),
            ..FileConfig::default()
        };
        assert!(config_error(&["cse", "cp", "a", "s3://b/k"], &small, &KEYS).contains("5MiB"));
        assert!(
            config_error(
                &["cse", "cp", "a", "s3://b/k", "--suite", "rot13"],
                &none,
                &KEYS
            )
            .contains("unknown algorithm suite")
        );
        assert!(
            config_error(&["cse", "cp", "s3://a/k", "s3://b/k"], &none, &KEYS)
                .contains("both ends")
        );
        assert!(
            config_error(
                &["cse", "rm", "s3://b/", "-r", "--exclude", "[x"],
                &none,
                &KEYS
            )
            .contains("pattern")
        );
        assert!(
            config_error(
                &["cse", "encrypt", "a", "-o", "b", "--padding", "rot13"],
                &none,
                &[]
            )
            .contains("unknown RSA padding")
        );
        assert!(config_error(&["cse", "ls", "s3://b"], &none, &[]).contains("no S3 credentials"));
        let style = FileConfig {
            addressing_style: Some("sideways".into()),
            ..FileConfig::default()
        };
        assert!(config_error(&["cse", "ls", "s3://b"], &style, &KEYS).contains("addressing_style"));
    }
}
