//! The durable store behind one interface.
//!
//! Storage speaks domain types and translates its own errors; nothing of
//! the database leaks upward. SQLite is the embedded default; PostgreSQL
//! is for production scale. [`open`] picks one by the `database` setting.

mod backend;
mod filter;
mod messages;
mod postgres;
mod seal;
mod sqlite;
#[cfg(test)]
mod stored_history_tests;

use async_trait::async_trait;

use crate::domain::agency::{Agency, AgencyId};
use crate::domain::audit::{AuditRecord, Chain, SealedEntry};
use time::OffsetDateTime;

use crate::domain::case::{Case, CaseId, EarlierCase};
use crate::domain::deadline::{Deadline, DeadlineKind};
use crate::domain::intake::DecisionNumber;
use crate::domain::notice::{InboxEntry, Notice};
use crate::domain::region::RegionCode;
use crate::domain::submission::{RequestKey, SubmissionOutcome};

pub use backend::{Backend, Database, open};
pub use filter::{CaseFilter, Party};
pub(crate) use filter::{open_caseload_exists, push_open_elsewhere, push_scope};
pub(crate) use messages::{as_stored, millis};
pub use postgres::PostgresStorage;
pub use seal::{SealError, Sealer};
pub use sqlite::SqliteStorage;

/// A keyed hash of a person's identity number, so lookups need no index on
/// the number itself. (The events still hold the number; encrypting them
/// at rest is planned.)
pub type PersonKey = [u8; 32];

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("conflict: {0}")]
    Conflict(Conflict),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

/// A case of [`CaseKey::Decision`]'s other open cases, from its columns:
/// `id`, `executing_region`, `responsible`, and `oversight` while unroutable.
fn earlier_case(
    id: &str,
    executing_region: &str,
    project: Option<&str>,
    oversight: Option<&str>,
) -> Result<EarlierCase> {
    let corrupt = |e: &dyn std::fmt::Display| StorageError::Corrupt(format!("case {id}: {e}"));
    let agency = |text: Option<&str>| {
        text.map(AgencyId::parse)
            .transpose()
            .map_err(|e| corrupt(&e))
    };
    Ok(EarlierCase {
        case_id: CaseId::parse(id).map_err(|e| corrupt(&e))?,
        executing_region: RegionCode::parse(executing_region).map_err(|e| corrupt(&e))?,
        project: agency(project)?,
        oversight: agency(oversight)?,
    })
}

/// What another writer got to first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The agency already used this request id.
    RequestId,
    /// A case for this decision document already exists.
    DecisionNumber,
    /// The case changed since it was read.
    Version,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conflict::RequestId => "request id already used",
            Conflict::DecisionNumber => "decision number already has a case",
            Conflict::Version => "case changed concurrently",
        })
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// One submission's effect, written in one transaction or not at all.
#[derive(Debug, Clone)]
pub struct CaseWrite {
    pub request: RequestKey,
    /// The case after the new events.
    pub case: Case,
    /// How many events the case had when it was read; 0 opens it.
    pub expected_version: u32,
    pub person_key: PersonKey,
    /// One notice per recipient and event.
    pub notices: Vec<(AgencyId, Notice)>,
    /// The deadlines pending after the write; they replace the case's
    /// earlier ones.
    pub deadlines: Vec<Deadline>,
    /// The answer; storage fills in the inbox positions.
    pub outcome: SubmissionOutcome,
    /// The entry recording the call that made this write, appended to the
    /// audit log in the write's own transaction: the write and its record
    /// commit together or not at all, and the answer waits for one commit.
    pub audit: Option<AuditRecord>,
}

/// An earlier answer to a request id.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub digest: [u8; 32],
    pub outcome: SubmissionOutcome,
}

/// How a write finds the case it changes.
#[derive(Debug, Clone)]
pub enum CaseKey {
    Id(CaseId),
    /// An announcement's or a discharge's: the case of its decision, and
    /// the person's other cases that are discharged and not closed, in
    /// the same read.
    Decision(DecisionNumber, PersonKey),
}

/// What a submission reads before it plans.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Its request id was answered before.
    Answered(StoredAnswer),
    /// It was not: the case as it stands, if there is one, and for a
    /// [`CaseKey::Decision`] the person's other open cases, oldest first
    /// (read from the cases' columns, without opening their events).
    Unanswered(Option<Box<Case>>, Vec<EarlierCase>),
}

/// What a read found, and the registry's version as of the same read
/// (see [`Storage::registry_version`]), with which a submission, a status
/// query or a list confirms its caller. (A PostgreSQL list reads it with
/// the page's ids, and the cases' events in a second statement.)
#[derive(Debug, Clone)]
pub struct Seen<T> {
    pub found: T,
    pub registry_version: i64,
}

