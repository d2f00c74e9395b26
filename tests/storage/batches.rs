//! Writes handed over together (`Storage::write_cases`), which PostgreSQL
//! commits in one transaction of whole-batch statements: each write gets
//! the answer it would get alone, in order, and a refused write leaves
//! nothing while the others are written with gapless inbox positions.

use handover_gateway::domain::audit::{AuditCaller, AuditDetails, AuditRecord, AuditText, verify};
use handover_gateway::domain::case::{Case, CaseEvent};
use handover_gateway::domain::submission::SubmissionOutcome;
use handover_gateway::storage::{CaseWrite, Conflict, Storage, StorageError};

use crate::support::{Db, Opened, RELEASED, discharged, id, next, person, write};

conformance!(
    each_write_of_a_batch_gets_its_own_answer_or_conflict,
    a_request_id_answered_before_the_batch_refuses_only_its_write,
    two_writes_of_one_key_in_a_batch_are_the_first_and_a_conflict,
    later_writes_of_a_batch_see_earlier_ones_of_the_same_case,
    a_batch_commits_its_audit_entries_with_its_writes,
);

fn new_case(decision: &str, n: u32) -> Case {
    discharged(
        decision,
        "140106",
        person(n, "140106"),
        Some("yingze-project"),
    )
}

fn to_project(case: &Case, expected: u32, request: &str) -> CaseWrite {
    write(
        case,
        expected,
        request,
        &["yingze-project", "yingze-police"],
    )
}

fn conflict(result: &Result<SubmissionOutcome, StorageError>) -> Conflict {
    match result {
        Err(StorageError::Conflict(conflict)) => *conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The positions the answers gave the project, in answer order.
fn project_positions(answers: &[Result<SubmissionOutcome, StorageError>]) -> Vec<u64> {
    answers
        .iter()
        .filter_map(|answer| answer.as_ref().ok())
        .flat_map(|outcome| &outcome.deliveries)
        .filter(|delivery| delivery.agency.as_str() == "yingze-project")
        .map(|delivery| delivery.position)
        .collect()
}

/// The project's inbox as stored: (position, case id).
async fn project_inbox(storage: &dyn Storage) -> Vec<(u64, String)> {
    storage
        .inbox_after(&id("yingze-project"), 0, 100)
        .await
        .unwrap()
        .opened()
        .iter()
        .map(|m| (m.position, m.notice.case.id.as_str().to_owned()))
        .collect()
}

async fn nothing_stored_for(storage: &dyn Storage, case: &Case, request: &str) {
    assert_eq!(storage.case(&case.id).await.unwrap(), None, "{request}");
    let answer = storage.answer(&id("taiyuan-detox"), request).await.unwrap();
    assert!(answer.is_none(), "{request} has a stored answer");
}

async fn each_write_of_a_batch_gets_its_own_answer_or_conflict(db: Db) {
    let storage = db.open().await;
    let opened = new_case("D-open", 900);
    let moved_on = new_case("D-moved", 899);
    for (case, request) in [(&opened, "r-open"), (&moved_on, "r-moved")] {
        storage
            .write_case(to_project(case, 0, request))
            .await
            .unwrap();
        let picked_up = next(case, "yingze-project", CaseEvent::PickedUp);
        storage
            .write_case(write(&picked_up, 1, &format!("{request}-pick"), &[]))
            .await
            .unwrap();
    }
    let picked_up = next(&opened, "yingze-project", CaseEvent::PickedUp);
    let (first, twin, last) = (
        new_case("D-1", 901),
        new_case("D-open", 902),
        new_case("D-3", 903),
    );
    let stale = next(&moved_on, "yingze-project", CaseEvent::Reported);
    let reported = next(&picked_up, "yingze-project", CaseEvent::Reported);

    let answers = storage
        .write_cases(vec![
            to_project(&first, 0, "r-1"),
            to_project(&twin, 0, "r-2"),
            to_project(&stale, 1, "r-3"),
            to_project(&reported, 2, "r-4"),
            to_project(&last, 0, "r-5"),
        ])
        .await;

    assert_eq!(answers.len(), 5);
    assert_eq!(answers[0].as_ref().unwrap().case_id, first.id);
    assert_eq!(conflict(&answers[1]), Conflict::DecisionNumber);
    assert_eq!(conflict(&answers[2]), Conflict::Version);
    assert_eq!(answers[3].as_ref().unwrap().version, 3);
    assert_eq!(answers[4].as_ref().unwrap().case_id, last.id);
    nothing_stored_for(&*storage, &twin, "r-2").await;
    assert!(
        storage
            .answer(&id("taiyuan-detox"), "r-3")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(storage.case(&opened.id).await.unwrap(), Some(reported));
    assert_eq!(
        storage.case(&moved_on.id).await.unwrap().unwrap().version(),
        2
    );
    // The project's positions follow the order of the writes, after the
    // two messages it had.
    assert_eq!(project_positions(&answers), [3, 4, 5]);
    let inbox = project_inbox(&*storage).await;
    let cases: Vec<_> = inbox.iter().map(|(_, case)| case.as_str()).collect();
    assert_eq!(
        cases,
        [
            opened.id.as_str(),
            moved_on.id.as_str(),
            first.id.as_str(),
            opened.id.as_str(),
            last.id.as_str()
        ]
    );
    assert_eq!(inbox.last().unwrap().0, 5);
    let stored = storage.answer(&id("taiyuan-detox"), "r-4").await.unwrap();
    assert_eq!(stored.unwrap().outcome, *answers[3].as_ref().unwrap());
    // Refused alone: the others were written together.
    let transactions = db.transactions_of(&["r-1", "r-4", "r-5"]).await;
    assert!(matches!(transactions, None | Some(1)), "{transactions:?}");
    storage.close().await;
    assert_eq!(orphans(&db).await, 0, "events or deadlines of no case");
}

/// Events and deadlines whose case was not written. PostgreSQL has no
/// foreign keys onto cases (migrations/postgres/0007): the write function
/// alone keeps this at zero.
async fn orphans(db: &Db) -> i64 {
    db.raw_count(
        "SELECT (SELECT count(*) FROM case_events e
                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = e.case_id))
              + (SELECT count(*) FROM deadlines d
                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = d.case_id))",
    )
    .await
}

