//! Writing cases in one transaction, the conflicts that refuse a write
//! whole, stored answers, and reading cases back.

use std::sync::Arc;

use handover_gateway::domain::case::{CaseEvent, CaseId};
use handover_gateway::domain::intake::DecisionNumber;
use handover_gateway::storage::{CaseKey, Conflict, Lookup, Storage, StorageError};

use crate::support::{Db, discharged, id, next, person, person_key, write};

conformance!(
    a_new_case_its_answer_and_its_deliveries_read_back,
    a_request_id_used_twice_is_a_conflict_and_writes_nothing,
    a_second_case_for_a_decision_number_is_a_conflict,
    a_write_from_a_stale_version_is_a_conflict,
    of_concurrent_writers_to_one_case_exactly_one_wins,
    the_cases_of_a_person_come_newest_first,
    cases_of_a_person_opened_in_the_same_millisecond_come_by_id_newest_first,
    a_lookup_finds_the_answer_or_else_the_case,
);

fn conflict(result: Result<impl std::fmt::Debug, StorageError>) -> Conflict {
    match result {
        Err(StorageError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn a_new_case_its_answer_and_its_deliveries_read_back(db: Db) {
    let storage = db.open().await;
    assert!(!storage.holds_cases().await.unwrap());
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let written = write(&case, 0, "r-1", &["yingze-project", "yingze-police"]);

    let outcome = storage.write_case(written.clone()).await.unwrap();

    let places: Vec<_> = outcome
        .deliveries
        .iter()
        .map(|d| (d.agency.as_str().to_owned(), d.position))
        .collect();
    assert_eq!(
        places,
        [
            ("yingze-project".to_owned(), 1),
            ("yingze-police".to_owned(), 1)
        ]
    );
    assert!(storage.holds_cases().await.unwrap());
    assert_eq!(storage.case(&case.id).await.unwrap(), Some(case.clone()));
    let decision = CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]);
    match look(&*storage, "r-2", &decision).await {
        Lookup::Unanswered(Some(found), _) => assert_eq!(*found, case),
        other => panic!("expected the case, got {other:?}"),
    }
    let answer = storage
        .answer(&id("taiyuan-detox"), "r-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.digest, written.request.digest);
    assert_eq!(answer.outcome, outcome);
    assert!(
        storage
            .answer(&id("taiyuan-detox"), "r-2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        storage
            .answer(&id("yingze-project"), "r-1")
            .await
            .unwrap()
            .is_none()
    );
    let unknown = CaseId::new(uuid::Uuid::now_v7());
    assert_eq!(storage.case(&unknown).await.unwrap(), None);
    let other = CaseKey::Decision(DecisionNumber::parse("D-2").unwrap(), [0; 32]);
    let found = look(&*storage, "r-2", &other).await;
    assert!(matches!(found, Lookup::Unanswered(None, _)), "{found:?}");
    storage.close().await;
}

async fn a_request_id_used_twice_is_a_conflict_and_writes_nothing(db: Db) {
    let storage = db.open().await;
    let first = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&first, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    let second = discharged("D-2", "140106", person(2, "140106"), Some("yingze-project"));

    let refused = storage
        .write_case(write(&second, 0, "r-1", &["yingze-project"]))
        .await;

    assert_eq!(conflict(refused), Conflict::RequestId);
    assert_eq!(storage.case(&second.id).await.unwrap(), None);
    let inbox = storage.inbox_state(&id("yingze-project")).await.unwrap();
    assert_eq!(inbox.head, 1, "the refused write's notice is not kept");
    storage.close().await;
}

async fn a_second_case_for_a_decision_number_is_a_conflict(db: Db) {
    let storage = db.open().await;
    let first = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&first, 0, "r-1", &[]))
        .await
        .unwrap();
    let again = discharged(
        "D-1",
        "140105",
        person(1, "140106"),
        Some("xiaodian-project"),
    );

    let refused = storage
        .write_case(write(&again, 0, "r-2", &["xiaodian-project"]))
        .await;

    assert_eq!(conflict(refused), Conflict::DecisionNumber);
    assert!(
        storage
            .answer(&id("taiyuan-detox"), "r-2")
            .await
            .unwrap()
            .is_none()
    );
    let inbox = storage.inbox_state(&id("xiaodian-project")).await.unwrap();
    assert_eq!(inbox.head, 0);
    storage.close().await;
}

async fn a_write_from_a_stale_version_is_a_conflict(db: Db) {
    let storage = db.open().await;
    let opened = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&opened, 0, "r-1", &[]))
        .await
        .unwrap();
    let picked_up = next(&opened, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-2", &["yingze-police"]))
        .await
        .unwrap();

    let stale = next(&opened, "yingze-project", CaseEvent::Reported);
    let refused = storage
        .write_case(write(&stale, 1, "r-3", &["yingze-police"]))
        .await;

    assert_eq!(conflict(refused), Conflict::Version);
    assert_eq!(storage.case(&opened.id).await.unwrap(), Some(picked_up));
    assert_eq!(
        storage
            .inbox_state(&id("yingze-police"))
            .await
            .unwrap()
            .head,
        1
    );
    storage.close().await;
}

