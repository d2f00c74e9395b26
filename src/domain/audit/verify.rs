//! Walking the chain: the first row that does not continue it, and why.
//!
//! A row continues the chain when its entry is intact (its hash is
//! `SHA-256(prev || entry)` for the `prev` the entry names), names the hash
//! the chain has reached, and carries the next sequence both in its bytes
//! and in its column. When a row does not, the row after it tells the
//! cases apart:
//!
//! - the next row is the genuine entry for this place: this row was
//!   **inserted** before it;
//! - this row is intact but belongs further on, and the next row follows
//!   it: the entries up to it were **removed**;
//! - this row is intact but belongs further back, and the next row follows
//!   it: forged entries that chain well were **inserted** from its place;
//! - this row is intact and in place but names another previous hash: the
//!   entry before it was **changed** and its hash recomputed to hide it;
//! - otherwise this row was **changed**.
//!
//! For a single change, removal or insertion the entry named is the one
//! tampered with (a property test checks it); beyond that these are best
//! guesses, never past the first row that breaks the chain. What the check
//! cannot see is the tail: entries removed from the end, or appended with
//! a correctly computed hash, or a whole log rewritten from some entry on.
//! A [`Head`] recorded earlier and kept elsewhere shows those: given one
//! ([`Verifier::keeping`]), the check also requires the log to reach it
//! with the same hash.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::{GENESIS, Hash, SealedEntry, hex, link, parse_hash};

/// The verified end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub entries: u64,
    pub hash: Hash,
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries, head {}", self.entries, hex(&self.hash))
    }
}

impl Head {
    /// The head as `audit verify --expect-head` takes it: `ENTRIES:HASH`.
    pub fn token(&self) -> String {
        format!("{}:{}", self.entries, hex(&self.hash))
    }
}

impl FromStr for Head {
    type Err = String;

    /// `ENTRIES:HASH`, as [`Head::token`] writes it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wrong = || format!("{text:?} is not a head: expected ENTRIES:HASH (64 hex digits)");
        let (entries, hash) = text.split_once(':').ok_or_else(wrong)?;
        let head = Head {
            entries: entries.parse().map_err(|_| wrong())?,
            hash: parse_hash(hash).ok_or_else(wrong)?,
        };
        if head.entries == 0 && head.hash != GENESIS {
            return Err(format!(
                "{text:?} names no entries, so its hash must be 64 zeros"
            ));
        }
        Ok(head)
    }
}

/// The first place where the log was tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("entry {sequence} was {kind}: {why}")]
pub struct Break {
    pub sequence: u64,
    pub kind: BreakKind,
    pub why: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    Changed,
    Removed,
    Inserted,
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakKind::Changed => "changed",
            BreakKind::Removed => "removed",
            BreakKind::Inserted => "inserted",
        })
    }
}

