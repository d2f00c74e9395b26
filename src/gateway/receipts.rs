//! The gateway's receipt key: Ed25519, so anyone holding the public key can
//! check a receipt offline, long after the call, without trusting the
//! channel it came over. This module only signs and checks bytes; what the
//! bytes say is the API's business (`api::receipts`).
//!
//! Ed25519 signatures are deterministic: the same content signed twice gives
//! the same signature, so a replayed request gets a receipt identical to the
//! first without storing the signature.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

/// Where the server publishes its public key, in its certificate folder:
/// not a secret, and clients already read that folder.
pub const PUBLIC_KEY_FILE: &str = "receipt-signing.pub";

/// Why a receipt, or a signed head of the audit log, does not verify. The
/// messages go to people checking one, so they say what to suspect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("it carries no signature")]
    Unsigned,
    #[error("it names signing key {found}, but the public key given is {expected}")]
    OtherKey { found: String, expected: String },
    #[error(
        "the signature does not match the signed content: it was changed, \
         or was not signed by this gateway"
    )]
    BadSignature,
    #[error("the signed content cannot be read: {0}")]
    Unreadable(String),
    #[error("{field} says {shown}, but the signed content says {signed}")]
    Mismatch {
        field: String,
        shown: String,
        signed: String,
    },
}

/// Signs receipts. Cheap to clone; the private half never leaves it.
#[derive(Clone)]
pub struct ReceiptSigner {
    pair: Arc<Ed25519KeyPair>,
    public: ReceiptPublicKey,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptSigner({})", self.public.key_id())
    }
}

/// A signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub bytes: Vec<u8>,
    pub key_id: String,
}

impl ReceiptSigner {
    /// The key pair of a 32-byte RFC 8032 seed. Every seed is a valid key,
    /// so this cannot fail.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .unwrap_or_else(|_| unreachable!("any 32 bytes are an Ed25519 seed"));
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Self {
            pair: Arc::new(pair),
            public: ReceiptPublicKey(public),
        }
    }

    pub fn public_key(&self) -> ReceiptPublicKey {
        self.public
    }

    pub fn sign(&self, content: &[u8]) -> Signature {
        Signature {
            bytes: self.pair.sign(content).as_ref().to_vec(),
            key_id: self.public.key_id(),
        }
    }
}

/// The public half: 32 bytes (RFC 8032), written as 64 hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReceiptPublicKey([u8; 32]);

impl std::fmt::Debug for ReceiptPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptPublicKey({self})")
    }
}

impl std::fmt::Display for ReceiptPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl ReceiptPublicKey {
    /// Reads a key as [`PUBLIC_KEY_FILE`] holds it: 64 hex characters,
    /// surrounding whitespace allowed.
    ///
    /// # Errors
    /// When the text is not 32 bytes of hex.
    pub fn parse(text: &str) -> Result<Self, String> {
        from_hex(text.trim())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Self)
            .ok_or_else(|| "a receipt public key is 64 hex characters".to_owned())
    }

    /// A short name for the key, carried in every receipt so a verifier
    /// holding several keys (after a key change) knows which one to use.
    pub fn key_id(&self) -> String {
        to_hex(&Sha256::digest(self.0)[..8])
    }

    /// Checks that `signature` over `content` was made with this key.
    ///
    /// # Errors
    /// [`ReceiptError::OtherKey`] when the receipt names another key, and
    /// [`ReceiptError::BadSignature`] when the bytes were changed.
    pub fn verify(
        &self,
        key_id: &str,
        content: &[u8],
        signature: &[u8],
    ) -> Result<(), ReceiptError> {
        if signature.is_empty() {
            return Err(ReceiptError::Unsigned);
        }
        let expected = self.key_id();
        if key_id != expected {
            return Err(ReceiptError::OtherKey {
                found: key_id.to_owned(),
                expected,
            });
        }
        UnparsedPublicKey::new(&ED25519, self.0)
            .verify(content, signature)
            .map_err(|_| ReceiptError::BadSignature)
    }

    /// Writes the key to `dir`/[`PUBLIC_KEY_FILE`], through a temporary file
    /// and a rename so a reader never sees half a key. A file that already
    /// holds this key is left alone.
    ///
    /// # Errors
    /// When the folder cannot be written.
    pub fn publish(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join(PUBLIC_KEY_FILE);
        let text = format!("{self}\n");
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(path);
        }
        let temporary = dir.join(format!("{PUBLIC_KEY_FILE}.tmp"));
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &path)?;
        Ok(path)
    }
}

/// Lower-case hex, as receipts print bytes in JSON.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex of any even length, either case; `None` for anything else.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would take a sign ("+f").
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> ReceiptSigner {
        ReceiptSigner::from_seed(&[byte; 32])
    }

    #[test]
    fn a_signature_verifies_with_the_public_key_and_is_the_same_each_time() {
        let signer = signer(7);
        let signature = signer.sign(b"receipt content");
        let key = signer.public_key();
        assert_eq!(
            key.verify(&signature.key_id, b"receipt content", &signature.bytes),
            Ok(())
        );
        assert_eq!(signer.sign(b"receipt content"), signature);
        assert_eq!(signature.bytes.len(), 64);
    }

    #[test]
    fn changing_any_one_byte_of_content_or_signature_fails() {
        let signer = signer(7);
        let content = b"receipt content".to_vec();
        let signature = signer.sign(&content);
        let key = signer.public_key();
        for i in 0..content.len() {
            let mut changed = content.clone();
            changed[i] ^= 0x01;
            assert_eq!(
                key.verify(&signature.key_id, &changed, &signature.bytes),
                Err(ReceiptError::BadSignature)
            );
        }
        for i in 0..signature.bytes.len() {
            let mut changed = signature.bytes.clone();
            changed[i] ^= 0x80;
            assert_eq!(
                key.verify(&signature.key_id, &content, &changed),
                Err(ReceiptError::BadSignature)
            );
        }
    }

    #[test]
    fn another_key_is_refused_by_id_and_by_signature() {
        let signature = signer(7).sign(b"content");
        let other = signer(8).public_key();
        assert!(matches!(
            other.verify(&signature.key_id, b"content", &signature.bytes),
            Err(ReceiptError::OtherKey { .. })
        ));
        // A receipt that lies about its key id still fails on the signature.
        assert_eq!(
            other.verify(&other.key_id(), b"content", &signature.bytes),
            Err(ReceiptError::BadSignature)
        );
        assert_eq!(
            other.verify(&other.key_id(), b"content", &[]),
            Err(ReceiptError::Unsigned)
        );
    }

    #[test]
    fn a_public_key_is_published_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = signer(7).public_key();
        let path = key.publish(dir.path()).unwrap();
        let read = ReceiptPublicKey::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(read, key);
        assert!(
            key.publish(dir.path()).is_ok(),
            "publishing again is harmless"
        );
        assert!(ReceiptPublicKey::parse("abcd").is_err());
        assert!(ReceiptPublicKey::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(from_hex("ABff"), Some(vec![0xab, 0xff]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é1"), None);
        assert_eq!(from_hex("+f"), None);
    }
}
