use proptest::prelude::*;
use serde_json::Value;
use time::macros::{date, datetime};

use super::Fields;
use crate::domain::case::{CaseEvent, CaseId, EarlierCase};
use crate::domain::deadline::DeadlineKind;
use crate::domain::event::{ClosureReason, RecordedEvent};
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::testing::{id, person, region};

/// One event of every kind, with optional fields both set and unset.
fn every_kind() -> Vec<CaseEvent> {
    let decision_number = DecisionNumber::parse("晋戒康决字[2026]第7号").unwrap();
    let term = TermMonths::new(36).unwrap();
    vec![
        CaseEvent::ReleaseAnnounced {
            decision_number: decision_number.clone(),
            person: person("140106", None, false),
            planned_release_date: date!(2026 - 12 - 01),
            term,
            executing_region: region("140106"),
            project: Some(id("yingze-project")),
            oversight: Some(id("taiyuan-office")),
            earlier_open_cases: vec![EarlierCase {
                case_id: CaseId::new(uuid::Uuid::max()),
                executing_region: region("140202"),
                project: Some(id("datong-project")),
                oversight: None,
            }],
        },
        CaseEvent::Discharged {
            decision_number: decision_number.clone(),
            person: person("140106", Some("140202"), true),
            released_at: datetime!(2026-11-28 08:00:00.5 UTC),
            term,
            executing_region: region("140202"),
            project: None,
            oversight: Some(id("shanxi-office")),
            late_notice: true,
            earlier_open_cases: vec![EarlierCase {
                case_id: CaseId::new(uuid::Uuid::nil()),
                executing_region: region("140105"),
                project: None,
                oversight: Some(id("shanxi-office")),
            }],
        },
        CaseEvent::PickedUp,
        CaseEvent::Reported,
        CaseEvent::TransferRequested {
            to_region: region("140202"),
            to_project: id("datong-project"),
            reason: "moved for work, \"quoted\"\n".into(),
        },
        CaseEvent::TransferAccepted,
        CaseEvent::TransferRejected {
            reason: "no address".into(),
        },
        CaseEvent::TransferWithdrawn {
            reason: "stays".into(),
        },
        CaseEvent::Arrived,
        CaseEvent::Assigned {
            executing_region: region("140106"),
            project: id("yingze-project"),
            reason: "lives in Yingze".into(),
        },
        CaseEvent::AbsenceNotified {
            host_region: region("140202"),
            host_project: None,
            from: date!(2026 - 12 - 01),
            until: date!(2026 - 12 - 20),
            reason: "family".into(),
        },
        CaseEvent::ContactLost {
            note: "phone off".into(),
        },
        CaseEvent::ContactRestored {
            note: "back".into(),
        },
        CaseEvent::Suspended {
            reason: "detained".into(),
        },
        CaseEvent::Resumed,
        CaseEvent::Closed {
            reason: ClosureReason::MovedOutOfProvince,
            note: String::new(),
        },
        CaseEvent::DeadlineMissed {
            kind: DeadlineKind::TransferReply,
            anchor: 4,
            due_at: datetime!(2026-11-29 08:00 UTC),
        },
    ]
}

fn decode(json: &str) -> Result<CaseEvent, serde_json::Error> {
    serde_json::from_str(json)
}

/// The event's keys and values (in no particular order).
fn written(event: &CaseEvent) -> Vec<(String, Value)> {
    match serde_json::to_value(event).unwrap() {
        Value::Object(object) => object.into_iter().collect(),
        other => panic!("an event is written as an object, not {other}"),
    }
}

/// A JSON object of `entries`, in their order.
fn object(entries: &[&(String, Value)]) -> String {
    let entries: Vec<_> = entries
        .iter()
        .map(|(key, value)| format!("{}:{value}", Value::String(key.clone())))
        .collect();
    format!("{{{}}}", entries.join(","))
}

