//! Raw RSA keyring (spec `framework/raw-rsa-keyring.md`; MPL `CreateRawRsaKeyring`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};

use zeroize::Zeroizing;

use super::keyfile;
use super::{
    DataKey, DecryptionMaterials, EncryptionMaterials, Keyring, check_namespace, check_no_key_yet,
    not_decrypted,
};
use crate::crypto::CryptoProvider;
use crate::error::Error;
use crate::header::EncryptedDataKey;

/// RSA padding of the wrapped data key. OAEP uses MGF1 with the same hash and an empty label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// PKCS #1 v1.5.
    Pkcs1,
    /// OAEP with SHA-1.
    OaepSha1,
    /// OAEP with SHA-256 (the users' current setting).
    OaepSha256,
    /// OAEP with SHA-384.
    OaepSha384,
    /// OAEP with SHA-512.
    OaepSha512,
}

impl RsaPadding {
    /// Every padding.
    pub const ALL: [Self; 5] = [
        Self::Pkcs1,
        Self::OaepSha1,
        Self::OaepSha256,
        Self::OaepSha384,
        Self::OaepSha512,
    ];

    /// The name used on command lines: `pkcs1`, `oaep-sha1`, … `oaep-sha512`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pkcs1 => "pkcs1",
            Self::OaepSha1 => "oaep-sha1",
            Self::OaepSha256 => "oaep-sha256",
            Self::OaepSha384 => "oaep-sha384",
            Self::OaepSha512 => "oaep-sha512",
        }
    }

    /// Parses [`RsaPadding::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

/// Wraps data keys with an RSA public key and unwraps them with the private key.
/// Encrypting needs only the public key, decrypting only the private key.
pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    public: Option<rsa::PublicKey>,
    private: Option<rsa::PrivateKey>,
    /// The same keys parsed once by AWS-LC, for OAEP under [`CryptoProvider::AWS_LC`].
    #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
    lc: lc::Keys,
}

impl core::fmt::Debug for RawRsaKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawRsaKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("padding", &self.padding)
            .field("public", &self.public.is_some())
            .field("private", &self.private.as_ref().map(|_| "redacted"))
            .finish()
    }
}

impl RawRsaKeyring {
    /// A keyring with no key yet; add one with [`Self::with_public_key`] / [`Self::with_private_key`].
    pub fn new(namespace: &str, name: &str, padding: RsaPadding) -> Result<Self, Error> {
        check_namespace(namespace)?;
        Ok(Self {
            namespace: namespace.into(),
            name: name.into(),
            padding,
            public: None,
            private: None,
            #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
            lc: lc::Keys::default(),
        })
    }

    /// Adds the public key (PEM or DER; SPKI or PKCS #1) used to encrypt.
    pub fn with_public_key(mut self, key: &[u8]) -> Result<Self, Error> {
        let public = load_public_key(key)?;
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        {
            self.lc.public = lc::public(&public);
        }
        self.public = Some(public);
        Ok(self)
    }

    /// Adds the private key (PEM or DER; PKCS #8 or PKCS #1) used to decrypt.
    pub fn with_private_key(mut self, key: &[u8]) -> Result<Self, Error> {
        let private = load_private_key(key)?;
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        {
            // AWS-LC gets the key as written (with its CRT parameters) when it is PKCS #8.
            self.lc.private = plain_pkcs8_der(key)
                .and_then(|der| lc::private_der(&der))
                .or_else(|| lc::private(&private));
        }
        self.private = Some(private);
        Ok(self)
    }

    /// Adds a private key protected by `passphrase` (PEM `ENCRYPTED PRIVATE KEY` or its DER:
    /// PKCS #8 with PBES2, PBKDF2 or scrypt, AES-CBC, as openssl writes it). An unencrypted key
    /// is taken as by [`Self::with_private_key`].
    pub fn with_encrypted_private_key(
        mut self,
        key: &[u8],
        passphrase: &[u8],
    ) -> Result<Self, Error> {
        if !is_encrypted_private_key(key) {
            return self.with_private_key(key);
        }
        // The passphrase's key derivation (PBKDF2 or scrypt) runs once.
        let plain = decrypt_private_key(key, passphrase)?;
        let private = rsa::PrivateKey::from_pkcs8_der(&plain).map_err(|_| not_rsa())?;
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        {
            self.lc.private = lc::private_der(&plain).or_else(|| lc::private(&private));
        }
        self.private = Some(private);
        Ok(self)
    }