async fn of_concurrent_writers_to_one_case_exactly_one_wins(db: Db) {
    let storage = db.open().await;
    let opened = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&opened, 0, "r-0", &[]))
        .await
        .unwrap();
    let racers = (0..8).map(|n| {
        let storage = Arc::clone(&storage);
        let event = if n % 2 == 0 {
            CaseEvent::PickedUp
        } else {
            CaseEvent::Reported
        };
        let racer = write(
            &next(&opened, "yingze-project", event),
            1,
            &format!("r-{}", n + 1),
            &["yingze-police"],
        );
        tokio::spawn(async move { storage.write_case(racer).await })
    });
    let mut won = 0;
    for racer in racers.collect::<Vec<_>>() {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            refused => assert_eq!(conflict(refused), Conflict::Version),
        }
    }

    assert_eq!(won, 1);
    assert_eq!(
        storage.case(&opened.id).await.unwrap().unwrap().version(),
        2
    );
    assert_eq!(
        storage
            .inbox_state(&id("yingze-police"))
            .await
            .unwrap()
            .head,
        1
    );
    storage.close().await;
}

/// The id and version of each case of person `n`, in the order read.
async fn versions_of_person(storage: &dyn Storage, n: u32) -> Vec<(CaseId, u32)> {
    storage
        .cases_of_person(&person_key(n))
        .await
        .unwrap()
        .found
        .into_iter()
        .map(|case| (case.id.clone(), case.version()))
        .collect()
}

/// Opening times are milliseconds, so two cases of one person can share
/// one; the case id (time-ordered) then decides, on every backend, so that
/// a status query by identity number always names the same case first.
async fn cases_of_a_person_opened_in_the_same_millisecond_come_by_id_newest_first(db: Db) {
    let storage = db.open().await;
    let mut cases = [
        discharged("D-1", "140106", person(1, "140106"), Some("yingze-project")),
        discharged(
            "D-2",
            "140105",
            person(1, "140106"),
            Some("xiaodian-project"),
        ),
    ];
    // The lower id is written first, so that the order rows are stored
    // in is the opposite of the order wanted.
    cases.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    for (n, case) in cases.iter().enumerate() {
        storage
            .write_case(write(case, 0, &format!("r-{n}"), &[]))
            .await
            .unwrap();
    }
    db.raw_execute("UPDATE cases SET opened_at = 1700000000000")
        .await
        .unwrap();

    let read = versions_of_person(&*storage, 1).await;
    assert_eq!(read, [(cases[1].id.clone(), 1), (cases[0].id.clone(), 1)]);
    storage.close().await;
}

async fn the_cases_of_a_person_come_newest_first(db: Db) {
    let storage = db.open().await;
    let older = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&older, 0, "r-1", &[]))
        .await
        .unwrap();
    let older = next(&older, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&older, 1, "r-1b", &[]))
        .await
        .unwrap();
    // Cases are ordered by when they were opened, in milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let newer = discharged(
        "D-2",
        "140105",
        person(1, "140106"),
        Some("xiaodian-project"),
    );
    storage
        .write_case(write(&newer, 0, "r-2", &[]))
        .await
        .unwrap();
    let stranger = discharged("D-3", "140106", person(2, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&stranger, 0, "r-3", &[]))
        .await
        .unwrap();

    // Each case whole: the older one with both its events.
    let read = versions_of_person(&*storage, 1).await;
    assert_eq!(read, [(newer.id, 1), (older.id, 2)]);
    assert!(
        storage
            .cases_of_person(&person_key(9))
            .await
            .unwrap()
            .found
            .is_empty()
    );
    storage.close().await;
}

/// What a detox center's submission reads before it plans.
async fn look(storage: &dyn Storage, request_id: &str, key: &CaseKey) -> Lookup {
    storage
        .answer_or_case(&id("taiyuan-detox"), request_id, key)
        .await
        .unwrap()
        .found
}

async fn a_lookup_finds_the_answer_or_else_the_case(db: Db) {
    let storage = db.open().await;
    let decision = CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]);
    let opened = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let unknown = CaseKey::Id(CaseId::new(uuid::Uuid::now_v7()));
    let by_id = CaseKey::Id(opened.id.clone());
    let keys = [&decision, &by_id];
    for key in keys {
        let found = look(&*storage, "r-1", key).await;
        assert!(matches!(found, Lookup::Unanswered(None, _)), "{found:?}");
    }

    storage
        .write_case(write(&opened, 0, "r-1", &["yingze-police"]))
        .await
        .unwrap();
    let picked_up = next(&opened, "yingze-project", CaseEvent::PickedUp);
    let written = write(&picked_up, 1, "r-2", &["yingze-police", "yingze-project"]);
    let outcome = storage.write_case(written.clone()).await.unwrap();

    // Not answered: the whole case, by either key; none for an unknown id.
    for key in keys {
        match look(&*storage, "r-3", key).await {
            Lookup::Unanswered(Some(case), _) => assert_eq!(*case, picked_up),
            other => panic!("expected the case, got {other:?}"),
        }
    }
    let found = look(&*storage, "r-3", &unknown).await;
    assert!(matches!(found, Lookup::Unanswered(None, _)), "{found:?}");

    // Answered: the answer with its inbox positions, whatever the key.
    for key in [&decision, &by_id, &unknown] {
        match look(&*storage, "r-2", key).await {
            Lookup::Answered(answer) => {
                assert_eq!(answer.digest, written.request.digest);
                assert_eq!(answer.outcome, outcome);
                let positions: Vec<_> = answer
                    .outcome
                    .deliveries
                    .iter()
                    .map(|d| d.position)
                    .collect();
                assert_eq!(positions, [2, 1]);
            }
            other => panic!("expected the stored answer, got {other:?}"),
        }
    }

    // Request ids are each agency's own.
    let other = storage
        .answer_or_case(&id("yingze-project"), "r-2", &by_id)
        .await
        .unwrap()
        .found;
    assert!(matches!(other, Lookup::Unanswered(Some(_), _)), "{other:?}");
    storage.close().await;
}
