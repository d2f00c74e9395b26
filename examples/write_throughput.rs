//! Durable writes per second through the storage interface, the way the
//! gateway's submissions reach it: `concurrency` tasks each writing new
//! discharged cases (two notices each) and, with `--audit`, recording the
//! call in the audit log as the gateway does before it answers: in the
//! write itself.
//!
//! ```text
//! cargo run --release --example write_throughput -- [DATABASE] [CONCURRENCY] [WRITES] [--audit]
//! ```
//!
//! `DATABASE` is the `database` setting: a file path (`-` for one in a
//! fresh temporary directory) or a `postgres://` URL of an empty database.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use handover_gateway::domain::agency::AgencyId;
use handover_gateway::domain::audit::{AuditCaller, AuditDetails, AuditRecord};
use handover_gateway::domain::case::{Case, CaseEvent, CaseId, RecordedEvent};
use handover_gateway::domain::deadline::DeadlinePolicy;
use handover_gateway::domain::id_number::{IdNumber, with_check_character};
use handover_gateway::domain::intake::{DecisionNumber, TermMonths};
use handover_gateway::domain::notice::Notice;
use handover_gateway::domain::person::{Person, Sex};
use handover_gateway::domain::region::RegionCode;
use handover_gateway::domain::routing::RecipientRole;
use handover_gateway::domain::submission::{RequestKey, SubmissionOutcome};
use handover_gateway::storage::{self, CaseWrite, Database, Sealer, Storage};
use time::OffsetDateTime;

/// Recipients' inboxes the writes spread over, so that writes share some.
const PROJECTS: u32 = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let audit = args.iter().any(|a| a == "--audit");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let dir = tempfile::tempdir()?;
    let setting = positional
        .next()
        .filter(|setting| *setting != "-")
        .map_or_else(|| dir.path().join("bench.db"), PathBuf::from);
    let concurrency: u32 = positional.next().map_or(Ok(64), |n| n.parse())?;
    let writes: u32 = positional.next().map_or(Ok(20_000), |n| n.parse())?;

    let storage = storage::open(&Database::from_setting(&setting), Sealer::new([7; 32])).await?;
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (storage, next) = (Arc::clone(&storage), Arc::clone(&next));
            tokio::spawn(async move { work(&*storage, &next, writes, audit).await })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    println!(
        "{writes} writes{} at concurrency {concurrency}: {:.2} s, {:.0} writes/s",
        if audit { " (+ audit)" } else { "" },
        elapsed.as_secs_f64(),
        f64::from(writes) / elapsed.as_secs_f64()
    );
    storage.close().await;
    Ok(())
}

async fn work(
    storage: &dyn Storage,
    next: &AtomicU32,
    writes: u32,
    audit: bool,
) -> anyhow::Result<()> {
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= writes {
            return Ok(());
        }
        let mut write = discharge(n);
        if audit {
            write.audit = Some(record(n));
        }
        storage.write_case(write).await?;
    }
}

fn id(text: &str) -> AgencyId {
    AgencyId::parse(text).expect("a valid agency id")
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).expect("a valid region")
}

fn released() -> OffsetDateTime {
    time::macros::datetime!(2026-11-28 08:00 UTC)
}

/// Write `n`: a new case with its own decision number and request id,
/// noticed to one of [`PROJECTS`] projects and the police.
fn discharge(n: u32) -> CaseWrite {
    let number =
        with_check_character(&format!("14010619900307{:03}", n % 1000)).expect("17 digits");
    let person = Person {
        id_number: IdNumber::parse(&number, time::macros::date!(2026 - 11 - 28)).expect("valid"),
        name: "张三丰".into(),
        sex: Sex::Male,
        household_region: region("140106"),
        residence_region: None,
        residence_consent: false,
    };
    let project = format!("project-{}", n % PROJECTS);
    let event = RecordedEvent {
        sequence: 1,
        at: released(),
        by: id("taiyuan-detox"),
        event: CaseEvent::Discharged {
            decision_number: DecisionNumber::parse(&format!("D-{n}")).expect("valid"),
            executing_region: region("140106"),
            person,
            released_at: released(),
            term: TermMonths::new(36).expect("valid"),
            project: Some(id(&project)),
            oversight: None,
            late_notice: false,
            earlier_open_cases: Vec::new(),
        },
    };
    let case = Case::from_history(CaseId::new(uuid::Uuid::now_v7()), vec![event.clone()])
        .expect("a valid history");
    let notices = [project.as_str(), "yingze-police"]
        .iter()
        .map(|to| {
            let notice = Notice {
                role: RecipientRole::ResponsibleProject,
                event: event.clone(),
                case: case.clone(),
            };
            (id(to), notice)
        })
        .collect();
    CaseWrite {
        request: RequestKey {
            agency: id("taiyuan-detox"),
            request_id: format!("r-{n}"),
            digest: [1; 32],
        },
        expected_version: 0,
        person_key: [2; 32],
        notices,
        deadlines: case.deadlines(&DeadlinePolicy::default()),
        outcome: SubmissionOutcome::accepted(&case, released()),
        case,
        audit: None,
    }
}

fn record(n: u32) -> AuditRecord {
    AuditRecord {
        at: released(),
        caller: AuditCaller::Agency {
            id: "taiyuan-detox".into(),
        },
        call: "handover.v1.IntakeService/Discharge".into(),
        outcome: "OK".into(),
        reason: None,
        details: AuditDetails {
            position: Some(u64::from(n)),
            ..AuditDetails::default()
        },
    }
}