    /// The key namespace (written as provider id).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The key name (written as provider info).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The padding.
    pub fn padding(&self) -> RsaPadding {
        self.padding
    }

    fn wrap(
        &self,
        provider: CryptoProvider,
        key: &rsa::PublicKey,
        data: &[u8],
    ) -> rsa::Result<Vec<u8>> {
        use sha2::{Sha256, Sha384, Sha512};
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        if provider.is_aws_lc()
            && let Some(r) = lc::wrap(&self.lc, self.padding, data)
        {
            return r.map_err(|()| rsa::Error::Internal);
        }
        let _ = provider;
        let mut rng = getrandom::SysRng;
        match self.padding {
            RsaPadding::Pkcs1 => key.pkcs1v15_encrypt_with_rng(&mut rng, data),
            RsaPadding::OaepSha1 => key.oaep_encrypt_with_rng::<sha1::Sha1, _>(&mut rng, data),
            RsaPadding::OaepSha256 => key.oaep_encrypt_with_rng::<Sha256, _>(&mut rng, data),
            RsaPadding::OaepSha384 => key.oaep_encrypt_with_rng::<Sha384, _>(&mut rng, data),
            RsaPadding::OaepSha512 => key.oaep_encrypt_with_rng::<Sha512, _>(&mut rng, data),
        }
    }

    fn unwrap(
        &self,
        provider: CryptoProvider,
        key: &rsa::PrivateKey,
        data: &[u8],
    ) -> rsa::Result<Vec<u8>> {
        use sha2::{Sha256, Sha384, Sha512};
        #[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
        if provider.is_aws_lc()
            && let Some(r) = lc::unwrap(&self.lc, self.padding, data)
        {
            return r.map_err(|()| rsa::Error::Decryption);
        }
        let _ = provider;
        let mut rng = getrandom::SysRng;
        match self.padding {
            RsaPadding::Pkcs1 => key.pkcs1v15_decrypt_with_rng(&mut rng, data),
            RsaPadding::OaepSha1 => key.oaep_decrypt_with_rng::<sha1::Sha1, _>(&mut rng, data),
            RsaPadding::OaepSha256 => key.oaep_decrypt_with_rng::<Sha256, _>(&mut rng, data),
            RsaPadding::OaepSha384 => key.oaep_decrypt_with_rng::<Sha384, _>(&mut rng, data),
            RsaPadding::OaepSha512 => key.oaep_decrypt_with_rng::<Sha512, _>(&mut rng, data),
        }
    }
}

impl Keyring for RawRsaKeyring {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        let public = self.public.as_ref().ok_or_else(|| {
            Error::Key(format!(
                "keyring {}/{} has no public key to encrypt with (a private key alone is not used for encryption)",
                self.namespace, self.name
            ))
        })?;
        if m.data_key.is_none() {
            m.data_key = Some(DataKey::generate(m.suite)?);
        }
        let data_key = m
            .data_key
            .as_ref()
            .map(DataKey::as_bytes)
            .unwrap_or_default();
        let ciphertext = self
            .wrap(m.provider, public, data_key)
            .map_err(|e| Error::Key(format!("RSA encryption of the data key failed: {e}")))?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.name.as_bytes().to_vec(),
            ciphertext,
        });
        Ok(())
    }

    fn on_decrypt(
        &self,
        m: &mut DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<(), Error> {
        check_no_key_yet(m)?;
        let mut attempts = Vec::new();
        let Some(private) = &self.private else {
            attempts.push(format!(
                "keyring {}/{} has no private key (a public key cannot decrypt)",
                self.namespace, self.name
            ));
            return Err(not_decrypted(edks, attempts));
        };
        let mut failed = 0usize;
        for edk in edks {
            if edk.provider_id != self.namespace || edk.provider_info != self.name.as_bytes() {
                continue;
            }
            m.count_attempt()?;
            // Every failure (bad padding, a key of the wrong length, any other reason) ends
            // the same way, so that nothing tells one from another. PKCS #1 v1.5 uses
            // implicit rejection: bad padding yields a synthetic key, not an error.
            match self.unwrap(m.provider, private, &edk.ciphertext) {
                Ok(k) if k.len() == m.suite.data_key_len() => {
                    m.data_key = Some(DataKey::new(k));
                    return Ok(());
                }
                Ok(k) => drop(DataKey::new(k)),
                Err(_) => {}
            }
            failed += 1;
        }
        attempts.push(if failed == 0 {
            format!(
                "keyring {}/{} matched none of them",
                self.namespace, self.name
            )
        } else {
            format!(
                "{}/{}: {failed} data key(s) of that name did not decrypt with this private key",
                self.namespace, self.name
            )
        });
        Err(not_decrypted(edks, attempts))
    }
}

