//! The algorithm-suite table (spec `framework/algorithm-suites.md`, ESDK part).
//!
//! Suites are static data; code matches on their properties, never on raw ids.

use core::fmt;

/// How the data key becomes the frame encryption key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// The data key is used as is (suites 0x00xx).
    Identity,
    /// HKDF-SHA-256 with an empty salt, info = suite id ‖ message id (0x01xx, 0x0214).
    HkdfSha256,
    /// HKDF-SHA-384 with an empty salt, info = suite id ‖ message id (0x0346, 0x0378).
    HkdfSha384,
    /// HKDF-SHA-512 salted with the 32-byte message id, with a commitment key (0x0478, 0x0578).
    HkdfSha512Committing,
}

/// The ECDSA curve (and hash) of a signed suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ECDSA over P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA over P-384 with SHA-384.
    EcdsaP384Sha384,
}

impl SignatureAlgorithm {
    /// Length of the DER signature the official SDKs always write (and we write too).
    pub const fn fixed_signature_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 71,
            Self::EcdsaP384Sha384 => 103,
        }
    }

    /// Length of the digest that is signed (SHA-256, SHA-384).
    pub const fn digest_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 32,
            Self::EcdsaP384Sha384 => 48,
        }
    }
}

/// One ESDK algorithm suite.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmSuite {
    id: u16,
    name: &'static str,
    message_version: u8,
    key_len: usize,
    kdf: Kdf,
    signature: Option<SignatureAlgorithm>,
}

macro_rules! suites {
    ($($konst:ident = $id:literal, $name:literal, $ver:literal, $len:literal, $kdf:ident, $sig:expr;)*) => {
        impl AlgorithmSuite {
            $(
                #[doc = concat!("Suite `", $name, "`.")]
                pub const $konst: Self = Self {
                    id: $id, name: $name, message_version: $ver, key_len: $len,
                    kdf: Kdf::$kdf, signature: $sig,
                };
            )*
            /// Every ESDK suite, in id order.
            pub const ALL: &'static [Self] = &[$(Self::$konst),*];
        }
    };
}

suites! {
    AES_128_GCM_IV12_TAG16_NO_KDF = 0x0014, "AES_128_GCM_IV12_TAG16_NO_KDF", 1, 16, Identity, None;
    AES_192_GCM_IV12_TAG16_NO_KDF = 0x0046, "AES_192_GCM_IV12_TAG16_NO_KDF", 1, 24, Identity, None;
    AES_256_GCM_IV12_TAG16_NO_KDF = 0x0078, "AES_256_GCM_IV12_TAG16_NO_KDF", 1, 32, Identity, None;
    AES_128_GCM_IV12_TAG16_HKDF_SHA256 = 0x0114, "AES_128_GCM_IV12_TAG16_HKDF_SHA256", 1, 16, HkdfSha256, None;
    AES_192_GCM_IV12_TAG16_HKDF_SHA256 = 0x0146, "AES_192_GCM_IV12_TAG16_HKDF_SHA256", 1, 24, HkdfSha256, None;
    AES_256_GCM_IV12_TAG16_HKDF_SHA256 = 0x0178, "AES_256_GCM_IV12_TAG16_HKDF_SHA256", 1, 32, HkdfSha256, None;
    AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 = 0x0214, "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256", 1, 16, HkdfSha256, Some(SignatureAlgorithm::EcdsaP256Sha256);
    AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0346, "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 1, 24, HkdfSha384, Some(SignatureAlgorithm::EcdsaP384Sha384);
    AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0378, "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 1, 32, HkdfSha384, Some(SignatureAlgorithm::EcdsaP384Sha384);
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", 2, 32, HkdfSha512Committing, None;
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", 2, 32, HkdfSha512Committing, Some(SignatureAlgorithm::EcdsaP384Sha384);
}

impl AlgorithmSuite {
    /// The default suite of the official SDKs under a commitment-requiring policy.
    pub const DEFAULT_COMMITTING: Self = Self::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    /// The default suite of the official SDKs (Python, MPL) under `ForbidEncryptAllowDecrypt`.
    pub const DEFAULT_NON_COMMITTING: Self = Self::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;

