//! A fresh database per test on each backend, and builders for the domain
//! values the storage interface takes.
//!
//! PostgreSQL: each test creates `hg_test_<uuid>` through the server at
//! `HANDOVER_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and drops it afterwards, also when the test fails.

mod raw;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use handover_gateway::domain::agency::{Agency, AgencyId, AgencyRef};
use handover_gateway::domain::audit::{AuditCaller, AuditDetails, AuditRecord, SealedEntry};
use handover_gateway::domain::case::{Case, CaseEvent, CaseId, RecordedEvent};
use handover_gateway::domain::deadline::DeadlinePolicy;
use handover_gateway::domain::id_number::{IdNumber, with_check_character};
use handover_gateway::domain::intake::{DecisionNumber, TermMonths};
use handover_gateway::domain::notice::Notice;
use handover_gateway::domain::person::{Person, Sex};
use handover_gateway::domain::region::RegionCode;
use handover_gateway::domain::routing::RecipientRole;
use handover_gateway::domain::submission::{RequestKey, SubmissionOutcome};
use handover_gateway::storage::{self, Backend, CaseFilter, CaseWrite, Database, Sealer, Storage};
use sqlx::Connection;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

pub const KEY: [u8; 32] = [7; 32];
pub const RELEASED: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);
/// The name every built person has: it must never be found in a raw table.
pub const NAME: &str = "张三丰";

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One test's database.
pub struct Db {
    pub kind: Kind,
    /// The `database` setting that names it: a path or a URL.
    pub setting: PathBuf,
    _dir: Option<TempDir>,
}