fn pem_label(data: &[u8]) -> Option<(&str, &str)> {
    let text = core::str::from_utf8(data).ok()?;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let end = rest.find("-----")?;
    Some((&rest[..end], &text[start..]))
}

/// Loads an RSA public key: PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS #1), or DER of either.
pub fn load_public_key(data: &[u8]) -> Result<rsa::PublicKey, Error> {
    let err = |what: &str| Error::Key(format!("cannot read the RSA public key: {what}"));
    match pem_label(data) {
        Some(("PUBLIC KEY", pem)) => {
            rsa::PublicKey::from_public_key_pem(pem).map_err(|_| err("bad SPKI PEM"))
        }
        Some(("RSA PUBLIC KEY", pem)) => {
            rsa::PublicKey::from_pkcs1_pem(pem).map_err(|_| err("bad PKCS #1 PEM"))
        }
        Some((label, _)) if label.contains("PRIVATE KEY") => Err(err(
            "this is a private key; encryption needs the public key (e.g. public_key.pem)",
        )),
        Some((label, _)) => Err(err(&format!("unexpected PEM block {label:?}"))),
        None => rsa::PublicKey::from_public_key_der(data)
            .or_else(|_| rsa::PublicKey::from_pkcs1_der(data))
            .map_err(|_| err("neither PEM nor SPKI/PKCS #1 DER")),
    }
}

/// Loads an RSA private key: PEM `PRIVATE KEY` (PKCS #8) or `RSA PRIVATE KEY` (PKCS #1), or DER of either.
pub fn load_private_key(data: &[u8]) -> Result<rsa::PrivateKey, Error> {
    let err = |what: &str| Error::Key(format!("cannot read the RSA private key: {what}"));
    match pem_label(data) {
        Some(("PRIVATE KEY", pem)) => {
            rsa::PrivateKey::from_pkcs8_pem(pem).map_err(|_| err("bad PKCS #8 PEM"))
        }
        Some(("RSA PRIVATE KEY", pem)) if pem.contains("Proc-Type: 4,ENCRYPTED") => {
            Err(legacy_encrypted())
        }
        Some(("RSA PRIVATE KEY", pem)) => {
            rsa::PrivateKey::from_pkcs1_pem(pem).map_err(|_| err("bad PKCS #1 PEM"))
        }
        Some((keyfile::PEM_LABEL, _)) => Err(err(
            "it is encrypted: a passphrase is needed (load_private_key_with_passphrase)",
        )),
        Some((label, _)) if label.contains("PUBLIC KEY") => Err(err(
            "this is a public key; decryption needs the private key (e.g. private_key.pem)",
        )),
        Some((label, _)) => Err(err(&format!("unexpected PEM block {label:?}"))),
        None => rsa::PrivateKey::from_pkcs8_der(data)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_der(data))
            .map_err(|_| err("neither PEM nor PKCS #8/PKCS #1 DER")),
    }
}

fn legacy_encrypted() -> Error {
    Error::Key(
        "cannot read the RSA private key: it is encrypted in the legacy OpenSSL format; \
         convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`"
            .into(),
    )
}