/// Checks rows fed in sequence order, holding one back to look ahead; so
/// a log can be read a page at a time.
#[derive(Debug, Clone)]
pub struct Verifier {
    head: Head,
    pending: Option<SealedEntry>,
    kept: Option<Head>,
    /// A head checked before, whose own entry must be the first row.
    resumed: Option<Head>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self {
            head: Head {
                entries: 0,
                hash: GENESIS,
            },
            pending: None,
            kept: None,
            resumed: None,
        }
    }

    /// A verifier that checks only the log from `checked` on, a head that
    /// was verified before: the first row must be the entry at `checked`,
    /// intact and with that hash, and the rows after it must continue the
    /// chain. Rows before it are not read again, so a change there that
    /// leaves its hashes alone is left to a whole check; a rewrite that
    /// recomputed them reaches `checked` with another hash and is found.
    pub fn resuming(checked: Head) -> Self {
        if checked.entries == 0 {
            return Self::keeping(checked);
        }
        Self {
            head: checked,
            resumed: Some(checked),
            ..Self::new()
        }
    }

    /// A verifier that also requires the log to reach `kept`, a head
    /// recorded earlier, with the same hash.
    pub fn keeping(kept: Head) -> Self {
        Self {
            kept: Some(kept),
            ..Self::new()
        }
    }

    /// Takes the next row.
    ///
    /// # Errors
    /// The first break, found once the row after it is known.
    pub fn push(&mut self, row: SealedEntry) -> Result<(), Break> {
        if let Some(checked) = self.resumed.take() {
            return Self::check_resumed(checked, &row);
        }
        if let Some(pending) = self.pending.take() {
            self.check(&pending, Some(&row))?;
        }
        self.pending = Some(row);
        Ok(())
    }

    /// The head of an intact log.
    ///
    /// # Errors
    /// The first break.
    pub fn finish(mut self) -> Result<Head, Break> {
        if let Some(checked) = self.resumed {
            return Err(cut(checked.entries));
        }
        if let Some(pending) = self.pending.take() {
            self.check(&pending, None)?;
        }
        match self.kept {
            Some(kept) if self.head.entries < kept.entries => Err(cut(self.head.entries + 1)),
            // No entry reaches the place of an empty head: its hash can
            // only be the chain's start.
            Some(kept) if kept.entries == 0 && kept.hash != GENESIS => Err(changed(
                0,
                "the head kept earlier names no entries but a hash other than the chain's start",
            )),
            _ => Ok(self.head),
        }
    }

    /// The first row after [`Verifier::resuming`]: the entry of the head
    /// checked before, unchanged.
    fn check_resumed(checked: Head, row: &SealedEntry) -> Result<(), Break> {
        let seen = Seen::of(row);
        if row.sequence > checked.entries {
            return Err(Break {
                sequence: checked.entries,
                kind: BreakKind::Removed,
                why: "the entry of the head kept earlier is gone from the log",
            });
        }
        if !seen.intact {
            return Err(changed(
                checked.entries,
                "its hash does not match its content",
            ));
        }
        if row.sequence != checked.entries || seen.sequence != Some(checked.entries) {
            return Err(changed(checked.entries, "its sequence was altered"));
        }
        if row.hash != checked.hash {
            return Err(changed(
                checked.entries,
                "its hash is not the head kept earlier: the log was rewritten at or before it",
            ));
        }
        Ok(())
    }

    fn check(&mut self, row: &SealedEntry, next: Option<&SealedEntry>) -> Result<(), Break> {
        let place = self.head.entries + 1;
        let seen = Seen::of(row);
        if seen.intact && seen.prev == Some(self.head.hash) && seen.sequence == Some(place) {
            if row.sequence == place {
                if let Some(kept) = self.kept
                    && kept.entries == place
                    && kept.hash != row.hash
                {
                    return Err(changed(
                        place,
                        "its hash is not the head kept earlier: the log was rewritten at or before it",
                    ));
                }
                self.head = Head {
                    entries: place,
                    hash: row.hash,
                };
                return Ok(());
            }
            return Err(changed(place, "its sequence column was altered"));
        }
        let next = next.map(|next| (next, Seen::of(next)));
        if let Some((_, after)) = &next
            && after.intact
            && after.sequence == Some(place)
            && after.prev == Some(self.head.hash)
        {
            return Err(Break {
                sequence: place,
                kind: BreakKind::Inserted,
                why: "the genuine entry for this place comes after it",
            });
        }
        let followed = next
            .as_ref()
            .is_none_or(|(_, after)| after.prev == Some(row.hash));
        match (seen.intact, seen.sequence) {
            (true, Some(sequence)) if sequence > place && followed => Err(Break {
                sequence: place,
                kind: BreakKind::Removed,
                why: "the entry in its place belongs further on",
            }),
            (true, Some(sequence)) if sequence < place && followed => Err(Break {
                sequence,
                kind: BreakKind::Inserted,
                why: "forged entries push the genuine one back",
            }),
            (true, Some(sequence)) if sequence == place && place > 1 => Err(changed(
                place - 1,
                "the next entry names another hash for it (its hash was recomputed)",
            )),
            (true, _) => Err(changed(place, "it does not continue the chain")),
            (false, _) => Err(changed(place, "its hash does not match its content")),
        }
    }
}

fn cut(sequence: u64) -> Break {
    Break {
        sequence,
        kind: BreakKind::Removed,
        why: "the head kept earlier names more entries: the log's tail was cut",
    }
}

fn changed(sequence: u64, why: &'static str) -> Break {
    Break {
        sequence,
        kind: BreakKind::Changed,
        why,
    }
}

/// Checks a whole log, rows in sequence order.
///
/// # Errors
/// The first break.
pub fn verify(rows: impl IntoIterator<Item = SealedEntry>) -> Result<Head, Break> {
    verify_keeping(rows, None)
}

/// [`verify`], requiring also that the log reach `kept`, a head recorded
/// earlier, when one is given.
///
/// # Errors
/// The first break, or the place where the log parts from `kept`.
pub fn verify_keeping(
    rows: impl IntoIterator<Item = SealedEntry>,
    kept: Option<Head>,
) -> Result<Head, Break> {
    let mut verifier = kept.map_or_else(Verifier::new, Verifier::keeping);
    for row in rows {
        verifier.push(row)?;
    }
    verifier.finish()
}

/// What a row says about itself.
struct Seen {
    /// Its hash is `SHA-256(prev || entry)` for the `prev` it names.
    intact: bool,
    sequence: Option<u64>,
    prev: Option<Hash>,
}

impl Seen {
    fn of(row: &SealedEntry) -> Self {
        #[derive(Deserialize)]
        struct Place {
            sequence: u64,
            prev: String,
        }
        match serde_json::from_str::<Place>(&row.entry) {
            Ok(place) => {
                let prev = parse_hash(&place.prev);
                Self {
                    intact: prev.is_some_and(|prev| link(&prev, &row.entry) == row.hash),
                    sequence: Some(place.sequence),
                    prev,
                }
            }
            Err(_) => Self {
                intact: false,
                sequence: None,
                prev: None,
            },
        }
    }
}
