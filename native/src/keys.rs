//! Key pairs and keyrings.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use cse_core::{RawRsaKeyring, RsaPadding};
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

    /// A keyring that encrypts with the public key at `path`.
    pub fn encrypting(&self, path: &Path) -> Result<RawRsaKeyring, Failure> {
        let pem = read_key(path, "public")?;
        self.keyring()?
            .with_public_key(&pem)
            .map_err(|e| Failure::message(e, None).context(path.display()))
    }

    /// A keyring that decrypts with the private key at `path`.
    pub fn decrypting(&self, path: &Path) -> Result<RawRsaKeyring, Failure> {
        let pem = read_key(path, "private")?;
        self.keyring()?
            .with_private_key(&pem)
            .map_err(|e| Failure::message(e, None).context(path.display()))
    }
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
pub fn keygen(args: &KeygenArgs, quiet: bool) -> Result<(), Failure> {
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
    let private_pem = Zeroizing::new(
        encode_string("PRIVATE KEY", LineEnding::LF, private_der.as_ref())
            .map_err(|_| err("PEM"))?,
    );
    let public_pem =
        encode_string("PUBLIC KEY", LineEnding::LF, public_der.as_ref()).map_err(|_| err("PEM"))?;
    write_new(&args.private_key, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&args.public_key, public_pem.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&args.private_key);
        return Err(e);
    }
    if !quiet {
        crate::error::say(&format!(
            "wrote {} (private, keep it safe) and {} (public)",
            args.private_key.display(),
            args.public_key.display()
        ));
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
