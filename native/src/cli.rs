//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Keys and S3 settings can also come from $CSE_CONFIG, $XDG_CONFIG_HOME/cse/config.toml or
~/.config/cse/config.toml, and credentials from the AWS variables and ~/.aws files.

Exit status: 0 success; 1 other error; 2 usage; 3 S3 request failed; 4 message rejected
(tampered, truncated, wrong key, policy, over a --max-* limit); 5 key or configuration
problem; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hangup (SIGHUP).";

/// Client-side encryption for S3-compatible storage, compatible with the AWS Encryption SDK.
#[derive(Debug, Parser)]
#[command(name = "cse", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
    /// S3 options given before the command (`cse --profile work ls ...`, as with `aws`); those
    /// given after it win.
    #[command(flatten)]
    pub s3: S3Args,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// Print nothing but errors.
    #[arg(long, short = 'q', global = true, help_heading = "Output")]
    pub quiet: bool,
    /// No progress bars.
    #[arg(long, global = true, help_heading = "Output")]
    pub no_progress: bool,
}

/// How to reach the store (S3 commands only).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "S3")]
pub struct S3Args {
    /// S3 endpoint, e.g. https://s3.example.org (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, config files).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE, then "default").
    #[arg(long)]
    pub profile: Option<String>,
    /// Signing region (default: AWS_REGION, the profile's region, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Bucket addressing: path (https://endpoint/bucket/key) or virtual (https://bucket.endpoint/key).
    #[arg(long, value_enum)]
    pub addressing_style: Option<AddressingStyle>,
    /// PEM file of CA certificates trusted beside the system's for https endpoints (a site CA)
    /// (default: AWS_CA_BUNDLE, then ca_bundle of the profile in ~/.aws/config).
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Sign UNSIGNED-PAYLOAD instead of each body's SHA-256 (the default over https, where
    /// TLS protects the bodies, as the AWS SDKs do; over http bodies are signed).
    #[arg(long, conflicts_with = "signed_payload")]
    pub unsigned_payload: bool,
    /// Sign each body's SHA-256 even over https.
    #[arg(long)]
    pub signed_payload: bool,
    /// Attempts per request before giving up [default: 6].
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
}