/// A submission's [`Lookup`], seen with the registry's version.
pub type Looked = Seen<Lookup>;

/// How far an inbox has been written and acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxState {
    pub head: u64,
    pub acknowledged: u64,
}

/// For each deadline kind, the latest start that makes it due now.
pub type Cutoffs = Vec<(DeadlineKind, OffsetDateTime)>;

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Adds an agency to the registry or updates its kind, region and name.
    async fn register_agency(&self, agency: &Agency) -> Result<()>;
    async fn agency(&self, id: &AgencyId) -> Result<Option<Agency>>;
    /// Every registered agency, enabled or not.
    async fn agencies(&self) -> Result<Vec<Agency>>;
    /// A number that changes whenever the registry does, by any writer:
    /// while it stands still, a registry read earlier is current.
    async fn registry_version(&self) -> Result<i64>;

    async fn answer(&self, agency: &AgencyId, request_id: &str) -> Result<Option<StoredAnswer>>;
    /// The stored answer to `request_id`, or else the case `key` finds,
    /// and the registry's version: a submission's reads before it plans,
    /// made together (one round trip on PostgreSQL, one reader hop on
    /// SQLite). The version confirms the registry its caller was checked
    /// against without a read of its own.
    async fn answer_or_case(
        &self,
        agency: &AgencyId,
        request_id: &str,
        key: &CaseKey,
    ) -> Result<Looked>;
    /// Writes the case, its new events, its notices and the answer at once.
    ///
    /// # Errors
    /// [`StorageError::Conflict`] when the request id, the decision number or
    /// the case version was taken by another writer.
    async fn write_case(&self, write: CaseWrite) -> Result<SubmissionOutcome>;
    /// Writes each of `writes` as [`Storage::write_case`] would, in order,
    /// sharing commits where the backend can; one answer per write. Later
    /// writes see earlier ones: two writes of one request id, decision
    /// number or case version are the first's, and the second's conflict.
    async fn write_cases(&self, writes: Vec<CaseWrite>) -> Vec<Result<SubmissionOutcome>>;

    async fn case(&self, id: &CaseId) -> Result<Option<Case>> {
        Ok(self.case_seen(id).await?.found)
    }
    /// [`Storage::case`], with the registry's version as of the same read.
    async fn case_seen(&self, id: &CaseId) -> Result<Seen<Option<Case>>>;
    /// Whether any case is stored (a new master key would orphan them).
    async fn holds_cases(&self) -> Result<bool>;
    /// Up to `limit` cases after `after` (in id order) whose deadline
    /// rows a version before the `discharge` deadline left unwritten
    /// (announced when it upgraded).
    async fn deadline_backfill(&self, after: Option<&CaseId>, limit: u32) -> Result<Vec<CaseId>>;
    /// Takes `id` off [`Storage::deadline_backfill`]'s list.
    async fn deadline_backfilled(&self, id: &CaseId) -> Result<()>;
    /// Whether `project` is responsible for a case not yet closed in
    /// `county`, its own: it keeps its county while it is, since its
    /// caseload is read there ([`Party::Responsible`]).
    async fn responsible_for_open_cases(
        &self,
        project: &AgencyId,
        county: RegionCode,
    ) -> Result<bool>;
    /// The person's cases, newest first, with the registry's version as of
    /// the same read.
    async fn cases_of_person(&self, key: &PersonKey) -> Result<Seen<Vec<Case>>>;
    /// Up to `limit` cases with a deadline due by `cutoffs` and not yet
    /// escalated, by id, after `after`: the scan pages past a case it
    /// could not escalate instead of reading it again.
    async fn due_cases(
        &self,
        cutoffs: &Cutoffs,
        after: Option<&CaseId>,
        limit: u32,
    ) -> Result<Vec<CaseId>>;
    /// How many cases have a deadline due by `cutoffs`, escalated or not.
    async fn count_overdue(&self, cutoffs: &Cutoffs) -> Result<u64>;
    /// How many cases wait for an oversight office to assign them to a
    /// project.
    async fn count_unroutable(&self) -> Result<u64>;
    /// A page of cases, in id order, and the registry's version as of the
    /// read of the page.
    async fn list_cases(&self, filter: &CaseFilter) -> Result<Seen<Vec<Case>>>;

    /// Up to `limit` messages after `after`, in order.
    async fn inbox_after(
        &self,
        agency: &AgencyId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InboxEntry>>;
    async fn inbox_state(&self, agency: &AgencyId) -> Result<InboxState>;
    /// Moves the acknowledged position forward (never back) to `position`;
    /// `None` when `position` is past the head.
    async fn acknowledge(&self, agency: &AgencyId, position: u64) -> Result<Option<InboxState>>;

    /// Seals `records` onto the end of the audit log, in order, in one
    /// transaction that reads the last hash, so the chain stays linear
    /// however many callers append at once. Returns the new end.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Chain>;
    /// Up to `limit` audit rows after sequence `after`, in sequence order,
    /// exactly as stored (for [`crate::domain::audit::verify`]).
    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<SealedEntry>>;

    /// The master key check the database holds, if any: a fixed text
    /// sealed with the key the database was first opened with
    /// ([`Backend::sealed`]).
    async fn key_check(&self) -> Result<Option<Vec<u8>>>;
    /// Stores `sealed` as the master key check unless one is stored, and
    /// returns the one stored: replicas started together on an empty
    /// database store one between them.
    async fn store_key_check(&self, sealed: &[u8]) -> Result<Vec<u8>>;
    /// A sealed case event body, with its case id and sequence, if any is
    /// stored: an upgraded database's data tells which key sealed it.
    async fn a_sealed_event(&self) -> Result<Option<(String, i64, Vec<u8>)>>;

    /// Whether the database answers now: health checks and operators ask.
    async fn ping(&self) -> Result<()>;

    /// Counts one case query by police `agency` on `day` (China time)
    /// against `quota`, where every process sharing the database counts:
    /// `Some(false)`, and nothing counted, when the day's quota is used up.
    /// `None` when the database is one process's own (SQLite), whose
    /// gateway counts in memory.
    async fn count_police_query(
        &self,
        _agency: &AgencyId,
        _day: time::Date,
        _quota: u32,
    ) -> Result<Option<bool>> {
        Ok(None)
    }

    /// Records that `list`, a revocation list of the CA `issuer` (its
    /// fingerprint), is in force, and returns the floor recorded for that
    /// CA by any process sharing the database: the highest number, and
    /// every serial a list recorded revoked (a revocation is never taken
    /// back). A list numbered lower, or lacking one of those serials,
    /// would let back in certificates revoked since. Any list adds the
    /// serials it revokes, whatever its number (two lists of one number,
    /// or a list behind that a replica took before it learned the floor,
    /// lose no revocation); the number only rises.
    async fn raise_crl_floor(&self, issuer: &str, list: &CrlFloor) -> Result<CrlFloor>;

    /// The floor recorded for the CA `issuer`, number 0 before any: a
    /// raise by no list, which writes nothing.
    async fn crl_floor(&self, issuer: &str) -> Result<CrlFloor> {
        self.raise_crl_floor(issuer, &CrlFloor::default()).await
    }

    /// Reports inbox heads that any process sharing this database moves,
    /// until `changes` closes. Hints only: a reader must still read storage,
    /// and [`InboxChange::Unknown`] says some were missed. Returns at once
    /// when the backend has no such feed (SQLite: one process per file).
    async fn follow_inboxes(&self, changes: tokio::sync::mpsc::Sender<InboxChange>);

    /// Closes the connections once the calls in flight are done.
    async fn close(&self);
}

