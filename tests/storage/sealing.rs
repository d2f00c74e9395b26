//! Personal data at rest: bodies are sealed in the raw tables, another key
//! cannot read them, and without the key only case data is refused.

use handover_gateway::storage::StorageError;

use crate::support::{Db, NAME, discharged, id, person, write};

conformance!(stored_bodies_are_sealed_and_only_the_master_key_opens_them);

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

    let other_key = db.open_with([8; 32]).await;
    assert!(matches!(
        other_key.case(&case.id).await,
        Err(StorageError::Corrupt(_))
    ));
    let inbox = other_key.inbox_after(&id("yingze-project"), 0, 10).await;
    assert!(matches!(inbox, Err(StorageError::Corrupt(_))));
    other_key.close().await;

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