pub fn admin_url() -> String {
    std::env::var("HANDOVER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` with its database name replaced by `name`.
pub fn url_of(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

async fn admin_query(sql: &str) {
    let mut connection = sqlx::PgConnection::connect(&admin_url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at HANDOVER_TEST_POSTGRES is unreachable: {e}"));
    sqlx::query(sql).execute(&mut connection).await.unwrap();
    let _ = connection.close().await;
}

/// A fresh PostgreSQL database; the caller drops it with [`drop_postgres`].
pub async fn create_postgres() -> (String, String) {
    let name = format!("hg_test_{}", uuid::Uuid::new_v4().simple());
    admin_query(&format!("CREATE DATABASE {name}")).await;
    let url = url_of(&admin_url(), &name);
    (name, url)
}

/// Best effort: a database left behind only costs disk.
pub async fn drop_postgres(name: &str) {
    if let Ok(mut connection) = sqlx::PgConnection::connect(&admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Runs `test` on a fresh database of `kind`, then drops it, also when the
/// test panics.
pub async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let setting = dir.path().join("data/gateway.db");
            test(Db {
                kind,
                setting,
                _dir: Some(dir),
            })
            .await;
        }
        Kind::Postgres => {
            let (name, url) = create_postgres().await;
            let db = Db {
                kind,
                setting: PathBuf::from(url),
                _dir: None,
            };
            let outcome = tokio::spawn(test(db)).await;
            drop_postgres(&name).await;
            if let Err(error) = outcome {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

impl Db {
    /// The same PostgreSQL database, reached with these URL parameters
    /// added (`sslmode=...`).
    pub fn with_parameters(&self, parameters: &str) -> Db {
        let url = self.setting.to_str().unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        Db {
            kind: self.kind,
            setting: format!("{url}{separator}{parameters}").into(),
            _dir: None,
        }
    }

    /// The same database, named by the host name its certificate carries.
    pub fn on_localhost(&self) -> Db {
        Db {
            kind: self.kind,
            setting: self
                .setting
                .to_str()
                .unwrap()
                .replace("127.0.0.1", "localhost")
                .into(),
            _dir: None,
        }
    }

    /// The same PostgreSQL database, reached over the server's Unix socket
    /// in `directory` (`host=` names a folder, not a host).
    pub fn over_socket(&self, directory: &str) -> Db {
        let url = self.setting.to_str().unwrap();
        let name = url
            .split('?')
            .next()
            .and_then(|base| base.rsplit('/').next())
            .unwrap();
        let user = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split_once('@'))
            .map_or("postgres", |(user, _)| user);
        Db {
            kind: self.kind,
            setting: format!("postgres://{user}@localhost/{name}?host={directory}").into(),
            _dir: None,
        }
    }

    pub fn database(&self) -> Database {
        Database::from_setting(&self.setting)
    }

    /// The storage as the gateway opens it, with the master key's data key.
    pub async fn open_with(&self, key: [u8; 32]) -> Arc<dyn Storage> {
        storage::open(&self.database(), Sealer::new(key))
            .await
            .unwrap()
    }

    pub async fn open(&self) -> Arc<dyn Storage> {
        self.open_with(KEY).await
    }

    /// The storage before the master key is loaded.
    pub async fn unsealed(&self) -> Backend {
        Backend::open(&self.database()).await.unwrap()
    }
}

pub fn id(text: &str) -> AgencyId {
    AgencyId::parse(text).unwrap()
}

/// A page of up to 100 cases in the jurisdiction of `code`, unfiltered.
pub fn filter(code: &str) -> CaseFilter {
    CaseFilter {
        jurisdiction: region(code),
        party: None,
        oversight: None,
        county: None,
        state: None,
        overdue: None,
        unroutable: false,
        open_elsewhere: false,
        closed_since: None,
        after: None,
        limit: 100,
    }
}

pub fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

pub fn agency(kind: &str, code: &str, name: &str) -> Agency {
    Agency {
        agency: AgencyRef::new(kind.parse().unwrap(), region(code), id(name)).unwrap(),
        name: format!("{name} office"),
        enabled: true,
    }
}

/// Person number `n`, registered in `household`.
pub fn person(n: u32, household: &str) -> Person {
    let number = with_check_character(&format!("14010619900307{n:03}")).unwrap();
    Person {
        id_number: IdNumber::parse(&number, time::macros::date!(2026 - 11 - 28)).unwrap(),
        name: NAME.into(),
        sex: Sex::Male,
        household_region: region(household),
        residence_region: None,
        residence_consent: false,
    }
}

/// A person's lookup key as the storage gets it (the real one is an HMAC;
/// storage only compares it).
pub fn person_key(n: u32) -> [u8; 32] {
    let mut key = [0; 32];
    key[..4].copy_from_slice(&n.to_be_bytes());
    key
}

/// A new case for `decision`, discharged by the detox center into
/// `executing` with `project` responsible (none: unroutable).
pub fn discharged(decision: &str, executing: &str, person: Person, project: Option<&str>) -> Case {
    let event = CaseEvent::Discharged {
        decision_number: DecisionNumber::parse(decision).unwrap(),
        executing_region: region(executing),
        person,
        released_at: RELEASED,
        term: TermMonths::new(36).unwrap(),
        project: project.map(id),
        oversight: project.is_none().then(|| id("shanxi-office")),
        late_notice: false,
        earlier_open_cases: Vec::new(),
    };
    let recorded = RecordedEvent {
        sequence: 1,
        at: RELEASED + time::Duration::hours(1),
        by: id("taiyuan-detox"),
        event,
    };
    Case::from_history(CaseId::new(uuid::Uuid::now_v7()), vec![recorded]).unwrap()
}

/// `case` with one more event by `by`.
pub fn next(case: &Case, by: &str, event: CaseEvent) -> Case {
    let mut next = case.clone();
    next.apply(RecordedEvent {
        sequence: case.version() + 1,
        at: RELEASED + time::Duration::hours(2),
        by: id(by),
        event,
    })
    .unwrap();
    next
}

/// The write that stores `case` (read at `expected_version`) for request
/// `request_id` of the detox center, with a notice of its newest event to
/// each of `recipients`.
pub fn write(
    case: &Case,
    expected_version: u32,
    request_id: &str,
    recipients: &[&str],
) -> CaseWrite {
    let event = case.history.last().unwrap().clone();
    let notices = recipients
        .iter()
        .map(|recipient| {
            let notice = Notice {
                role: RecipientRole::ResponsibleProject,
                event: event.clone(),
                case: case.summary(),
            };
            (id(recipient), notice)
        })
        .collect();
    let person = person_key(person_number(case));
    CaseWrite {
        request: RequestKey {
            agency: id("taiyuan-detox"),
            request_id: request_id.into(),
            digest: [request_id.len() as u8; 32],
        },
        case: case.clone(),
        expected_version,
        person_key: person,
        notices,
        deadlines: case.deadlines(&DeadlinePolicy::default()),
        outcome: SubmissionOutcome::accepted(case, RELEASED + time::Duration::hours(3)),
        audit: None,
    }
}

/// The `n` that [`person`] was built with.
fn person_number(case: &Case) -> u32 {
    case.person.id_number.expose()[14..17].parse().unwrap()
}

/// An audited status query's record, told apart from others by `n`, the
/// position it names.
pub fn audit_record(n: u64) -> AuditRecord {
    AuditRecord {
        at: RELEASED,
        caller: AuditCaller::Agency {
            id: "yingze-police".into(),
        },
        call: "handover.v1.CaseService/GetCase".into(),
        outcome: "OK".into(),
        reason: None,
        details: AuditDetails {
            position: Some(n),
            ..AuditDetails::default()
        },
    }
}

/// The position each entry's record names, in the log's order.
pub fn audit_positions(entries: &[SealedEntry]) -> Vec<Option<u64>> {
    entries
        .iter()
        .map(|entry| entry.parse().unwrap().record.details.position)
        .collect()
}

/// How many of the gateway's backends on `observer`'s database wait for
/// a lock.
pub async fn waiting_for_locks(observer: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND application_name = 'handover-gateway' AND wait_event_type = 'Lock'",
    )
    .fetch_one(observer)
    .await
    .unwrap()
}

/// The messages of an inbox page read from storage, every one of which
/// must open.
pub trait Opened {
    fn opened(self) -> Vec<handover_gateway::domain::notice::InboxMessage>;
}

impl Opened for Vec<handover_gateway::domain::notice::InboxEntry> {
    fn opened(self) -> Vec<handover_gateway::domain::notice::InboxMessage> {
        self.into_iter()
            .map(|entry| match entry.message() {
                Some(message) => message.clone(),
                None => panic!("a stored message does not open: {entry:?}"),
            })
            .collect()
    }
}