/// Whether `data` is a passphrase-protected private key (PEM `ENCRYPTED PRIVATE KEY`, or DER
/// that parses as an `EncryptedPrivateKeyInfo`), i.e. whether a passphrase must be asked for.
pub fn is_encrypted_private_key(data: &[u8]) -> bool {
    use pkcs8::der::Decode;
    match pem_label(data) {
        Some((label, _)) => label == keyfile::PEM_LABEL,
        None => pkcs8::EncryptedPrivateKeyInfoRef::from_der(data).is_ok(),
    }
}

/// Loads an RSA private key protected by `passphrase`: PEM `ENCRYPTED PRIVATE KEY` or its DER
/// (PKCS #8 `EncryptedPrivateKeyInfo`, PBES2 with PBKDF2 or scrypt and AES-CBC). A key that is
/// not encrypted is loaded as by [`load_private_key`]. A wrong passphrase is an
/// [`Error::Key`] that says so. The decrypted PKCS #8 bytes and the derived key are zeroized.
pub fn load_private_key_with_passphrase(
    data: &[u8],
    passphrase: &[u8],
) -> Result<rsa::PrivateKey, Error> {
    if !is_encrypted_private_key(data) {
        return load_private_key(data);
    }
    let plain = decrypt_private_key(data, passphrase)?;
    rsa::PrivateKey::from_pkcs8_der(&plain).map_err(|_| not_rsa())
}

