//! Inboxes: gapless positions per recipient, also under concurrent
//! writers, and acknowledgements that never go back.

use std::sync::Arc;

use handover_gateway::domain::case::{CaseEvent, ClosureReason};
use handover_gateway::domain::notice::InboxEntry;
use handover_gateway::domain::routing::RecipientRole;
use handover_gateway::storage::{InboxState, StorageError};

use crate::support::{Db, Opened, discharged, id, next, person, write};

conformance!(
    inbox_positions_count_up_and_acknowledgements_never_go_back,
    concurrent_writers_to_shared_recipients_leave_no_gap,
    a_notice_reads_back_with_the_case_as_it_stood_after_its_event,
    a_message_copied_by_an_older_version_reads_back_beside_references,
    a_case_whose_events_do_not_open_holds_up_no_other_message,
);

async fn inbox_positions_count_up_and_acknowledgements_never_go_back(db: Db) {
    let storage = db.open().await;
    let project = id("yingze-project");
    assert_eq!(
        storage.inbox_state(&project).await.unwrap(),
        InboxState::default()
    );
    let mut cases = Vec::new();
    for n in 1..=3 {
        let case = discharged(
            &format!("D-{n}"),
            "140106",
            person(n, "140106"),
            Some("yingze-project"),
        );
        let recipients: &[&str] = if n == 2 {
            &["yingze-project", "yingze-project"]
        } else {
            &["yingze-project"]
        };
        storage
            .write_case(write(&case, 0, &format!("r-{n}"), recipients))
            .await
            .unwrap();
        cases.push(case);
    }

    let all = storage
        .inbox_after(&project, 0, 100)
        .await
        .unwrap()
        .opened();
    let positions: Vec<_> = all.iter().map(|m| m.position).collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    assert_eq!(all[0].notice.case, cases[0].summary());
    assert_eq!(all[3].notice.case, cases[2].summary());
    let page: Vec<_> = storage
        .inbox_after(&project, 1, 2)
        .await
        .unwrap()
        .opened()
        .iter()
        .map(|m| m.position)
        .collect();
    assert_eq!(page, [2, 3]);
    assert!(
        storage
            .inbox_after(&project, 4, 10)
            .await
            .unwrap()
            .opened()
            .is_empty()
    );

    let at = |head, acknowledged| Some(InboxState { head, acknowledged });
    assert_eq!(storage.acknowledge(&project, 3).await.unwrap(), at(4, 3));
    assert_eq!(
        storage.acknowledge(&project, 2).await.unwrap(),
        at(4, 3),
        "never back"
    );
    assert_eq!(
        storage.acknowledge(&project, 5).await.unwrap(),
        None,
        "past the head"
    );
    assert_eq!(storage.acknowledge(&project, 4).await.unwrap(), at(4, 4));
    assert_eq!(
        storage.inbox_state(&project).await.unwrap(),
        InboxState {
            head: 4,
            acknowledged: 4
        }
    );
    let stranger = id("xiaodian-project");
    assert_eq!(storage.acknowledge(&stranger, 0).await.unwrap(), at(0, 0));
    assert_eq!(storage.acknowledge(&stranger, 1).await.unwrap(), None);
    storage.close().await;
}

