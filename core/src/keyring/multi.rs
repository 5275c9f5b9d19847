//! Multi-keyring: a generator and children (spec `framework/multi-keyring.md`).

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{DecryptionMaterials, EncryptionMaterials, Keyring, check_no_key_yet, not_decrypted};
use crate::error::Error;
use crate::header::EncryptedDataKey;

/// On encrypt the generator makes the data key and every keyring wraps it; on decrypt the
/// generator, then each child in order, tries until one unwraps a data key.
#[derive(Debug)]
pub struct MultiKeyring {
    generator: Option<Box<dyn Keyring>>,
    children: Vec<Box<dyn Keyring>>,
}

impl MultiKeyring {
    /// A multi-keyring; it needs a generator to encrypt.
    pub fn new(
        generator: Option<Box<dyn Keyring>>,
        children: Vec<Box<dyn Keyring>>,
    ) -> Result<Self, Error> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::Config(
                "a multi-keyring needs a generator or at least one child".into(),
            ));
        }
        Ok(Self {
            generator,
            children,
        })
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<(), Error> {
        match &self.generator {
            Some(g) => {
                if m.data_key.is_some() {
                    return Err(Error::Misuse(
                        "a multi-keyring generator cannot wrap an existing data key",
                    ));
                }
                g.on_encrypt(m)?;
            }
            None if m.data_key.is_none() => {
                return Err(Error::Config(
                    "a multi-keyring without a generator cannot encrypt".into(),
                ));
            }
            None => {}
        }
        for c in &self.children {
            c.on_encrypt(m)?;
        }
        Ok(())
    }

    fn on_decrypt(
        &self,
        m: &mut DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<(), Error> {
        check_no_key_yet(m)?;
        let mut attempts = Vec::new();
        for k in self.generator.iter().chain(self.children.iter()) {
            match k.on_decrypt(m, edks) {
                Ok(()) if m.data_key.is_some() => return Ok(()),
                Ok(()) => {}
                Err(Error::NoDecryptableKey { attempts: a, .. }) => attempts.extend(a),
                // The attempt budget is the message's, not one keyring's.
                Err(e @ Error::LimitExceeded { .. }) => return Err(e),
                Err(e) => attempts.push(alloc::format!("{e}")),
            }
        }
        Err(not_decrypted(edks, attempts))
    }
}
