//! Personal data at rest: every stored body that can name a person (case
//! events, and inbox messages of versions that copied notices; newer
//! messages refer to the events, see [`super::messages`]) is sealed with
//! AES-256-GCM under a key derived from the master key, which lives
//! outside the database. A copy of the
//! database file alone tells nobody who is on file; lookups go through the
//! keyed hash of the identity number instead.
//!
//! `ring` (already in the tree for TLS) rather than another AEAD crate.
//! Nonces are random: 96 bits are safe for far more than the 2^32 sealings
//! a key may take, and a province writes some millions a year. The row's
//! address (table, key) is the associated data, so a sealed body moved to
//! another row does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::StorageError;
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, RecordedEvent};

/// The first byte of a sealed body, so that a later format can be told
/// apart.
const VERSION: u8 = 1;

/// Seals and opens stored bodies; cheap to share.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A stored body that does not open: wrong key, damaged, or moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored body does not open with this master key ({0})")]
pub struct SealError(&'static str);

impl Sealer {
    /// A sealer for the 32-byte data key.
    pub fn new(key: [u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .map(LessSafeKey::new)
            .unwrap_or_else(|_| unreachable!("AES-256-GCM takes any 32-byte key"));
        Self {
            key,
            random: SystemRandom::new(),
        }
    }

    /// `plaintext` sealed for the row at `address`.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn seal(&self, address: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError("no randomness"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(address.as_bytes()),
                &mut body,
            )
            .map_err(|_| SealError("sealing failed"))?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The plaintext of a body stored at `address`.
    ///
    /// # Errors
    /// [`SealError`] when the body is not sealed for this address under
    /// this key.
    pub fn open(&self, address: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        match stored.split_first() {
            Some((&VERSION, rest)) if rest.len() >= NONCE_LEN + 16 => {
                let (nonce, body) = rest.split_at(NONCE_LEN);
                let nonce =
                    Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError("bad nonce"))?;
                let mut body = body.to_vec();
                let plain = self
                    .key
                    .open_in_place(nonce, Aad::from(address.as_bytes()), &mut body)
                    .map_err(|_| SealError("authentication failed"))?;
                Ok(plain.to_vec())
            }
            _ => Err(SealError("unknown format")),
        }
    }
}

/// Where a case event is stored: the associated data of its seal. Every
/// backend uses the same addresses, so a sealed body means the same thing
/// in each and a copy between them needs no re-sealing.
pub(crate) fn event_address(case: &CaseId, sequence: i64) -> String {
    format!("case_events/{case}/{sequence}")
}

/// Where an inbox message is stored: the associated data of its seal.
pub(crate) fn message_address(agency: &AgencyId, position: i64) -> String {
    format!("inbox_messages/{agency}/{position}")
}

/// `body` as JSON, sealed for `address`.
pub(crate) fn seal_json(
    sealer: &Sealer,
    address: &str,
    body: &impl serde::Serialize,
) -> Result<Vec<u8>, StorageError> {
    let json = serde_json::to_vec(body).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    sealer
        .seal(address, &json)
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The JSON body sealed for `address`, decoded.
pub(crate) fn open_json<T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    address: &str,
    stored: &[u8],
) -> Result<T, StorageError> {
    let json = sealer
        .open(address, stored)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The case whose sealed events, `(sequence, body)` in sequence order,
/// are `events`; `None` when there are none.
pub(crate) fn open_case<'a>(
    sealer: &Sealer,
    id: &CaseId,
    events: impl IntoIterator<Item = (i64, &'a [u8])>,
) -> Result<Option<Case>, StorageError> {
    let history = open_history(sealer, id, events)?;
    if history.is_empty() {
        return Ok(None);
    }
    Case::from_history(id.clone(), history)
        .map(Some)
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Opens the sealed event `sequence` of case `id`.
pub(crate) fn open_event(
    sealer: &Sealer,
    id: &CaseId,
    sequence: i64,
    body: &[u8],
) -> Result<RecordedEvent, StorageError> {
    open_json(sealer, &event_address(id, sequence), body)
}

/// The sealed events `(sequence, body)` of case `id`, opened.
pub(crate) fn open_history<'a>(
    sealer: &Sealer,
    id: &CaseId,
    events: impl IntoIterator<Item = (i64, &'a [u8])>,
) -> Result<Vec<RecordedEvent>, StorageError> {
    events
        .into_iter()
        .map(|(sequence, body)| open_event(sealer, id, sequence, body))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = r#"{"id_number":"11010519491231002X","name":"张三"}"#.as_bytes();

    #[test]
    fn a_sealed_body_opens_at_its_address_and_hides_its_content() {
        let sealer = Sealer::new([7; 32]);
        let sealed = sealer.seal("case_events/c1/1", SECRET).unwrap();
        assert!(!sealed.windows(18).any(|w| w == b"11010519491231002X"));
        assert_eq!(sealer.open("case_events/c1/1", &sealed).unwrap(), SECRET);
        let again = sealer.seal("case_events/c1/1", SECRET).unwrap();
        assert_ne!(sealed, again, "a fresh nonce each time");
    }

    #[test]
    fn a_body_moved_damaged_or_read_with_another_key_does_not_open() {
        let sealer = Sealer::new([7; 32]);
        let sealed = sealer.seal("case_events/c1/1", SECRET).unwrap();
        assert!(sealer.open("case_events/c1/2", &sealed).is_err());
        assert!(
            Sealer::new([8; 32])
                .open("case_events/c1/1", &sealed)
                .is_err()
        );
        for i in 0..sealed.len() {
            let mut damaged = sealed.clone();
            damaged[i] ^= 1;
            assert!(
                sealer.open("case_events/c1/1", &damaged).is_err(),
                "byte {i}"
            );
        }
        assert!(sealer.open("x", b"").is_err());
        assert!(sealer.open("x", &[VERSION, 1, 2]).is_err());
    }

    #[test]
    fn a_plain_body_is_refused() {
        let sealer = Sealer::new([7; 32]);
        assert!(sealer.open("inbox/a/1", SECRET).is_err());
    }
}
