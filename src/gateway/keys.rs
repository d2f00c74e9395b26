//! The master key (kept outside the database) and what is derived from it.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::receipts::ReceiptSigner;
use crate::domain::id_number::IdNumber;
use crate::storage::PersonKey;

type HmacSha256 = Hmac<Sha256>;

/// 32 secret bytes; never logged.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key (UUID v4-grade randomness from the OS).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(bytes)
    }

    /// Reads an existing key file (64 hex characters), never creating one:
    /// for tools that only use the key.
    ///
    /// # Errors
    /// When the file cannot be read or does not hold a key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let bytes = decode_hex(text.trim())
            .ok_or_else(|| anyhow::anyhow!("{} does not hold 64 hex characters", path.display()))?;
        Ok(Self(bytes))
    }

    /// Reads the key file (64 hex characters), creating it with mode 0600
    /// when it does not exist.
    ///
    /// # Errors
    /// When the file cannot be read, created, or does not hold a key.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::load(path);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        writeln!(file, "{}", encode_hex(&key.0))?;
        file.sync_all()?;
        Ok(key)
    }

    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_hmac());
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key that seals stored personal data (see `storage::Sealer`).
    pub fn data_key(&self) -> [u8; 32] {
        self.derive("handover-gateway data encryption v1")
    }

    /// The key for person lookups.
    pub fn person_keyer(&self) -> PersonKeyer {
        PersonKeyer(self.derive("handover-gateway person lookup v1"))
    }

    /// The Ed25519 key that signs receipts. Derived, not stored: no second
    /// secret file to back up or lose, and it stays the same for as long as
    /// the master key does (which cannot change anyway without losing every
    /// person lookup), so old receipts keep verifying.
    pub fn receipt_signer(&self) -> ReceiptSigner {
        ReceiptSigner::from_seed(&self.derive("handover-gateway receipt signing v1"))
    }
}

/// HMAC accepts keys of any length, so construction cannot fail.
fn unreachable_hmac() -> HmacSha256 {
    unreachable!("HMAC-SHA256 takes keys of any length")
}

/// Turns an identity number into its lookup key.
#[derive(Clone)]
pub struct PersonKeyer([u8; 32]);

impl PersonKeyer {
    pub fn key(&self, id: &IdNumber) -> PersonKey {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_hmac());
        mac.update(id.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0);
        let id =
            IdNumber::parse("11010519491231002X", time::macros::date!(2026 - 01 - 01)).unwrap();
        assert_eq!(first.person_keyer().key(&id), again.person_keyer().key(&id));
        assert_ne!(
            MasterKey::generate().person_keyer().key(&id),
            first.person_keyer().key(&id)
        );
    }

    #[test]
    fn the_receipt_key_follows_the_master_key_and_differs_between_gateways() {
        let key = MasterKey::from_bytes([3; 32]);
        let same = MasterKey::from_bytes([3; 32]);
        assert_eq!(
            key.receipt_signer().public_key(),
            same.receipt_signer().public_key()
        );
        assert_ne!(
            key.receipt_signer().public_key(),
            MasterKey::from_bytes([4; 32]).receipt_signer().public_key()
        );
    }

    #[test]
    fn a_damaged_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, "not a key").unwrap();
        assert!(MasterKey::load_or_create(&path).is_err());
        let missing = dir.path().join("missing.key");
        assert!(MasterKey::load(&missing).is_err());
        assert!(!missing.exists(), "loading never creates a key");
    }
}
