//! Key pairs and keyrings.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use cse_core::keyring::{encrypt_private_key_pem, is_encrypted_private_key};
use cse_core::{Keyring, MultiKeyring, RawRsaKeyring, RsaPadding};
use pkcs8::der::pem::{LineEnding, encode_string};
use zeroize::Zeroizing;

use crate::cli::{KeygenArgs, KeyringArgs};
use crate::error::Failure;
use crate::settings::FileConfig;

/// Namespace, name and padding of the raw RSA keyring (the users' scripts: MyAppKeys,
/// S3RSAKey, OAEP-SHA256).
#[derive(Clone, Debug)]
pub struct KeySpec {
    pub namespace: String,
    pub name: String,
    pub padding: RsaPadding,
}

impl KeySpec {
    pub fn resolve(args: &KeyringArgs, file: &FileConfig) -> Result<Self, Failure> {
        let padding_name = args
            .padding
            .clone()
            .or_else(|| file.padding.clone())
            .unwrap_or_else(|| "oaep-sha256".into());
        let padding = RsaPadding::from_name(&padding_name).ok_or_else(|| {
            Failure::config(format!(
                "unknown RSA padding {padding_name:?}: use oaep-sha256, oaep-sha1, oaep-sha384, \
                 oaep-sha512 or pkcs1"
            ))
        })?;
        Ok(Self {
            namespace: args
                .key_namespace
                .clone()
                .or_else(|| file.key_namespace.clone())
                .unwrap_or_else(|| "MyAppKeys".into()),
            name: args
                .key_name
                .clone()
                .or_else(|| file.key_name.clone())
                .unwrap_or_else(|| "S3RSAKey".into()),
            padding,
        })
    }

    /// `namespace/name`, as error messages list data keys.
    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn keyring(&self) -> Result<RawRsaKeyring, Failure> {
        RawRsaKeyring::new(&self.namespace, &self.name, self.padding)
            .map_err(|e| Failure::message(e, None))
    }

    /// A keyring that encrypts for every recipient of `values` ([`recipient_values`]: the
    /// `--public-key` values given (or CSE_PUBLIC_KEY), else `public_key` and `public_keys` of
    /// the config file, else `public_key.pem`). Each value is `PATH` (the data key is named like the others,
    /// `--key-name` or S3RSAKey) or `NAME=PATH` (that recipient's data key is named NAME).
    /// The message carries one encrypted data key per recipient.
    pub fn encrypting(&self, values: &[String]) -> Result<MultiKeyring, Failure> {
        let mut keyrings: Vec<Box<dyn Keyring>> = Vec::with_capacity(values.len());
        for value in values {
            let (name, path) = recipient(value);
            let pem = read_key(&path, "public")?;
            let name = name.unwrap_or(&self.name);
            let keyring = RawRsaKeyring::new(&self.namespace, name, self.padding)
                .and_then(|k| k.with_public_key(&pem))
                .map_err(|e| Failure::message(e, None).context(path.display()))?;
            keyrings.push(Box::new(keyring));
        }
        let generator = keyrings.remove(0);
        MultiKeyring::new(Some(generator), keyrings).map_err(|e| Failure::message(e, None))
    }

    /// A keyring that decrypts with the private key at `path`. A passphrase-protected key
    /// (`ENCRYPTED PRIVATE KEY`) asks for its passphrase once, here.
    pub fn decrypting(&self, path: &Path) -> Result<RawRsaKeyring, Failure> {
        let pem = read_key(path, "private")?;
        let keyring = self.keyring()?;
        let keyring = if is_encrypted_private_key(&pem) {
            let pass = passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
            keyring.with_encrypted_private_key(&pem, pass.as_bytes())
        } else {
            keyring.with_private_key(&pem)
        };
        keyring.map_err(|e| Failure::message(e, None).context(path.display()))
    }