async fn a_request_id_answered_before_the_batch_refuses_only_its_write(db: Db) {
    let storage = db.open().await;
    let earlier = new_case("D-earlier", 900);
    storage
        .write_case(to_project(&earlier, 0, "r-taken"))
        .await
        .unwrap();
    let cases: Vec<Case> = (1..=4).map(|n| new_case(&format!("D-{n}"), n)).collect();
    let requests = ["r-1", "r-taken", "r-3", "r-4"];

    let answers = storage
        .write_cases(
            cases
                .iter()
                .zip(requests)
                .map(|(case, request)| to_project(case, 0, request))
                .collect(),
        )
        .await;

    assert_eq!(conflict(&answers[1]), Conflict::RequestId);
    assert_eq!(storage.case(&cases[1].id).await.unwrap(), None);
    for n in [0, 2, 3] {
        assert_eq!(answers[n].as_ref().unwrap().case_id, cases[n].id);
    }
    assert_eq!(project_positions(&answers), [2, 3, 4]);
    let inbox = project_inbox(&*storage).await;
    let positions: Vec<_> = inbox.iter().map(|(position, _)| *position).collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    assert_eq!(inbox[2].1, cases[2].id.as_str());
    // The stored answer is still the first one's.
    let stored = storage.answer(&id("taiyuan-detox"), "r-taken").await;
    assert_eq!(stored.unwrap().unwrap().outcome.case_id, earlier.id);
    // PostgreSQL refused the batch as a whole and wrote it one by one.
    let transactions = db.transactions_of(&["r-1", "r-3", "r-4"]).await;
    assert!(matches!(transactions, None | Some(3)), "{transactions:?}");
    storage.close().await;
}

async fn two_writes_of_one_key_in_a_batch_are_the_first_and_a_conflict(db: Db) {
    let storage = db.open().await;
    let opened = new_case("D-open", 900);
    storage
        .write_case(to_project(&opened, 0, "r-open"))
        .await
        .unwrap();
    let (a, b, c, d) = (
        new_case("D-1", 1),
        new_case("D-2", 2),
        new_case("D-3", 3),
        new_case("D-3", 4),
    );
    let picked_up = next(&opened, "yingze-project", CaseEvent::PickedUp);
    let reported = next(&opened, "yingze-project", CaseEvent::Reported);

    let answers = storage
        .write_cases(vec![
            to_project(&a, 0, "r-1"),
            to_project(&b, 0, "r-1"),
            to_project(&c, 0, "r-3"),
            to_project(&d, 0, "r-4"),
            to_project(&picked_up, 1, "r-5"),
            to_project(&reported, 1, "r-6"),
        ])
        .await;

    assert_eq!(answers[0].as_ref().unwrap().case_id, a.id);
    assert_eq!(conflict(&answers[1]), Conflict::RequestId);
    assert_eq!(answers[2].as_ref().unwrap().case_id, c.id);
    assert_eq!(conflict(&answers[3]), Conflict::DecisionNumber);
    assert_eq!(answers[4].as_ref().unwrap().version, 2);
    assert_eq!(conflict(&answers[5]), Conflict::Version);
    assert_eq!(storage.case(&b.id).await.unwrap(), None);
    let first = storage.answer(&id("taiyuan-detox"), "r-1").await;
    assert_eq!(first.unwrap().unwrap().outcome.case_id, a.id);
    nothing_stored_for(&*storage, &d, "r-4").await;
    assert_eq!(storage.case(&opened.id).await.unwrap(), Some(picked_up));
    assert_eq!(project_positions(&answers), [2, 3, 4]);
    let positions: Vec<_> = project_inbox(&*storage)
        .await
        .iter()
        .map(|(position, _)| *position)
        .collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    storage.close().await;
}