/// A revocation list as the floor records it: its number and the serials
/// it revokes, in hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlFloor {
    pub number: u64,
    pub revoked: Vec<String>,
}

impl CrlFloor {
    /// `revoked` as stored: space-separated.
    pub(crate) fn revoked_text(&self) -> String {
        self.revoked.join(" ")
    }

    /// Whether `list` changes nothing of this floor: it is numbered no
    /// higher and revokes nothing more.
    pub(crate) fn holds(&self, list: &CrlFloor) -> bool {
        // Asked every reload period by every replica, with every serial
        // ever revoked: a set, not a scan per serial.
        let recorded: std::collections::HashSet<&String> = self.revoked.iter().collect();
        self.number >= list.number && list.revoked.iter().all(|serial| recorded.contains(serial))
    }

    /// `self` raised by `list`: the higher number, and the serials of
    /// both (a list in force revokes only what was revoked, whatever its
    /// number).
    pub(crate) fn raised_by(&self, list: &CrlFloor) -> CrlFloor {
        let mut revoked: Vec<String> = self.revoked.iter().chain(&list.revoked).cloned().collect();
        revoked.sort_unstable();
        revoked.dedup();
        CrlFloor {
            number: self.number.max(list.number),
            revoked,
        }
    }

    pub(crate) fn from_stored(number: i64, revoked: &str) -> Result<Self> {
        Ok(Self {
            number: u64::try_from(number)
                .map_err(|e| StorageError::Corrupt(format!("a CRL number: {e}")))?,
            revoked: revoked.split_whitespace().map(str::to_owned).collect(),
        })
    }
}

/// A hint that an inbox grew, from whichever process wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxChange {
    /// `agency`'s inbox head reached `head`.
    Moved(AgencyId, u64),
    /// Hints may have been lost (the feed reconnected): every reader
    /// should look again.
    Unknown,
}