    /// SHA-256 (hex) of what decides who can open an upload: the key names, the padding and
    /// each recipient's public key file, in order.
    pub fn recipients_id(&self, values: &[String]) -> Result<String, Failure> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(format!(
            "{}\0{}\0{:?}\0",
            self.namespace, self.name, self.padding
        ));
        for value in values {
            let (name, path) = recipient(value);
            let pem = read_key(&path, "public")?;
            h.update(format!("{}\0{}\0", name.unwrap_or(&self.name), pem.len()));
            h.update(&pem[..]);
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// The recipients' values (`[NAME=]PEM`): given, else from the config file, else
/// `public_key.pem`.
pub fn recipient_values(given: &[String], file: &FileConfig) -> Vec<String> {
    let mut values: Vec<String> = given.to_vec();
    if values.is_empty() {
        values.extend(file.public_key.iter().map(|p| p.display().to_string()));
        values.extend(file.public_keys.iter().cloned());
    }
    if values.is_empty() {
        values.push("public_key.pem".into());
    }
    values
}

/// `NAME=PATH` or `PATH`. A value naming an existing file is a path even if it holds `=`.
pub fn recipient(value: &str) -> (Option<&str>, PathBuf) {
    if !Path::new(value).exists()
        && let Some((name, path)) = value.split_once('=')
        && !name.is_empty()
        && !name.contains('/')
    {
        return (Some(name), PathBuf::from(path));
    }
    (None, PathBuf::from(value))
}

/// The variable naming a file that holds the passphrase (its first line), for batch jobs.
pub const PASSPHRASE_FILE_VAR: &str = "CSE_PASSPHRASE_FILE";

/// The passphrase: the first line of the file named by CSE_PASSPHRASE_FILE (as openssl's
/// `-passin file:`), else asked on the terminal without echo (twice when `confirm`).
fn passphrase(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Some(file) = crate::settings::env(PASSPHRASE_FILE_VAR) {
        let text = Zeroizing::new(std::fs::read(&file).map_err(|e| {
            Failure::config(format!(
                "cannot read the passphrase file {file} ({PASSPHRASE_FILE_VAR}): {e}"
            ))
        })?);
        let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let pass = std::str::from_utf8(line).map_err(|_| {
            Failure::config(format!("the passphrase file {file} is not UTF-8 text"))
        })?;
        return Ok(Zeroizing::new(pass.to_string()));
    }
    let no_terminal = |e: std::io::Error| {
        Failure::config(format!(
            "{} needs a passphrase and none could be asked on a terminal: {e}",
            prompt.trim_end_matches([' ', ':'])
        ))
        .with_hint(format!(
            "for batch jobs, set {PASSPHRASE_FILE_VAR} to a file (mode 0600) holding it"
        ))
    };
    let first = Zeroizing::new(rpassword::prompt_password(prompt).map_err(no_terminal)?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Same passphrase again: ").map_err(no_terminal)?,
        );
        if *again != *first {
            return Err(Failure::config(
                "the two passphrases differ; nothing was written",
            ));
        }
    }
    Ok(first)
}

/// The key file to use: the flag (or its variable), else the config file, else the name the
/// users' scripts use in the current directory.
pub fn key_path(given: Option<PathBuf>, configured: Option<&PathBuf>, default: &str) -> PathBuf {
    given
        .or_else(|| configured.cloned())
        .unwrap_or_else(|| PathBuf::from(default))
}

fn read_key(path: &Path, which: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        let f = Failure::config(format!(
            "cannot read the {which} key {}: {e}",
            path.display()
        ));
        if e.kind() == std::io::ErrorKind::NotFound {
            f.with_hint(format!(
                "pass --{which}-key, set CSE_{}_KEY or {which}_key in ~/.config/cse/config.toml, \
                 or create a pair with `cse keygen`",
                which.to_uppercase()
            ))
        } else {
            f
        }
    })
}

/// `cse keygen`: an RSA-4096 pair, the private half readable by its owner only.
pub fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    for p in [&args.private_key, &args.public_key] {
        if p.exists() {
            return Err(Failure::config(format!(
                "{} already exists; keygen never overwrites a key",
                p.display()
            )));
        }
    }
    let err = |what: &str| Failure::other(format!("RSA key generation failed: {what}"));
    let pair = KeyPair::generate(KeySize::Rsa4096).map_err(|_| err("generate"))?;
    let private_der: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| err("PKCS #8 encoding"))?;
    let public_der: PublicKeyX509Der<'_> = pair
        .public_key()
        .as_der()
        .map_err(|_| err("SPKI encoding"))?;
    let private_pem = if args.no_passphrase {
        Zeroizing::new(
            encode_string("PRIVATE KEY", LineEnding::LF, private_der.as_ref())
                .map_err(|_| err("PEM"))?,
        )
    } else {
        let pass = passphrase(
            &format!("Passphrase to protect {}: ", args.private_key.display()),
            true,
        )?;
        if pass.is_empty() {
            return Err(Failure::config(
                "an empty passphrase protects nothing: give one, or use --no-passphrase",
            ));
        }
        encrypt_private_key_pem(private_der.as_ref(), pass.as_bytes())
            .map_err(|e| Failure::message(e, None))?
    };
    let public_pem =
        encode_string("PUBLIC KEY", LineEnding::LF, public_der.as_ref()).map_err(|_| err("PEM"))?;
    write_new(&args.private_key, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&args.public_key, public_pem.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&args.private_key);
        return Err(e);
    }
    Ok(())
}

/// Creates `path` (never replacing an existing file) with `mode`, and writes `data`.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let io = |e: std::io::Error| Failure::other(format!("{}: {e}", path.display()));
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(data).map_err(io)?;
    f.sync_all().map_err(io)
}
