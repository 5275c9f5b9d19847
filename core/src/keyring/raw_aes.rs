//! Raw AES keyring (spec `framework/raw-aes-keyring.md`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    DataKey, DecryptionMaterials, EncryptionMaterials, Keyring, check_namespace, check_no_key_yet,
    not_decrypted,
};
use crate::context;
use crate::crypto::{GcmKey, IV_LEN, TAG_LEN, fill_random};
use crate::error::Error;
use crate::header::EncryptedDataKey;

const TAG_BITS: u32 = (TAG_LEN * 8) as u32;

/// Wraps data keys with AES-GCM under a 128-, 192- or 256-bit wrapping key. The GCM AAD is the
/// canonical serialization of the whole encryption context.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    /// The wrapping key; an AES-GCM key of the message's provider is made from it per use.
    key: zeroize::Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RawAesKeyring {
    /// A keyring over `wrapping_key` (16, 24 or 32 bytes).
    pub fn new(namespace: &str, name: &str, wrapping_key: &[u8]) -> Result<Self, Error> {
        check_namespace(namespace)?;
        // Checks the length now, with any provider.
        GcmKey::new(crate::crypto::CryptoProvider::default(), wrapping_key)?;
        Ok(Self {
            namespace: namespace.into(),
            name: name.into(),
            key: zeroize::Zeroizing::new(wrapping_key.to_vec()),
        })
    }

    /// Provider info: key name ‖ tag length in bits ‖ IV length ‖ IV.
    fn provider_info(&self, iv: &[u8; IV_LEN]) -> Vec<u8> {
        let mut info = Vec::with_capacity(self.name.len() + 8 + IV_LEN);
        info.extend_from_slice(self.name.as_bytes());
        info.extend_from_slice(&TAG_BITS.to_be_bytes());
        info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        info.extend_from_slice(iv);
        info
    }

    /// The IV of an EDK whose provider info is ours, or `None`.
    fn parse_info(&self, info: &[u8]) -> Option<[u8; IV_LEN]> {
        let rest = info.strip_prefix(self.name.as_bytes())?;
        if rest.len() != 8 + IV_LEN
            || rest[..4] != TAG_BITS.to_be_bytes()
            || rest[4..8] != (IV_LEN as u32).to_be_bytes()
        {
            return None;
        }
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&rest[8..]);
        Some(iv)
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        if m.data_key.is_none() {
            m.data_key = Some(DataKey::generate(m.suite)?);
        }
        let aad = context::serialize(&m.encryption_context)?;
        let mut iv = [0u8; IV_LEN];
        fill_random(&mut iv)?;
        let mut ciphertext = m
            .data_key
            .as_ref()
            .map(|k| k.as_bytes().to_vec())
            .unwrap_or_default();
        let tag = GcmKey::new(m.provider, &self.key)?.seal_in_place(&iv, &aad, &mut ciphertext);
        ciphertext.extend_from_slice(&tag);
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.provider_info(&iv),
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
        let aad = context::serialize(&m.encryption_context)?;
        let wrapping = GcmKey::new(m.provider, &self.key)?;
        let mut attempts = Vec::new();
        for edk in edks {
            if edk.provider_id != self.namespace {
                continue;
            }
            let Some(iv) = self.parse_info(&edk.provider_info) else {
                continue;
            };
            m.count_attempt()?;
            let n = m.suite.data_key_len();
            if edk.ciphertext.len() != n + TAG_LEN {
                attempts.push(format!(
                    "{}/{}: wrapped key has the wrong length",
                    self.namespace, self.name
                ));
                continue;
            }
            let mut key = DataKey::new(edk.ciphertext[..n].to_vec());
            let mut buf = core::mem::take(&mut key.0);
            if wrapping
                .open_in_place(&iv, &aad, &mut buf, &edk.ciphertext[n..])
                .is_ok()
            {
                m.data_key = Some(DataKey(buf));
                return Ok(());
            }
            attempts.push(format!(
                "{}/{}: AES-GCM unwrap failed (wrong wrapping key or encryption context)",
                self.namespace, self.name
            ));
        }
        if attempts.is_empty() {
            attempts.push(format!(
                "keyring {}/{} matched none of them",
                self.namespace, self.name
            ));
        }
        Err(not_decrypted(edks, attempts))
    }
}