impl S3Args {
    /// These options, each one not given taken from `outer` (the options before the command).
    pub fn or(&self, outer: &S3Args) -> S3Args {
        S3Args {
            endpoint_url: self
                .endpoint_url
                .clone()
                .or_else(|| outer.endpoint_url.clone()),
            profile: self.profile.clone().or_else(|| outer.profile.clone()),
            region: self.region.clone().or_else(|| outer.region.clone()),
            addressing_style: self.addressing_style.or(outer.addressing_style),
            ca_bundle: self.ca_bundle.clone().or_else(|| outer.ca_bundle.clone()),
            unsigned_payload: self.unsigned_payload
                || outer.unsigned_payload && !self.signed_payload,
            signed_payload: self.signed_payload || outer.signed_payload && !self.unsigned_payload,
            max_attempts: self.max_attempts.or(outer.max_attempts),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AddressingStyle {
    Path,
    Virtual,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only add indirection"
)]
pub enum Command {
    /// Create an RSA-4096 key pair: private_key.pem (PKCS #8, mode 0600, encrypted with a
    /// passphrase unless --no-passphrase) and public_key.pem.
    Keygen(KeygenArgs),
    /// Encrypt a local file (or stdin with `-`).
    Encrypt(EncryptArgs),
    /// Decrypt a local file (or stdin with `-`); the output appears only once the message verified.
    Decrypt(DecryptArgs),
    /// Show what a message says about itself (suite, context, data keys, sizes), without a key;
    /// from S3 only the header is read.
    Inspect(InspectArgs),
    /// Authenticate whole messages (files or objects; a prefix with -r) with the private key,
    /// writing nothing: exit 0 when all verified, 4 when a message was rejected.
    Verify(VerifyArgs),
    /// Copy with encryption: local → s3:// encrypts and uploads, s3:// → local downloads and decrypts.
    Cp(CpArgs),
    /// List buckets' objects: `cse ls s3://bucket/prefix`.
    Ls(LsArgs),
    /// Delete objects.
    Rm(RmArgs),
    /// Create a bucket.
    Mb(MbArgs),
    /// Unfinished multipart uploads: list or abort them.
    #[command(subcommand)]
    Mpu(MpuCommand),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key.
    #[arg(long, default_value = "private_key.pem")]
    pub private_key: PathBuf,
    /// Where to write the public key.
    #[arg(long, default_value = "public_key.pem")]
    pub public_key: PathBuf,
    /// Write the private key unencrypted (as the users' Python scripts need it). By default it
    /// is encrypted with a passphrase asked twice on the terminal, or read from the file named
    /// by CSE_PASSPHRASE_FILE.
    #[arg(long)]
    pub no_passphrase: bool,
}

/// How the RSA key wraps the data key (must match on both sides).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Keys")]
pub struct KeyringArgs {
    /// Key namespace (provider id) of the raw RSA keyring [default: MyAppKeys].
    #[arg(long, env = "CSE_KEY_NAMESPACE")]
    pub key_namespace: Option<String>,
    /// Key name of the raw RSA keyring [default: S3RSAKey].
    #[arg(long, env = "CSE_KEY_NAME")]
    pub key_name: Option<String>,
    /// RSA padding: oaep-sha256, oaep-sha1, oaep-sha384, oaep-sha512 or pkcs1 [default: oaep-sha256].
    #[arg(long, env = "CSE_PADDING")]
    pub padding: Option<String>,
}

// Message options: one set, shared by `encrypt`, `decrypt`, `verify` and `cp`. Each command
// flattens the pieces it uses (`cp` all of them: `MessageArgs`, `PublicKeyArgs`,
// `PrivateKeyArgs`, `WriteArgs`, `ReadArgs`, `CommitmentArgs`, `KeyringArgs`), so every flag
// is declared once; `config::Config` turns them, with the environment and the config file,
// into cse-core's `EncryptConfig`/`DecryptConfig` and the key paths.

/// What every message written or read has: its encryption context.
#[derive(Debug, Args, Clone)]
pub struct MessageArgs {
    /// Encryption context pair, repeatable.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE", value_parser = parse_pair,
          help_heading = "Message")]
    pub context: Vec<(String, String)>,
}

/// Who can open the messages written: the recipients' public keys.
#[derive(Debug, Args, Clone)]
pub struct PublicKeyArgs {
    /// Public key (PEM or DER) of a recipient, repeatable: one encrypted data key each.
    /// `NAME=PEM` names that recipient's data key (default: --key-name)
    /// [default: CSE_PUBLIC_KEY, or public_key / public_keys in the config file].
    #[arg(
        long,
        env = "CSE_PUBLIC_KEY",
        value_name = "[NAME=]PEM",
        help_heading = "Keys"
    )]
    pub public_key: Vec<String>,
}

/// The private key that opens messages.
#[derive(Debug, Args, Clone)]
pub struct PrivateKeyArgs {
    /// Private key (PEM or DER) [default: CSE_PRIVATE_KEY or private_key in the config file].
    #[arg(
        long,
        env = "CSE_PRIVATE_KEY",
        value_name = "PEM",
        help_heading = "Keys"
    )]
    pub private_key: Option<PathBuf>,
}

/// How messages are written.
#[derive(Debug, Args, Clone)]
pub struct WriteArgs {
    /// Algorithm suite: id (0x0578) or name [default: 0x0578, committing and signed].
    #[arg(long, help_heading = "Message")]
    pub suite: Option<String>,
    /// Plaintext bytes per frame.
    #[arg(long, default_value_t = cse_core::DEFAULT_FRAME_LENGTH, help_heading = "Message")]
    pub frame_length: u32,
}

