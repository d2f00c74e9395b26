//! Reads in the log: a police query keeps its purpose and the case it
//! found, never the identity number it named; inbox calls record where
//! they start and what they acknowledge.

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::domain::audit::Lookup;

use super::{DISCHARGE, GET_CASE, entries, get};
use crate::support::*;

#[tokio::test]
async fn a_police_query_keeps_its_purpose_but_no_identity_number() {
    let app = spawn_app().await;
    let number = id_number("19900307", 603);
    let case_id = submit_as_detox(
        &app,
        discharge("r-1", "D-1", person(&number, "140106", None)),
    )
    .await
    .case_id;
    let purpose = format!("traffic stop, checked {number} on the spot");
    let case = get(
        &app,
        "yingze-police",
        Key::IdNumber(number.clone()),
        &purpose,
    )
    .await
    .unwrap();
    assert_eq!(case.case_id, case_id);
    let unknown = id_number("19900307", 604);
    get(
        &app,
        "yingze-police",
        Key::IdNumber(unknown.clone()),
        "routine check",
    )
    .await
    .unwrap_err();

    let log = entries(&app).await;
    let queries: Vec<_> = log.iter().filter(|e| e.record.call == GET_CASE).collect();
    assert_eq!(queries.len(), 2);
    let found = &queries[0].record;
    assert_eq!(found.outcome, "OK");
    assert_eq!(
        found.details.purpose.as_ref().unwrap().as_str(),
        "traffic stop, checked [id number] on the spot"
    );
    assert_eq!(found.details.case_id.as_ref().unwrap().as_str(), case_id);
    let Some(Lookup::IdNumber {
        person: Some(person),
    }) = &found.details.lookup
    else {
        panic!("{:?}", found.details.lookup);
    };
    assert_eq!(person.len(), 64, "the keyed person hash, in hex");
    assert_eq!(queries[1].record.outcome, "NOT_FOUND");
    assert_eq!(
        queries[1].record.details.purpose.as_ref().unwrap().as_str(),
        "routine check"
    );

    let raw = app
        .gateway
        .storage()
        .audit_entries(0, 10_000)
        .await
        .unwrap();
    for row in raw {
        for secret in [&number, &unknown, &number[..17].to_owned()] {
            assert!(!row.entry.contains(secret.as_str()), "{}", row.entry);
        }
    }
}

#[tokio::test]
async fn inbox_calls_record_where_they_start_and_what_they_acknowledge() {
    let app = spawn_app().await;
    submit_as_detox(
        &app,
        discharge(
            "r-1",
            "D-1",
            person(&id_number("19900307", 605), "140106", None),
        ),
    )
    .await;
    let mut inbox = app.inbox("yingze-project").await;
    let mut stream = subscribe(&mut inbox, Some(0)).await;
    let message = next_message(&mut stream).await;
    inbox
        .acknowledge(pb::AcknowledgeRequest {
            position: message.position,
        })
        .await
        .unwrap();

    let log = entries(&app).await;
    let calls: Vec<_> = log
        .iter()
        .map(|e| (e.record.call.as_str(), e.record.details.position))
        .collect();
    assert_eq!(
        calls,
        [
            (DISCHARGE, None),
            ("handover.v1.InboxService/Subscribe", Some(0)),
            (
                "handover.v1.InboxService/Acknowledge",
                Some(message.position)
            ),
        ]
    );
}