#[test]
fn every_kind_is_listed_once_under_its_name() {
    let events = every_kind();
    let mut names: Vec<_> = events.iter().map(CaseEvent::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), events.len(), "one event of each kind");
    for event in &events {
        let listed = Fields::serialize(event, serde_json::value::Serializer).unwrap();
        let Value::Object(listed) = listed else {
            assert_eq!(
                listed,
                Value::String(event.name().into()),
                "a kind without fields"
            );
            continue;
        };
        assert_eq!(listed.keys().collect::<Vec<_>>(), [event.name()]);
    }
}

#[test]
fn an_event_reads_back_as_written_with_its_tag_first() {
    for event in every_kind() {
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.starts_with(r#"{"type":"#), "{json}");
        assert_eq!(decode(&json).unwrap(), event, "{json}");
    }
}

#[test]
fn a_recorded_event_reads_back_as_written() {
    for (sequence, event) in (1..).zip(every_kind()) {
        let recorded = RecordedEvent {
            sequence,
            at: datetime!(2026-11-28 09:00:00.123 UTC),
            by: id("yingze-project"),
            event,
        };
        let json = serde_json::to_vec(&recorded).unwrap();
        assert_eq!(
            serde_json::from_slice::<RecordedEvent>(&json).unwrap(),
            recorded
        );
    }
}

#[test]
fn an_event_with_its_tag_elsewhere_still_reads() {
    for event in every_kind() {
        let entries = written(&event);
        let (tag, fields): (Vec<_>, Vec<_>) = entries.iter().partition(|(key, _)| key == "type");
        let json = object(&[fields, tag].concat());
        assert!(
            json.ends_with(&format!(r#""type":"{}"}}"#, event.name())),
            "{json}"
        );
        assert_eq!(decode(&json).unwrap(), event, "{json}");
    }
}

#[test]
fn keys_no_kind_holds_are_ignored_wherever_they_are() {
    let read = decode(r#"{"type":"picked-up","later":{"a":[1,2]}}"#).unwrap();
    assert_eq!(read, CaseEvent::PickedUp);
    let read = decode(r#"{"earlier":[],"type":"resumed"}"#).unwrap();
    assert_eq!(read, CaseEvent::Resumed);
    let read = decode(r#"{"earlier":null,"type":"contact-lost","note":"x","later":1}"#).unwrap();
    assert_eq!(read, CaseEvent::ContactLost { note: "x".into() });
}

#[test]
fn an_event_that_is_not_one_is_refused_with_the_reason() {
    for (json, reason) in [
        (r#"{}"#, "missing field `type`"),
        (r#"{"note":"x"}"#, "missing field `type`"),
        (r#"{"type":"escaped"}"#, "unknown variant `escaped`"),
        (
            r#"{"note":"x","type":"escaped"}"#,
            "unknown variant `escaped`",
        ),
        (
            r#"{"type":7}"#,
            "invalid type: integer `7`, expected the name of a kind of event",
        ),
        (
            r#"{"note":"x","type":7}"#,
            "invalid type: integer `7`, expected a string",
        ),
        (r#"{"type":"contact-lost"}"#, "missing field `note`"),
        (
            r#"{"type":"closed","reason":"bored","note":""}"#,
            "unknown variant `bored`",
        ),
        (r#"["picked-up"]"#, "invalid type: sequence"),
        (r#""picked-up""#, "invalid type: string"),
    ] {
        let error = decode(json).unwrap_err().to_string();
        assert!(error.contains(reason), "{json}: {error}");
    }
}

proptest! {
    /// Whatever order the keys come in, an event reads as the one written.
    #[test]
    fn any_order_of_keys_reads_the_same_event(
        (kind, order) in (0..every_kind().len()).prop_flat_map(|kind| {
            let keys = written(&every_kind()[kind]).len();
            (Just(kind), Just((0..keys).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let event = every_kind().swap_remove(kind);
        let entries = written(&event);
        let json = object(&order.iter().map(|&i| &entries[i]).collect::<Vec<_>>());
        prop_assert_eq!(decode(&json).unwrap(), event, "{}", json);
    }
}

#[test]
fn every_closure_reason_reads_back_as_written() {
    for reason in ClosureReason::ALL {
        let event = CaseEvent::Closed {
            reason,
            note: "why".into(),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(reason.as_str()), "{json}");
        assert_eq!(decode(&json).unwrap(), event, "{json}");
    }
}