/// What messages read may be. The limits go under the heading the command gives this.
#[derive(Debug, Args, Clone)]
pub struct ReadArgs {
    /// Refuse signed suites (then no plaintext waits for a footer).
    #[arg(long, help_heading = "Message")]
    pub refuse_signed: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Settings for writing messages (`encrypt`).
#[derive(Debug, Args, Clone)]
pub struct EncryptOptions {
    #[command(flatten)]
    pub recipients: PublicKeyArgs,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten)]
    pub write: WriteArgs,
    #[command(flatten)]
    pub commitment: CommitmentArgs,
    #[command(flatten)]
    pub keyring: KeyringArgs,
}

/// Settings for reading messages (`decrypt`, `verify`).
#[derive(Debug, Args, Clone)]
#[command(mut_args(decrypt_help))]
pub struct DecryptOptions {
    #[command(flatten)]
    pub private_key: PrivateKeyArgs,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten, next_help_heading = "Limits on messages")]
    pub read: ReadArgs,
    #[command(flatten)]
    pub commitment: CommitmentArgs,
    #[command(flatten)]
    pub keyring: KeyringArgs,
}

/// The help of the shared options where reading messages differs. (`mut_args` changes
/// them in place: `mut_arg` would move them, and their help heading, to the end.)
fn decrypt_help(a: clap::Arg) -> clap::Arg {
    match a.get_id().as_str() {
        "context" => {
            a.help("Required encryption context pair, repeatable: the message must carry it")
        }
        _ => a,
    }
}

/// The help of the shared options as `cp` uses them, both ways.
fn cp_help(a: clap::Arg) -> clap::Arg {
    let help = match a.get_id().as_str() {
        "public_key" => {
            "Public key for uploads (local → s3), repeatable: one encrypted data key per \
             recipient; `NAME=PEM` names that recipient's data key (default: --key-name)"
        }
        "private_key" => "Private key for downloads (s3 → local)",
        "context" => {
            "Encryption context pair (on upload: stored; on download: required), repeatable"
        }
        "suite" => "Algorithm suite for uploads [default: 0x0578]",
        "refuse_signed" => "Refuse signed messages (downloads)",
        _ => return a,
    };
    a.help(help)
}

/// Bounds on what a message may make cse do before anything is verified (a message over
/// one is refused with exit status 4). The defaults are those of cse-core.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long, value_name = "N", default_value_t = cse_core::DEFAULT_MAX_ENCRYPTED_DATA_KEYS)]
    pub max_encrypted_data_keys: usize,
    /// Try at most this many data keys with the private key (each is an RSA operation).
    #[arg(long, value_name = "N", default_value_t = cse_core::DEFAULT_MAX_KEY_ATTEMPTS)]
    pub max_key_attempts: usize,
    /// Refuse headers larger than this, e.g. 1MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg,
          default_value_t = Size(cse_core::DEFAULT_MAX_HEADER_SIZE as u64))]
    pub max_header_size: Size,
    /// Refuse frame lengths above this (one frame is held in memory until its tag verifies).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg,
          default_value_t = Size(cse_core::DEFAULT_MAX_FRAME_LENGTH))]
    pub max_frame_length: Size,
    /// Refuse non-framed bodies larger than this (such a body is held whole until it verifies).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg,
          default_value_t = Size(cse_core::DEFAULT_MAX_NON_FRAMED_SIZE))]
    pub max_body_size: Size,
}

/// A byte count given as `8388608`, `8MiB`...; shown in binary units when exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            if n != 0 && n.trailing_zeros() >= shift {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}")
    }
}