async fn later_writes_of_a_batch_see_earlier_ones_of_the_same_case(db: Db) {
    let storage = db.open().await;
    let (x, y) = (new_case("D-x", 1), new_case("D-y", 2));
    let x_picked_up = next(&x, "yingze-project", CaseEvent::PickedUp);
    let y_picked_up = next(&y, "yingze-project", CaseEvent::PickedUp);

    let answers = storage
        .write_cases(vec![
            to_project(&x, 0, "r-1"),
            to_project(&y, 0, "r-2"),
            to_project(&x_picked_up, 1, "r-3"),
            to_project(&y_picked_up, 1, "r-4"),
        ])
        .await;

    let versions: Vec<_> = answers
        .iter()
        .map(|answer| answer.as_ref().unwrap().version)
        .collect();
    assert_eq!(versions, [1, 1, 2, 2]);
    assert_eq!(
        storage.case(&x.id).await.unwrap(),
        Some(x_picked_up.clone())
    );
    assert_eq!(storage.case(&y.id).await.unwrap(), Some(y_picked_up));
    // The case row kept up with its events: the next write reads version 2.
    let x_reported = next(&x_picked_up, "yingze-project", CaseEvent::Reported);
    let answer = storage.write_case(to_project(&x_reported, 2, "r-5")).await;
    assert_eq!(answer.unwrap().version, 3);
    assert_eq!(project_positions(&answers), [1, 2, 3, 4]);
    // On PostgreSQL: two transactions, each of writes of distinct cases.
    let transactions = db.transactions_of(&["r-1", "r-2", "r-3", "r-4"]).await;
    assert!(matches!(transactions, None | Some(2)), "{transactions:?}");
    storage.close().await;
}

fn entry_for(case: &Case) -> AuditRecord {
    AuditRecord {
        at: RELEASED,
        caller: AuditCaller::Agency {
            id: "taiyuan-detox".into(),
        },
        call: "handover.v1.IntakeService/SubmitDischarge".into(),
        outcome: "OK".into(),
        reason: None,
        details: AuditDetails {
            case_id: Some(AuditText::new(case.id.as_str())),
            ..AuditDetails::default()
        },
    }
}

async fn a_batch_commits_its_audit_entries_with_its_writes(db: Db) {
    let storage = db.open().await;
    let earlier = new_case("D-earlier", 900);
    storage
        .write_case(to_project(&earlier, 0, "r-0"))
        .await
        .unwrap();
    let cases: Vec<Case> = (1..=3).map(|n| new_case(&format!("D-{n}"), n)).collect();
    let twin = new_case("D-earlier", 4);
    let writes = cases
        .iter()
        .chain([&twin])
        .enumerate()
        .map(|(n, case)| CaseWrite {
            audit: Some(entry_for(case)),
            ..to_project(case, 0, &format!("r-{}", n + 1))
        })
        .collect();

    let answers = storage.write_cases(writes).await;

    assert_eq!(conflict(&answers[3]), Conflict::DecisionNumber);
    let entries = storage.audit_entries(0, 100).await.unwrap();
    verify(entries.clone()).unwrap();
    let logged: Vec<_> = entries
        .iter()
        .map(|e| {
            e.parse()
                .unwrap()
                .record
                .details
                .case_id
                .unwrap()
                .as_str()
                .to_owned()
        })
        .collect();
    let written: Vec<_> = cases.iter().map(|c| c.id.as_str().to_owned()).collect();
    assert_eq!(logged, written, "one entry per written case, in order");
    let transactions = db.transactions_of(&["r-1", "r-2", "r-3"]).await;
    assert!(matches!(transactions, None | Some(1)), "{transactions:?}");
    storage.close().await;
}
