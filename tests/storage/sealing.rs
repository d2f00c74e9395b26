//! Personal data at rest: bodies are sealed in the raw tables, another key
//! is refused at the start (on an empty database too, once a first key
//! sealed its check), and without the key only case data is refused.

use handover_gateway::storage::{self, Sealer, StorageError};

use crate::support::{Db, NAME, discharged, person, write};

conformance!(
    stored_bodies_are_sealed_and_only_the_master_key_opens_them,
    a_second_key_on_a_database_the_first_opened_is_refused_before_any_case,
    an_upgraded_database_checks_its_key_against_a_sealed_body,
);

/// Two replicas that each made a key on one empty database: the first to
/// open stores its check, and the other is refused before it writes.
async fn a_second_key_on_a_database_the_first_opened_is_refused_before_any_case(db: Db) {
    let first = db.open_with([1; 32]).await;
    assert!(!first.holds_cases().await.unwrap());
    let second = storage::open(&db.database(), Sealer::new([2; 32])).await;
    assert!(matches!(second, Err(StorageError::Corrupt(_))));
    first.close().await;
    db.open_with([1; 32]).await.close().await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn stored_bodies_are_sealed_and_only_the_master_key_opens_them(db: Db) {
    let storage = db.open().await;
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let number = case.person.id_number.expose().to_owned();
    storage
        .write_case(write(&case, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    storage.close().await;

    let bodies = db.raw_bodies().await;
    assert_eq!(
        bodies.len(),
        1,
        "one event; the message refers to it instead of copying it"
    );
    for body in &bodies {
        assert!(
            !contains(body, number.as_bytes()),
            "identity number at rest"
        );
        assert!(!contains(body, NAME.as_bytes()), "name at rest");
        assert!(!contains(body, b"discharged"), "event at rest");
    }

    // Another key is refused at the start, before it reads or seals
    // anything: data sealed under two keys would open on no replica whole.
    match storage::open(&db.database(), Sealer::new([8; 32])).await {
        Err(StorageError::Corrupt(message)) => {
            assert!(message.contains("master key"), "{message}");
        }
        other => panic!("opened with another key: {:?}", other.map(drop)),
    }

    let unsealed = db.unsealed().await;
    let without_key = unsealed.storage();
    assert!(without_key.holds_cases().await.unwrap());
    assert!(without_key.agencies().await.unwrap().is_empty());
    assert!(without_key.audit_entries(0, 1).await.unwrap().is_empty());
    assert!(matches!(
        without_key.case(&case.id).await,
        Err(StorageError::Corrupt(_))
    ));
    without_key.close().await;

    let reopened = db.open().await;
    assert_eq!(reopened.case(&case.id).await.unwrap(), Some(case));
    reopened.close().await;
}

/// A database sealed before the key check (here, the check removed): the
/// first start after the upgrade opens a stored body before it stores the
/// check, so a wrong key is refused instead of locked in.
async fn an_upgraded_database_checks_its_key_against_a_sealed_body(db: Db) {
    let storage = db.open().await;
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&case, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    storage.close().await;
    db.raw_execute("DELETE FROM master_key_check")
        .await
        .unwrap();
    let wrong = storage::open(&db.database(), Sealer::new([8; 32])).await;
    assert!(matches!(wrong, Err(StorageError::Corrupt(_))));
    assert_eq!(
        db.raw_count("SELECT count(*) FROM master_key_check").await,
        0
    );
    let reopened = db.open().await;
    assert_eq!(reopened.case(&case.id).await.unwrap(), Some(case));
    reopened.close().await;
    assert_eq!(
        db.raw_count("SELECT count(*) FROM master_key_check").await,
        1
    );
}