    /// The suite with this wire id, if it is an ESDK suite.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.id == id)
    }

    /// The two-byte wire id.
    pub const fn id(self) -> u16 {
        self.id
    }
    /// The official name.
    pub const fn name(self) -> &'static str {
        self.name
    }
    /// The message format version (1 or 2) this suite is written with.
    pub const fn message_version(self) -> u8 {
        self.message_version
    }
    /// Length of the plaintext data key and of the derived AES key.
    pub const fn data_key_len(self) -> usize {
        self.key_len
    }
    /// The key derivation.
    pub const fn kdf(self) -> Kdf {
        self.kdf
    }
    /// The footer signature, if the suite is signed.
    pub const fn signature(self) -> Option<SignatureAlgorithm> {
        self.signature
    }
    /// Whether messages carry a footer signature.
    pub const fn is_signed(self) -> bool {
        self.signature.is_some()
    }
    /// Whether the header carries a key commitment.
    pub const fn is_committing(self) -> bool {
        matches!(self.kdf, Kdf::HkdfSha512Committing)
    }
    /// Length of the message id in the header (16 for v1, 32 for v2).
    pub const fn message_id_len(self) -> usize {
        if self.message_version == 1 { 16 } else { 32 }
    }
}

impl fmt::Debug for AlgorithmSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x} ({})", self.id, self.name)
    }
}

impl fmt::Display for AlgorithmSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.id)
    }
}

/// Which suites may be written and read (spec `framework/commitment-policy.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CommitmentPolicy {
    /// Write only non-committing suites; read every suite.
    ForbidEncryptAllowDecrypt,
    /// Write only committing suites; read every suite.
    RequireEncryptAllowDecrypt,
    /// Write and read only committing suites (the default of the official SDKs).
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    /// The suite written when none is chosen, as the official Python SDK 4.x does.
    pub const fn default_suite(self) -> AlgorithmSuite {
        match self {
            Self::ForbidEncryptAllowDecrypt => AlgorithmSuite::DEFAULT_NON_COMMITTING,
            _ => AlgorithmSuite::DEFAULT_COMMITTING,
        }
    }
    /// Whether a message may be written with `suite`.
    pub const fn allows_encrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            Self::ForbidEncryptAllowDecrypt => !suite.is_committing(),
            _ => suite.is_committing(),
        }
    }
    /// Whether a message written with `suite` may be read.
    pub const fn allows_decrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            Self::RequireEncryptRequireDecrypt => suite.is_committing(),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(AlgorithmSuite::ALL.len(), 11);
        for s in AlgorithmSuite::ALL {
            assert_eq!(AlgorithmSuite::from_id(s.id()), Some(*s));
            assert_eq!(s.is_committing(), s.message_version() == 2);
            assert_eq!(
                s.data_key_len() * 8,
                usize::from(match s.id() & 0xff {
                    0x14 => 128u16,
                    0x46 => 192,
                    _ => 256,
                })
            );
        }
        for id in [0x0000, 0x0070, 0x0074, 0x6700, 0x6701, 0x0579] {
            assert!(AlgorithmSuite::from_id(id).is_none(), "{id:#x}");
        }
    }

    #[test]
    fn policies() {
        let c = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let n = AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF;
        let p = CommitmentPolicy::RequireEncryptRequireDecrypt;
        assert!(p.allows_encrypt(c) && !p.allows_encrypt(n));
        assert!(p.allows_decrypt(c) && !p.allows_decrypt(n));
        let p = CommitmentPolicy::RequireEncryptAllowDecrypt;
        assert!(!p.allows_encrypt(n) && p.allows_decrypt(n));
        let p = CommitmentPolicy::ForbidEncryptAllowDecrypt;
        assert!(p.allows_encrypt(n) && !p.allows_encrypt(c) && p.allows_decrypt(c));
        assert_eq!(CommitmentPolicy::default().default_suite().id(), 0x0578);
        assert_eq!(p.default_suite().id(), 0x0378);
    }
}