async fn concurrent_writers_to_shared_recipients_leave_no_gap(db: Db) {
    let storage = db.open().await;
    let writers: Vec<_> = (1..=24)
        .map(|n| {
            let storage = Arc::clone(&storage);
            // Half name the recipients in the other order: writers must
            // not deadlock on each other's inbox heads.
            let recipients: &[&str] = if n % 2 == 0 {
                &["yingze-project", "yingze-police"]
            } else {
                &["yingze-police", "yingze-project"]
            };
            let case = discharged(
                &format!("D-{n}"),
                "140106",
                person(n, "140106"),
                Some("yingze-project"),
            );
            let written = write(&case, 0, &format!("r-{n}"), recipients);
            tokio::spawn(async move { storage.write_case(written).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }

    for recipient in ["yingze-project", "yingze-police"] {
        let messages = storage
            .inbox_after(&id(recipient), 0, 100)
            .await
            .unwrap()
            .opened();
        let positions: Vec<u64> = messages.iter().map(|m| m.position).collect();
        assert_eq!(positions, (1..=24).collect::<Vec<_>>(), "{recipient}");
        let mut cases: Vec<_> = messages.iter().map(|m| m.notice.case.id.clone()).collect();
        cases.sort();
        cases.dedup();
        assert_eq!(cases.len(), 24, "one message per case for {recipient}");
        assert_eq!(storage.inbox_state(&id(recipient)).await.unwrap().head, 24);
    }
    storage.close().await;
}

/// Messages refer to their case's events: a later change to the case does
/// not change what an earlier notice said.
async fn a_notice_reads_back_with_the_case_as_it_stood_after_its_event(db: Db) {
    let storage = db.open().await;
    let project = id("yingze-project");
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    storage
        .write_case(write(&case, 0, "r-1", &["yingze-project"]))
        .await
        .unwrap();
    let picked_up = next(&case, "yingze-project", CaseEvent::PickedUp);
    storage
        .write_case(write(&picked_up, 1, "r-2", &["yingze-project"]))
        .await
        .unwrap();

    let messages = storage.inbox_after(&project, 0, 10).await.unwrap().opened();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].notice.event, case.history[0]);
    assert_eq!(messages[0].notice.case, case.summary());
    assert_eq!(messages[1].notice.event, picked_up.history[1]);
    assert_eq!(messages[1].notice.case, picked_up.summary());
    assert_ne!(messages[0].notice.case.state, messages[1].notice.case.state);
    assert!(messages.iter().all(|m| m.case_closed_at.is_none()));

    // Once the case closes, every message about it says when, for the
    // readers whose sight of it ends some time after.
    let closed = next(
        &picked_up,
        "yingze-project",
        CaseEvent::Closed {
            reason: ClosureReason::Imprisoned,
            note: String::new(),
        },
    );
    storage
        .write_case(write(&closed, 2, "r-close", &["yingze-project"]))
        .await
        .unwrap();
    let messages = storage.inbox_after(&project, 0, 10).await.unwrap().opened();
    let closure = closed.history.last().unwrap().at;
    assert_eq!(messages.len(), 3);
    for message in &messages {
        assert_eq!(
            message.case_closed_at,
            Some(closure),
            "{}",
            message.position
        );
    }

    let other = discharged("D-3", "140106", person(3, "140106"), Some("yingze-project"));
    let mut stray = write(&other, 0, "r-3", &["yingze-project"]);
    stray.notices[0].1.event.sequence = 7;
    assert!(
        matches!(
            storage.write_case(stray).await,
            Err(StorageError::Corrupt(_))
        ),
        "a notice of an event the case does not hold is refused"
    );
    assert_eq!(
        storage.case(&other.id).await.unwrap(),
        None,
        "and nothing of it is written"
    );
    storage.close().await;
}

async fn a_message_copied_by_an_older_version_reads_back_beside_references(db: Db) {
    let storage = db.open().await;
    let project = id("yingze-project");
    let case = discharged("D-1", "140106", person(1, "140106"), Some("yingze-project"));
    let written = write(&case, 0, "r-1", &["yingze-project"]);
    let notice = written.notices[0].1.clone();
    storage.write_case(written).await.unwrap();
    storage.close().await;

    let mut copied = notice.clone();
    copied.role = RecipientRole::HostProject;
    db.store_copied_message("yingze-project", 2, &copied).await;

    let storage = db.open().await;
    let messages = storage.inbox_after(&project, 0, 10).await.unwrap().opened();
    let notices: Vec<_> = messages.iter().map(|m| (m.position, &m.notice)).collect();
    assert_eq!(notices, [(1, &notice), (2, &copied)]);
    let other = id("xiaodian-project");
    let newer = discharged(
        "D-2",
        "140106",
        person(2, "140106"),
        Some("xiaodian-project"),
    );
    storage
        .write_case(write(&newer, 0, "r-2", &["yingze-project"]))
        .await
        .unwrap();
    let third = storage.inbox_after(&project, 2, 10).await.unwrap().opened();
    assert_eq!(third.len(), 1);
    assert_eq!(
        (third[0].position, &third[0].notice.case),
        (3, &newer.summary())
    );
    assert!(
        storage
            .inbox_after(&other, 0, 10)
            .await
            .unwrap()
            .opened()
            .is_empty()
    );

    // A copy tells when its case closed since, as a reference does.
    let picked_up = next(&case, "yingze-project", CaseEvent::PickedUp);
    let closed = next(
        &picked_up,
        "yingze-project",
        CaseEvent::Closed {
            reason: ClosureReason::Deceased,
            note: String::new(),
        },
    );
    for (n, (case, version)) in [(&picked_up, 1), (&closed, 2)].into_iter().enumerate() {
        let written = write(case, version, &format!("r-later-{n}"), &[]);
        storage.write_case(written).await.unwrap();
    }
    let messages = storage.inbox_after(&project, 0, 10).await.unwrap().opened();
    let closure = closed.history.last().unwrap().at;
    let closed_at: Vec<_> = messages.iter().map(|m| m.case_closed_at).collect();
    assert_eq!(closed_at, [Some(closure), Some(closure), None]);
    let copy_alone = storage.inbox_after(&project, 1, 1).await.unwrap().opened();
    assert_eq!(
        copy_alone[0].case_closed_at,
        Some(closure),
        "a page of a copy only"
    );
    storage.close().await;
}

/// A damaged event body makes the messages about its case unreadable, in
/// their places; the messages about other cases around them still open.
async fn a_case_whose_events_do_not_open_holds_up_no_other_message(db: Db) {
    let storage = db.open().await;
    let project = id("yingze-project");
    let mut cases = Vec::new();
    for n in 1..=3 {
        let case = discharged(
            &format!("D-{n}"),
            "140106",
            person(n, "140106"),
            Some("yingze-project"),
        );
        storage
            .write_case(write(&case, 0, &format!("r-{n}"), &["yingze-project"]))
            .await
            .unwrap();
        if n == 2 {
            let picked_up = next(&case, "yingze-project", CaseEvent::PickedUp);
            storage
                .write_case(write(&picked_up, 1, "r-2b", &["yingze-project"]))
                .await
                .unwrap();
        }
        cases.push(case);
    }
    db.raw_execute(&format!(
        "UPDATE case_events SET body = substr(body, 2) WHERE case_id = '{}' AND sequence = 1",
        cases[1].id
    ))
    .await
    .unwrap();

    let entries = storage.inbox_after(&project, 0, 10).await.unwrap();
    let read: Vec<_> = entries
        .iter()
        .map(|entry| match entry {
            InboxEntry::Message(message) => {
                (message.position, Some(message.notice.case.id.clone()))
            }
            InboxEntry::Unreadable(unreadable) => {
                assert_eq!(unreadable.case, cases[1].id);
                assert_eq!(unreadable.role, Some(RecipientRole::ResponsibleProject));
                (unreadable.position, None)
            }
        })
        .collect();
    assert_eq!(
        read,
        [
            (1, Some(cases[0].id.clone())),
            (2, None),
            (3, None),
            (4, Some(cases[2].id.clone())),
        ]
    );
    // A page that starts past the damage reads as before.
    let last = storage.inbox_after(&project, 3, 10).await.unwrap().opened();
    assert_eq!(last[0].notice.case, cases[2].summary());
}