/// An unencrypted RSA private key (as [`load_private_key`] reads it) as PKCS #8 DER, zeroized
/// on drop, for another RSA implementation (the page hands it to WebCrypto): a `PRIVATE KEY`
/// PEM or PKCS #8 DER as written (with its CRT parameters), a PKCS #1 key converted.
pub fn private_key_pkcs8_der(data: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    use pkcs8::der::Decode;
    if let Some(der) = plain_pkcs8_der(data)
        && pkcs8::PrivateKeyInfoRef::from_der(&der).is_ok()
    {
        return Ok(der);
    }
    let der = load_private_key(data)?
        .to_pkcs8_der()
        .map_err(|_| Error::Key("cannot convert the RSA private key to PKCS #8".into()))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// The PKCS #8 DER of an unencrypted key given as `PRIVATE KEY` PEM or as DER, as written.
fn plain_pkcs8_der(data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    match pem_label(data) {
        Some(("PRIVATE KEY", pem)) => pkcs8::der::pem::decode_vec(pem.as_bytes())
            .ok()
            .map(|(_, der)| Zeroizing::new(der)),
        Some(_) => None,
        None => Some(Zeroizing::new(data.to_vec())),
    }
}

fn not_rsa() -> Error {
    Error::Key("cannot read the RSA private key: the decrypted key is not RSA".into())
}

/// Decrypts a passphrase-protected RSA private key (as [`load_private_key_with_passphrase`]
/// reads it) into its unencrypted PKCS #8 DER, zeroized on drop, for callers that keep the key
/// as bytes (the browser page unlocks a key once, then uses it as an unencrypted one).
pub fn decrypt_private_key(data: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let der: Zeroizing<Vec<u8>> = match pem_label(data) {
        Some((keyfile::PEM_LABEL, pem)) => {
            let (_, der) = pkcs8::der::pem::decode_vec(pem.as_bytes()).map_err(|_| {
                Error::Key("cannot read the RSA private key: bad encrypted PKCS #8 PEM".into())
            })?;
            Zeroizing::new(der)
        }
        None if is_encrypted_private_key(data) => Zeroizing::new(data.to_vec()),
        _ => {
            return Err(Error::Key(
                "this private key is not encrypted: no passphrase is needed".into(),
            ));
        }
    };
    let plain = keyfile::decrypt_der(&der, passphrase)?;
    rsa::PrivateKey::from_pkcs8_der(&plain).map_err(|_| not_rsa())?;
    Ok(plain)
}

/// RSA-OAEP through AWS-LC. PKCS #1 v1.5 stays with RustCrypto, whose unwrapping uses implicit
/// rejection (no padding error to time or observe).
#[cfg(all(feature = "aws-lc", not(target_arch = "wasm32")))]
mod lc {
    use alloc::vec::Vec;

    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
        OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
        PublicEncryptingKey,
    };
    use pkcs8::{EncodePrivateKey, EncodePublicKey};
    use zeroize::Zeroizing;

    use super::RsaPadding;

    #[derive(Default)]
    pub(super) struct Keys {
        pub(super) public: Option<OaepPublicEncryptingKey>,
        pub(super) private: Option<OaepPrivateDecryptingKey>,
    }

    fn algorithm(padding: RsaPadding) -> Option<&'static OaepAlgorithm> {
        match padding {
            RsaPadding::Pkcs1 => None,
            RsaPadding::OaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            RsaPadding::OaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            RsaPadding::OaepSha384 => Some(&OAEP_SHA384_MGF1SHA384),
            RsaPadding::OaepSha512 => Some(&OAEP_SHA512_MGF1SHA512),
        }
    }

    /// The key as AWS-LC sees it, or `None` if AWS-LC refuses it (RustCrypto is used then).
    pub(super) fn public(key: &rsa::PublicKey) -> Option<OaepPublicEncryptingKey> {
        let der = key.to_public_key_der().ok()?;
        let k = PublicEncryptingKey::from_der(der.as_bytes()).ok()?;
        OaepPublicEncryptingKey::new(k).ok()
    }

    pub(super) fn private(key: &rsa::PrivateKey) -> Option<OaepPrivateDecryptingKey> {
        private_der(key.to_pkcs8_der().ok()?.as_bytes())
    }

    /// From PKCS #8 DER as the key file holds it.
    pub(super) fn private_der(der: &[u8]) -> Option<OaepPrivateDecryptingKey> {
        let k = PrivateDecryptingKey::from_pkcs8(der).ok()?;
        OaepPrivateDecryptingKey::new(k).ok()
    }

    /// `None` when AWS-LC does not handle this padding or key.
    pub(super) fn wrap(
        keys: &Keys,
        padding: RsaPadding,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, ()>> {
        let (alg, key) = (algorithm(padding)?, keys.public.as_ref()?);
        let mut out = alloc::vec![0u8; key.ciphertext_size()];
        Some(
            key.encrypt(alg, data, &mut out, None)
                .map(|c| c.to_vec())
                .map_err(|_| ()),
        )
    }

    pub(super) fn unwrap(
        keys: &Keys,
        padding: RsaPadding,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, ()>> {
        let (alg, key) = (algorithm(padding)?, keys.private.as_ref()?);
        let mut out = Zeroizing::new(alloc::vec![0u8; key.min_output_size()]);
        Some(
            key.decrypt(alg, data, &mut out, None)
                .map(|p| p.to_vec())
                .map_err(|_| ()),
        )
    }
}

#[cfg(all(test, feature = "aws-lc", not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    #[test]
    fn aws_lc_takes_the_keys_it_is_given() {
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        let private = k.to_pkcs8_pem(LineEnding::LF).unwrap();
        let public = k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        for padding in RsaPadding::ALL {
            let keyring = RawRsaKeyring::new("n", "k", padding)
                .unwrap()
                .with_private_key(private.as_bytes())
                .unwrap()
                .with_public_key(public.as_bytes())
                .unwrap();
            // Every OAEP keyring has its AWS-LC keys (PKCS #1 v1.5 stays RustCrypto).
            assert!(keyring.lc.private.is_some() && keyring.lc.public.is_some());
            let data = [7u8; 32];
            let ct = keyring
                .wrap(
                    CryptoProvider::AWS_LC,
                    keyring.public.as_ref().unwrap(),
                    &data,
                )
                .unwrap();
            let pt = keyring
                .unwrap(
                    CryptoProvider::PURE_RUST,
                    keyring.private.as_ref().unwrap(),
                    &ct,
                )
                .unwrap();
            assert_eq!(pt, data, "{padding:?}");
        }
    }
}
