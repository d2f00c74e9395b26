//! A batch commits every write that was not refused, and nothing of a
//! write in part: a write refused before its first change leaves the
//! batch to commit without it, and one that fails after a change is
//! answered with its error while the rest of the batch runs again
//! without it. Batches are built by hand here, so that which
//! writes share a transaction does not depend on timing.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Access, Done, Job, Work, connect};
use crate::domain::audit::{AuditCaller, AuditDetails, AuditRecord};
use crate::domain::case::{Case, CaseEvent, CaseId};
use crate::domain::deadline::DeadlinePolicy;
use crate::domain::intake::DecisionNumber;
use crate::domain::notice::Notice;
use crate::domain::routing::RecipientRole;
use crate::domain::submission::{RequestKey, SubmissionOutcome};
use crate::domain::testing::{discharged_case, id, then};
use crate::gateway::verify_audit;
use crate::storage::seal::Sealer;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::sqlite::batch::{ROUNDS, commit};
use crate::storage::sqlite::write_sql::SealedWrite;
use crate::storage::{CaseWrite, Conflict, Result, Storage, StorageError};

async fn database(dir: &Path) -> PathBuf {
    let path = dir.join("gateway.db");
    SqliteStorage::open(&path).await.unwrap().close().await;
    path
}

fn new_case(decision: &str) -> Case {
    let mut case = discharged_case("140106", "140106", Some("yingze-project"));
    case.id = CaseId::new(uuid::Uuid::now_v7());
    case.decision_number = DecisionNumber::parse(decision).unwrap();
    case
}

/// The write that brings `case` from `expected_version` to its version,
/// with one notice to the county project.
fn write(case: &Case, expected_version: u32, request_id: &str) -> Work {
    sealed(case_write(case, expected_version, request_id))
}

/// As [`write`], carrying the record of its call, `n`.
fn audited(case: &Case, expected_version: u32, request_id: &str, n: u64) -> Work {
    let mut write = case_write(case, expected_version, request_id);
    write.audit = Some(record(n));
    sealed(write)
}

fn sealed(write: CaseWrite) -> Work {
    let sealed = SealedWrite::seal(&Sealer::new([7; 32]), write).unwrap();
    Work::Case(Box::new(sealed))
}

fn case_write(case: &Case, expected_version: u32, request_id: &str) -> CaseWrite {
    let notice = Notice {
        role: RecipientRole::ResponsibleProject,
        event: case.history.last().unwrap().clone(),
        case: case.summary(),
    };
    CaseWrite {
        request: RequestKey {
            agency: id("taiyuan-detox"),
            request_id: request_id.into(),
            digest: [1; 32],
        },
        case: case.clone(),
        expected_version,
        person_key: [2; 32],
        notices: vec![(id("yingze-project"), notice)],
        deadlines: case.deadlines(&DeadlinePolicy::default()),
        outcome: SubmissionOutcome::accepted(case, case.history.last().unwrap().at),
        audit: None,
    }
}

/// The record of a call, told apart from the others by `n`.
fn record(n: u64) -> AuditRecord {
    AuditRecord {
        at: time::macros::datetime!(2026-11-28 10:00 UTC),
        caller: AuditCaller::Agency {
            id: "taiyuan-detox".into(),
        },
        call: "handover.v1.IntakeService/SubmitDischarge".into(),
        outcome: "OK".into(),
        reason: None,
        details: AuditDetails {
            position: Some(n),
            ..AuditDetails::default()
        },
    }
}