fn parse_size_arg(s: &str) -> Result<Size, String> {
    parse_size(s).map(Size)
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Message")]
pub struct CommitmentArgs {
    /// Commitment policy [default: require-encrypt-require-decrypt].
    #[arg(long, value_enum)]
    pub commitment_policy: Option<Policy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[allow(clippy::enum_variant_names)] // the official policy names
pub enum Policy {
    RequireEncryptRequireDecrypt,
    RequireEncryptAllowDecrypt,
    ForbidEncryptAllowDecrypt,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// Output file, or `-` for stdout.
    #[arg(short = 'o', long, help_heading = "Output")]
    pub output: String,
    /// Print one JSON line of message facts.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub options: EncryptOptions,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// Output file, or `-` for stdout.
    #[arg(short = 'o', long, help_heading = "Output")]
    pub output: String,
    /// Print one JSON line of message facts.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub options: DecryptOptions,
}

/// `cp` takes every message option; its help says which direction each one is for.
#[derive(Debug, Args)]
#[command(mut_args(cp_help))]
pub struct CpArgs {
    /// Source: a local path, `-` (stdin) or s3://bucket/key.
    pub src: String,
    /// Destination: a local path, `-` (stdout) or s3://bucket/key (a trailing / keeps the file name).
    pub dst: String,
    /// Copy a directory tree or every object under a prefix.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// With --recursive: include paths matching this glob (applied in order with --exclude).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// With --recursive: exclude paths matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub recipients: PublicKeyArgs,
    #[command(flatten)]
    pub private_key: PrivateKeyArgs,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten)]
    pub write: WriteArgs,
    #[command(flatten, next_help_heading = "Limits on downloaded messages")]
    pub read: ReadArgs,
    #[command(flatten)]
    pub commitment: CommitmentArgs,
    #[command(flatten)]
    pub keyring: KeyringArgs,
    /// Uploads: keep no local state to continue an interrupted multipart upload (by
    /// default a file upload in parts keeps its state under $XDG_STATE_HOME/cse until done).
    #[arg(long, help_heading = "Transfer")]
    pub no_resume: bool,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Transfer")]
pub struct TransferArgs {
    /// Multipart part size (and ranged-GET size), e.g. 8MiB [default: 8MiB or the config file].
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub part_size: Option<u64>,
    /// Objects above this size are uploaded in parts [default: 8MiB].
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub multipart_threshold: Option<u64>,
    /// Requests in flight [default: 10 or the config file].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Size of stdin when known, to choose the part size of a large stream.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub expected_size: Option<u64>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A message file, or s3://bucket/key.
    pub target: String,
    /// Print one JSON object.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Read at most this many bytes of header.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg,
          default_value_t = Size(cse_core::DEFAULT_MAX_HEADER_SIZE as u64))]
    pub max_header_size: Size,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Message files, s3://bucket/key, or s3://bucket/prefix with --recursive.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Verify every object under the prefixes given.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    #[command(flatten)]
    pub options: DecryptOptions,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// s3://bucket[/prefix]
    pub target: String,
    /// List every object under the prefix instead of one level.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// s3://bucket/key, or s3://bucket/prefix with --recursive.
    pub target: String,
    /// Delete every object under the prefix.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// With --recursive: include keys matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// With --recursive: exclude keys matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Args)]
pub struct MbArgs {
    /// s3://bucket
    pub target: String,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Subcommand)]
