//! The agency registry.

use handover_gateway::domain::intake::DecisionNumber;
use handover_gateway::storage::{CaseKey, Lookup};

use crate::support::{Db, agency, discharged, filter, id, person, person_key, write};

conformance!(
    the_registry_adds_updates_and_lists_agencies,
    the_registry_version_moves_with_every_change_whoever_makes_it,
    a_submission_lookup_reads_the_registry_version_with_it,
    a_status_read_reads_the_registry_version_with_it,
);

async fn the_registry_adds_updates_and_lists_agencies(db: Db) {
    let storage = db.open().await;
    assert!(storage.agencies().await.unwrap().is_empty());
    assert!(
        storage
            .agency(&id("yingze-project"))
            .await
            .unwrap()
            .is_none()
    );

    let project = agency("county-project", "140106", "yingze-project");
    let police = agency("police", "140106", "yingze-police");
    storage.register_agency(&project).await.unwrap();
    storage.register_agency(&police).await.unwrap();
    let mut renamed = project.clone();
    renamed.name = "迎泽区社区康复办公室".into();
    renamed.enabled = false;
    storage.register_agency(&renamed).await.unwrap();

    assert_eq!(
        storage.agency(&id("yingze-project")).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(storage.agencies().await.unwrap(), vec![police, renamed]);
    storage.close().await;
}

async fn the_registry_version_moves_with_every_change_whoever_makes_it(db: Db) {
    let storage = db.open().await;
    let mut seen = vec![storage.registry_version().await.unwrap()];
    let mut project = agency("county-project", "140106", "yingze-project");
    storage.register_agency(&project).await.unwrap();
    seen.push(storage.registry_version().await.unwrap());
    project.enabled = false;
    storage.register_agency(&project).await.unwrap();
    seen.push(storage.registry_version().await.unwrap());
    // An operator's SQL, past the gateway.
    db.raw_execute("UPDATE agencies SET name = 'renamed'")
        .await
        .unwrap();
    seen.push(storage.registry_version().await.unwrap());
    db.raw_execute("DELETE FROM agencies").await.unwrap();
    seen.push(storage.registry_version().await.unwrap());

    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "a change left the version where it was: {seen:?}"
    );
    assert_eq!(
        storage.registry_version().await.unwrap(),
        *seen.last().unwrap(),
        "reading changes nothing"
    );
    storage.close().await;
}

/// The version a submission's lookup returns confirms the registry its
/// caller was checked against, so it must be the registry's own, read
/// with the lookup, whatever the lookup finds (nothing, a case by its id
/// or decision number, a stored answer), and follow every change.
async fn a_submission_lookup_reads_the_registry_version_with_it(db: Db) {
    let storage = db.open().await;
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let lookups = [
        (
            "r-1",
            CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]),
        ),
        ("r-2", CaseKey::Id(case.id.clone())),
        (
            "r-2",
            CaseKey::Decision(DecisionNumber::parse("D-1").unwrap(), [0; 32]),
        ),
    ];
    // Every lookup's version, each checked against the registry's own,
    // and what each found: nothing until the case is `written`, then the
    // answer to r-1 and the case, by either key, for r-2.
    let versions = async |written: bool| {
        let mut seen = Vec::new();
        for (request_id, key) in &lookups {
            let looked = storage
                .answer_or_case(&id("taiyuan-detox"), request_id, key)
                .await
                .unwrap();
            assert_eq!(
                looked.registry_version,
                storage.registry_version().await.unwrap(),
                "{key:?} finding {:?}",
                looked.found
            );
            let found = match looked.found {
                Lookup::Answered(_) => "answer",
                Lookup::Unanswered(Some(_), _) => "case",
                Lookup::Unanswered(None, _) => "nothing",
            };
            let expected = match (written, *request_id) {
                (false, _) => "nothing",
                (true, "r-1") => "answer",
                (true, _) => "case",
            };
            assert_eq!(found, expected, "{request_id} {key:?}");
            seen.push(looked.registry_version);
        }
        seen[0]
    };
    let before = versions(false).await;

    let mut detox = agency("detox-center", "140100", "taiyuan-detox");
    storage.register_agency(&detox).await.unwrap();
    let added = versions(false).await;
    // r-1 answered, and the case found by either key for r-2.
    storage
        .write_case(write(&case, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    assert_eq!(
        versions(true).await,
        added,
        "a case write is no registry change"
    );
    detox.enabled = false;
    storage.register_agency(&detox).await.unwrap();
    let disabled = versions(true).await;
    db.raw_execute("UPDATE agencies SET name = 'renamed'")
        .await
        .unwrap();
    let renamed = versions(true).await;

    let seen = [before, added, disabled, renamed];
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "a change the lookup did not see: {seen:?}"
    );
    storage.close().await;
}

/// A status query confirms its caller with the version its read of the
/// case returns, and a list with the version its read of the page
/// returns, so that too must be the registry's own as of the read,
/// whether the read finds the case or not, by either key.
async fn a_status_read_reads_the_registry_version_with_it(db: Db) {
    let storage = db.open().await;
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    // Each read's version, checked against the registry's own, and how
    // many cases each found.
    let versions = async || {
        let current = storage.registry_version().await.unwrap();
        let by_id = storage.case_seen(&case.id).await.unwrap();
        let by_person = storage.cases_of_person(&person_key(1)).await.unwrap();
        let listed = storage.list_cases(&filter("140000")).await.unwrap();
        assert_eq!(by_id.registry_version, current, "by id");
        assert_eq!(by_person.registry_version, current, "by person");
        assert_eq!(listed.registry_version, current, "in a list");
        assert_eq!(by_id.found.is_some(), !by_person.found.is_empty());
        assert_eq!(by_person.found, listed.found);
        (current, by_person.found.len())
    };
    let before = versions().await;
    assert_eq!(before.1, 0);
    storage
        .register_agency(&agency("police", "140106", "yingze-police"))
        .await
        .unwrap();
    let added = versions().await;
    storage
        .write_case(write(&case, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    let written = versions().await;
    assert_eq!(written, (added.0, 1), "a case write is no registry change");
    db.raw_execute("UPDATE agencies SET name = 'renamed'")
        .await
        .unwrap();
    let renamed = versions().await;
    assert_eq!(renamed.1, 1);

    let seen = [before.0, added.0, renamed.0];
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "a change the read did not see: {seen:?}"
    );
    storage.close().await;
}
