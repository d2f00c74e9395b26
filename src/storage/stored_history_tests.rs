//! Histories as stored, pinned: both backends keep a case as its sealed
//! events (JSON, see `seal.rs`) and rebuild the case, and every inbox
//! message, by folding them (`Case::from_history`, see `messages.rs`). A
//! change to the events' JSON or to how a case folds them must still read
//! what earlier versions wrote; this history was written by the version
//! that introduced messages by reference.

use time::macros::datetime;

use crate::domain::case::{Anchor, Case, CaseId, CaseState, RecordedEvent};
use crate::domain::region::RegionCode;
use crate::domain::testing::id;

/// A discharge to Yingze, pickup, report, and a transfer to Datong that
/// was accepted and completed.
const STORED: &str = r#"[
{"sequence":1,"at":"2026-11-28T09:00:00Z","by":"taiyuan-detox","event":{"type":"discharged","decision_number":"D-1","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":"140106","residence_consent":true},"released_at":"2026-11-28T08:00:00Z","term":36,"executing_region":"140106","project":"yingze-project","oversight":null,"late_notice":true}},
{"sequence":2,"at":"2026-11-28T10:00:00Z","by":"yingze-project","event":{"type":"picked-up"}},
{"sequence":3,"at":"2026-11-28T11:00:00Z","by":"yingze-project","event":{"type":"reported"}},
{"sequence":4,"at":"2026-11-28T12:00:00Z","by":"yingze-project","event":{"type":"transfer-requested","to_region":"140202","to_project":"datong-project","reason":"moved for work"}},
{"sequence":5,"at":"2026-11-28T13:00:00Z","by":"datong-project","event":{"type":"transfer-accepted"}},
{"sequence":6,"at":"2026-11-28T14:00:00Z","by":"datong-project","event":{"type":"arrived"}}
]"#;

fn stored() -> Vec<RecordedEvent> {
    serde_json::from_str(STORED).unwrap()
}

fn fold(events: &[RecordedEvent]) -> Case {
    Case::from_history(CaseId::new(uuid::Uuid::nil()), events.to_vec()).unwrap()
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

#[test]
fn a_stored_history_still_folds_into_the_case_it_was() {
    let case = fold(&stored());

    assert_eq!(case.version(), 6);
    assert_eq!(case.state, CaseState::UnderSupervision);
    assert_eq!(case.executing_region, region("140202"));
    assert_eq!(case.responsible, Some(id("datong-project")));
    assert_eq!(
        case.responsible_history,
        [id("yingze-project"), id("datong-project")]
    );
    assert_eq!(case.transfer, None);
    assert_eq!(
        case.clock,
        Some(Anchor {
            sequence: 1,
            at: datetime!(2026-11-28 08:00 UTC),
        })
    );
    assert_eq!(
        case.supervision_started,
        Some(Anchor {
            sequence: 3,
            at: datetime!(2026-11-28 11:00 UTC),
        })
    );
    assert_eq!(case.person.household_region, region("140106"));
}

/// An inbox message of event 4 is rebuilt from the events up to it: the
/// case as it stood then, with the transfer pending.
#[test]
fn a_stored_history_still_folds_into_each_case_an_inbox_message_showed() {
    let events = stored();

    let at_request = fold(&events[..4]);

    assert_eq!(at_request.state, CaseState::TransferPending);
    assert_eq!(at_request.responsible, Some(id("yingze-project")));
    assert_eq!(at_request.executing_region, region("140106"));
    assert!(at_request.transfer.is_some());
    let at_discharge = fold(&events[..1]);
    assert_eq!(at_discharge.state, CaseState::AwaitingPickup);
}

#[test]
fn events_are_still_written_as_they_were() {
    let events = stored();

    let written = serde_json::to_string(&events).unwrap();

    let pinned: String = STORED.lines().collect();
    assert_eq!(written, pinned);
}