/// Commits `works` as one batch and returns each one's answer.
fn commit_batch(db: &mut Connection, works: Vec<Work>) -> Vec<Result<Done>> {
    let (jobs, answers): (Vec<_>, Vec<_>) = works
        .into_iter()
        .map(|work| {
            let (reply, answer) = oneshot::channel();
            (Job { work, reply }, answer)
        })
        .unzip();
    commit(db, jobs);
    answers
        .into_iter()
        .map(|mut answer| answer.try_recv().expect("every job is answered"))
        .collect()
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn project_head(db: &Connection) -> i64 {
    db.query_row(
        "SELECT coalesce(max(head), 0) FROM inboxes WHERE agency_id = 'yingze-project'",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

fn conflict(answer: &Result<Done>) -> Conflict {
    match answer {
        Err(StorageError::Conflict(conflict)) => *conflict,
        Err(other) => panic!("expected a conflict, got {other}"),
        Ok(_) => panic!("expected a conflict, got a written case"),
    }
}

fn position(answer: &Result<Done>) -> u64 {
    match answer {
        Ok(Done::Case(outcome)) => outcome.deliveries[0].position,
        Err(error) => panic!("expected a written case, got {error}"),
        Ok(_) => panic!("expected a written case"),
    }
}

fn unavailable(answer: &Result<Done>) -> bool {
    matches!(answer, Err(StorageError::Unavailable(_)))
}

/// The audit log of the database at `path`, verified: how many entries
/// it holds, and the position each one's record names.
async fn audit_log(path: &Path) -> (u64, Vec<u64>) {
    let storage = SqliteStorage::open(path).await.unwrap();
    let head = verify_audit(&storage).await.unwrap().unwrap();
    let logged = storage
        .audit_entries(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|row| row.parse().unwrap().record.details.position.unwrap())
        .collect();
    storage.close().await;
    (head.entries, logged)
}

#[tokio::test]
async fn writes_refused_before_their_first_change_leave_the_rest_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = connect(&database(dir.path()).await, Access::ReadWrite).unwrap();
    let opened = new_case("D-open");
    let answered = commit_batch(&mut db, vec![write(&opened, 0, "r-open")]);
    assert_eq!(position(&answered[0]), 1);
    let picked_up = then(&opened, &id("yingze-project"), CaseEvent::PickedUp);

    let answers = commit_batch(
        &mut db,
        vec![
            write(&new_case("D-1"), 0, "r-1"),
            write(&new_case("D-1"), 0, "r-2"),
            write(&new_case("D-3"), 0, "r-1"),
            write(&picked_up, 1, "r-4"),
            write(&picked_up, 1, "r-5"),
            write(&new_case("D-6"), 0, "r-open"),
            write(&new_case("D-7"), 0, "r-7"),
        ],
    );

    assert_eq!(conflict(&answers[1]), Conflict::DecisionNumber);
    assert_eq!(conflict(&answers[2]), Conflict::RequestId);
    assert_eq!(conflict(&answers[4]), Conflict::Version);
    assert_eq!(conflict(&answers[5]), Conflict::RequestId);
    let positions: Vec<_> = [0, 3, 6].map(|n| position(&answers[n])).into();
    assert_eq!(positions, [2, 3, 4]);
    // The refused writes left nothing behind, and the project's inbox has
    // no gap.
    assert_eq!(count(&db, "SELECT count(*) FROM cases"), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM case_events"), 4);
    assert_eq!(count(&db, "SELECT count(*) FROM requests"), 4);
    assert_eq!(count(&db, "SELECT count(*) FROM inbox_messages"), 4);
    assert_eq!(project_head(&db), 4);
    let version: i64 = db
        .query_row(
            "SELECT version FROM cases WHERE id = ?",
            [opened.id.as_str()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(version, 2);
}

/// Opens a case and damages it: its second event is stored while the case
/// still says it has one. Returns the case as picked up, whose write
/// (from version 1) updates the case and then fails to add that event.
fn damaged(db: &mut Connection, decision: &str) -> Case {
    let opened = new_case(decision);
    let answered = commit_batch(db, vec![write(&opened, 0, &format!("open-{decision}"))]);
    assert!(answered[0].is_ok(), "{answered:?}");
    db.execute(
        "INSERT INTO case_events (case_id, sequence, recorded_at, agency_id, body)
         VALUES (?, 2, 0, 'yingze-project', x'00')",
        [opened.id.as_str()],
    )
    .unwrap();
    then(&opened, &id("yingze-project"), CaseEvent::PickedUp)
}

/// What the writes of these tests leave behind: cases, requests, inbox
/// messages, the project's inbox head, and the cases' versions summed.
fn stored(db: &Connection) -> [i64; 5] {
    [
        count(db, "SELECT count(*) FROM cases"),
        count(db, "SELECT count(*) FROM requests"),
        count(db, "SELECT count(*) FROM inbox_messages"),
        project_head(db),
        count(db, "SELECT sum(version) FROM cases"),
    ]
}

#[tokio::test]
async fn a_write_that_fails_after_its_first_change_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = connect(&database(dir.path()).await, Access::ReadWrite).unwrap();
    let picked_up = damaged(&mut db, "D-open");
    let [cases, requests, messages, head, versions] = stored(&db);

    let answers = commit_batch(
        &mut db,
        vec![
            write(&new_case("D-1"), 0, "r-1"),
            write(&picked_up, 1, "r-2"),
            write(&new_case("D-3"), 0, "r-3"),
        ],
    );

    assert!(unavailable(&answers[1]), "{answers:?}");
    // The others are written, in their order, with no gap where the
    // damaged write's notice would have gone; the damaged case is as it
    // was.
    assert_eq!([0, 2].map(|n| position(&answers[n])), [2, 3]);
    assert_eq!(
        stored(&db),
        [
            cases + 2,
            requests + 2,
            messages + 2,
            head + 2,
            versions + 2
        ]
    );
    assert!(db.is_autocommit(), "the transaction is over");

    // Alone, it is rolled back all the same, and the writer goes on.
    let alone = commit_batch(&mut db, vec![write(&picked_up, 1, "r-2")]);
    assert!(unavailable(&alone[0]), "{alone:?}");
    let next = commit_batch(&mut db, vec![write(&new_case("D-4"), 0, "r-4")]);
    assert_eq!(position(&next[0]), 4);
}

#[tokio::test]
async fn a_batch_that_breaks_round_after_round_is_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = connect(&database(dir.path()).await, Access::ReadWrite).unwrap();
    let damaged: Vec<Case> = (0..ROUNDS)
        .map(|n| damaged(&mut db, &format!("D-damaged-{n}")))
        .collect();
    let batch = |writes: &[Case], tag: &str| {
        let mut batch = vec![write(
            &new_case(&format!("D-{tag}-a")),
            0,
            &format!("{tag}-a"),
        )];
        for (n, case) in writes.iter().enumerate() {
            batch.push(write(case, 1, &format!("{tag}-{n}")));
        }
        batch.push(write(
            &new_case(&format!("D-{tag}-b")),
            0,
            &format!("{tag}-b"),
        ));
        batch
    };
    let before = stored(&db);

    // As many broken writes as rounds: nothing of the batch is written.
    let answers = commit_batch(&mut db, batch(&damaged, "all"));
    assert!(answers.iter().all(unavailable), "{answers:?}");
    assert_eq!(stored(&db), before);

    // One fewer: the last round writes the rest.
    let answers = commit_batch(&mut db, batch(&damaged[1..], "fewer"));
    let written: Vec<bool> = answers.iter().map(Result::is_ok).collect();
    let mut expected = vec![false; ROUNDS + 1];
    expected[0] = true;
    expected[ROUNDS] = true;
    assert_eq!(written, expected, "{answers:?}");
    assert_eq!(stored(&db)[0], before[0] + 2);
}

#[tokio::test]
async fn the_audit_chain_runs_on_past_refused_writes_and_log_appends_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path()).await;
    let mut db = connect(&path, Access::ReadWrite).unwrap();
    let first = commit_batch(&mut db, vec![audited(&new_case("D-0"), 0, "r-0", 0)]);
    assert_eq!(position(&first[0]), 1);

    let answers = commit_batch(
        &mut db,
        vec![
            audited(&new_case("D-1"), 0, "r-1", 1),
            audited(&new_case("D-2"), 0, "r-0", 2),
            Work::Audit(vec![record(3), record(4)]),
            audited(&new_case("D-1"), 0, "r-5", 5),
            audited(&new_case("D-6"), 0, "r-6", 6),
        ],
    );

    assert_eq!(position(&answers[0]), 2);
    assert_eq!(conflict(&answers[1]), Conflict::RequestId);
    assert!(matches!(answers[2], Ok(Done::Audit(_))), "{:?}", answers[2]);
    assert_eq!(conflict(&answers[3]), Conflict::DecisionNumber);
    assert_eq!(position(&answers[4]), 3);
    drop(db);
    // The refused writes' records went with them; the chain has no gap and
    // no fork.
    assert_eq!(audit_log(&path).await, (5, vec![0, 1, 3, 4, 6]));
}

#[tokio::test]
async fn the_audit_chain_runs_on_past_a_write_that_broke_its_round() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(dir.path()).await;
    let mut db = connect(&path, Access::ReadWrite).unwrap();
    let picked_up = damaged(&mut db, "D-open");

    let answers = commit_batch(
        &mut db,
        vec![
            audited(&new_case("D-1"), 0, "r-1", 1),
            audited(&picked_up, 1, "r-2", 2),
            Work::Audit(vec![record(3)]),
            audited(&new_case("D-4"), 0, "r-4", 4),
        ],
    );

    assert!(unavailable(&answers[1]), "{answers:?}");
    assert!(answers.iter().enumerate().all(|(n, a)| n == 1 || a.is_ok()));
    drop(db);
    // The round the damaged write broke left nothing in the log: the
    // chain of the round after it starts from the log's tail again.
    assert_eq!(audit_log(&path).await, (3, vec![1, 3, 4]));
}