pub enum MpuCommand {
    /// List unfinished multipart uploads under s3://bucket[/prefix].
    Ls {
        target: String,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Abort one upload (s3://bucket/key --upload-id ID) or all under a prefix (--all).
    Abort {
        target: String,
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "all",
            required_unless_present = "all"
        )]
        upload_id: Option<String>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        transfer: TransferArgs,
    },
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// `8388608`, `8MiB`, `8M`, `1GiB`, `512KiB`, `5MB` (decimal).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// A subcommand's `--help` text.
    fn help(name: &str) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        cmd.find_subcommand_mut(name)
            .expect("subcommand")
            .render_long_help()
            .to_string()
    }

    #[test]
    fn s3_options_only_on_s3_commands_before_or_after_the_command() {
        for local in ["encrypt", "decrypt", "keygen"] {
            assert!(!help(local).contains("--endpoint-url"), "{local}");
        }
        for remote in ["cp", "ls", "rm", "mb"] {
            let h = help(remote);
            for heading in ["S3:", "Transfer:", "Output:"] {
                assert!(h.contains(heading), "{remote} lacks {heading}");
            }
        }
        // Before the command (as with `aws`), after it, and the one after it wins.
        let cli = Cli::try_parse_from([
            "cse",
            "--profile",
            "outer",
            "--region",
            "r1",
            "ls",
            "s3://b",
            "--region",
            "r2",
        ])
        .expect("parses");
        let Command::Ls(ls) = &cli.command else {
            panic!("not ls")
        };
        let s3 = ls.transfer.s3.or(&cli.s3);
        assert_eq!(s3.profile.as_deref(), Some("outer"));
        assert_eq!(s3.region.as_deref(), Some("r2"));
        assert_eq!(s3.max_attempts, None);
    }

    #[test]
    fn help_headings_keep_their_order() {
        let cases: [(&str, &[&str]); 4] = [
            ("encrypt", &["Output:", "Keys:", "Message:"]),
            (
                "decrypt",
                &["Output:", "Keys:", "Message:", "Limits on messages:"],
            ),
            (
                "verify",
                &[
                    "Keys:",
                    "Message:",
                    "Limits on messages:",
                    "Transfer:",
                    "S3:",
                    "Output:",
                ],
            ),
            (
                "cp",
                &[
                    "Keys:",
                    "Message:",
                    "Limits on downloaded messages:",
                    "Transfer:",
                    "S3:",
                    "Output:",
                ],
            ),
        ];
        for (name, headings) in cases {
            let h = help(name);
            let at: Vec<usize> = headings
                .iter()
                .map(|x| {
                    h.find(&format!("\n{x}\n"))
                        .unwrap_or_else(|| panic!("{name}: {x}"))
                })
                .collect();
            assert!(at.is_sorted(), "{name}: {headings:?} at {at:?}");
        }
        // cp says which direction each shared option is for.
        let cp = help("cp");
        assert!(cp.contains("Private key for downloads (s3 → local)"));
        assert!(help("decrypt").contains("Required encryption context pair"));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("5MB"), Ok(5_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("eight").is_err());
        assert!(parse_size("1XB").is_err());
    }

    #[test]
    fn limits_default_to_the_core_and_parse_sizes() {
        let cli = Cli::try_parse_from(["cse", "decrypt", "in", "-o", "out"]).expect("parses");
        let Command::Decrypt(d) = cli.command else {
            panic!("not decrypt")
        };
        let l = &d.options.read.limits;
        assert_eq!(
            l.max_encrypted_data_keys,
            cse_core::DEFAULT_MAX_ENCRYPTED_DATA_KEYS
        );
        assert_eq!(l.max_key_attempts, cse_core::DEFAULT_MAX_KEY_ATTEMPTS);
        assert_eq!(
            l.max_header_size.0,
            cse_core::DEFAULT_MAX_HEADER_SIZE as u64
        );
        assert_eq!(l.max_frame_length.0, cse_core::DEFAULT_MAX_FRAME_LENGTH);
        assert_eq!(l.max_body_size.0, cse_core::DEFAULT_MAX_NON_FRAMED_SIZE);
        let cli = Cli::try_parse_from([
            "cse",
            "cp",
            "s3://b/k",
            "out",
            "--max-frame-length",
            "16MiB",
            "--max-body-size",
            "1GiB",
            "--max-header-size",
            "4096",
            "--max-key-attempts",
            "2",
        ])
        .expect("parses");
        let Command::Cp(c) = cli.command else {
            panic!("not cp")
        };
        assert_eq!(c.read.limits.max_frame_length, Size(16 << 20));
        assert_eq!(c.read.limits.max_body_size, Size(1 << 30));
        assert_eq!(c.read.limits.max_header_size, Size(4096));
        assert_eq!(c.read.limits.max_key_attempts, 2);
        assert_eq!(Size(16 << 20).to_string(), "16MiB");
        assert_eq!(Size(1000).to_string(), "1000");
        assert_eq!(Size(0).to_string(), "0");
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(parse_pair("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_pair("=x").is_err());
        assert!(parse_pair("novalue").is_err());
    }
}
