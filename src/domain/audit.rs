//! The audit log's pure part: what an entry says, its bytes, the hash
//! chain, and the check that names the first entry changed, removed or
//! inserted ([`verify`]).
//!
//! Each entry is sealed as `hash_n = SHA-256(hash_{n-1} || bytes_n)` with
//! `hash_0` = 32 zero bytes. The bytes are JSON written once, when the entry
//! is sealed, and hashed exactly as stored: verifying never re-encodes, so
//! "canonical" only has to mean "what was written". The bytes also carry
//! their own sequence and the previous hash; that lets the check tell a
//! genuine entry in the wrong place (something before it was removed or
//! inserted) from an entry whose content changed.
//!
//! The chain has no key: someone who can write the database can rewrite
//! the whole tail consistently, or drop the last entries. Comparing the
//! head (`entries`, `hash`) with one recorded earlier catches that, and a
//! head the gateway signed (`api::audit_head`) proves who vouched for it.

mod verify;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use verify::{Break, BreakKind, Head, Verifier, verify, verify_keeping};

/// A SHA-256 digest: an entry's place in the chain.
pub type Hash = [u8; 32];

/// The hash before the first entry.
pub const GENESIS: Hash = [0; 32];

/// Free text in an entry is cut to this many characters.
pub const TEXT_MAX_CHARS: usize = 256;

/// What replaces anything that looks like an identity number.
pub const MASK: &str = "[id number]";

/// Free text as the audit log keeps it: runs that look like an identity
/// number masked (police may type one into a purpose), and cut short so a
/// caller cannot bloat the log.
///
/// Reading an entry back trusts the stored text as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditText(String);

impl AuditText {
    pub fn new(text: &str) -> Self {
        let masked = mask_identity_numbers(text);
        match masked.char_indices().nth(TEXT_MAX_CHARS) {
            Some((cut, _)) => Self(format!("{}…", &masked[..cut])),
            None => Self(masked),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Replaces every run of 15 or more digits (ASCII or full-width, as a
/// Chinese input method types them), and an `X` right after it, with
/// [`MASK`]. That covers 18-character numbers (17 digits and a digit or X)
/// and the old 15-digit ones; longer runs are masked too, as they may be a
/// number with a typo.
pub fn mask_identity_numbers(text: &str) -> String {
    const MIN_RUN: usize = 15;
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| is_digit(**c)).count();
        if run == 0 {
            out.push(chars[i]);
            i += 1;
        } else if run < MIN_RUN {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push_str(MASK);
            i += run;
            if chars
                .get(i)
                .is_some_and(|c| matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ'))
            {
                i += 1;
            }
        }
    }
    out
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

/// Who made a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AuditCaller {
    /// A registered, enabled agency.
    Agency { id: String },
    /// Refused before any handler ran: the agency the certificate claims,
    /// when it names one. The entry's `reason` says why.
    Unauthenticated { claimed: Option<String> },
}

/// How a case lookup named the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Lookup {
    CaseId,
    /// By identity number: never the number, only the keyed person hash
    /// (hex) that `cases.person_key` holds, so that whoever holds the
    /// master key can answer "who looked this person up"; without the key
    /// the hash cannot be tried against the small space of numbers. `None`
    /// when the text was not a valid number.
    IdNumber {
        person: Option<String>,
    },
}

/// One call, as the gateway records it before answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub caller: AuditCaller,
    /// The gRPC method, e.g. `handover.v1.CaseService/GetCase`.
    pub call: String,
    /// The gRPC code name of the answer, e.g. `OK`, `PERMISSION_DENIED`.
    pub outcome: String,
    /// Why the call was refused; `None` when it was answered.
    pub reason: Option<AuditText>,
    #[serde(flatten)]
    pub details: AuditDetails,
}

/// What the request itself says, where the call has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDetails {
    pub request_id: Option<AuditText>,
    pub case_id: Option<AuditText>,
    pub lookup: Option<Lookup>,
    /// The stated purpose of a case query.
    pub purpose: Option<AuditText>,
    /// The inbox position acknowledged, or the one a subscription resumes
    /// after.
    pub position: Option<u64>,
}

/// An entry as written: its place, the hash before it, and the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub sequence: u64,
    /// The previous entry's hash, hex.
    pub prev: String,
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// A row of the log: the sequence it is stored under, the entry bytes and
/// the chain hash after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    pub sequence: u64,
    pub entry: String,
    pub hash: Hash,
}

impl SealedEntry {
    /// The entry, parsed.
    ///
    /// # Errors
    /// When the stored bytes are not an entry.
    pub fn parse(&self) -> Result<AuditEntry, serde_json::Error> {
        serde_json::from_str(&self.entry)
    }
}

/// The end of the chain new entries are sealed onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    last: u64,
    hash: Hash,
}

impl Chain {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            last: 0,
            hash: GENESIS,
        }
    }

    /// The log whose last entry is `last` with chain hash `hash`.
    pub fn resume(last: u64, hash: Hash) -> Self {
        Self { last, hash }
    }

    /// Seals `record` as the next entry and moves the end onto it.
    ///
    /// # Errors
    /// Only if the record cannot be written as JSON, which its types rule
    /// out.
    pub fn seal(&mut self, record: &AuditRecord) -> Result<SealedEntry, serde_json::Error> {
        let sequence = self.last + 1;
        let entry = entry_text(sequence, &self.hash, &record_fields(record)?);
        let hash = link(&self.hash, &entry);
        self.last = sequence;
        self.hash = hash;
        Ok(SealedEntry {
            sequence,
            entry,
            hash,
        })
    }
}

/// The record's JSON without its opening brace: what an entry carries
/// after its place. PostgreSQL seals entries from this text itself
/// (`audit_append()` in `migrations/postgres/0008`), so that an append
/// needs no round trip to learn the tail first.
///
/// # Errors
/// Only if the record cannot be written as JSON, which its types rule
/// out.
pub fn record_fields(record: &AuditRecord) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(record)?;
    json.strip_prefix('{')
        .map(str::to_owned)
        .ok_or_else(|| serde::ser::Error::custom("an audit record is not a JSON object"))
}

/// The text of the entry at `sequence` after the entry hashed `prev`: the
/// JSON of [`AuditEntry`], spelled out so that `audit_append()` in
/// `migrations/postgres/0008` can build the same bytes by concatenation.
pub fn entry_text(sequence: u64, prev: &Hash, fields: &str) -> String {
    format!(
        "{{\"sequence\":{sequence},\"prev\":\"{}\",{fields}",
        hex(prev)
    )
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// `SHA-256(prev || entry)`.
pub fn link(prev: &Hash, entry: &str) -> Hash {
    let mut digest = Sha256::new();
    digest.update(prev);
    digest.update(entry.as_bytes());
    digest.finalize().into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex characters back to a hash.
pub fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
