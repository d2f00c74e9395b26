//! Histories as stored, pinned: both backends keep a case as its sealed
//! events (JSON, see `seal.rs`) and rebuild the case, and every inbox
//! message, by folding them (`Case::from_history`, see `messages.rs`). A
//! change to the events' JSON, to how a case folds them or to how they are
//! sealed must still read what earlier versions wrote; these histories and
//! the sealed body were written by the versions of 2026-11-29.

use time::macros::datetime;

use crate::domain::case::{Anchor, Case, CaseId, CaseState, RecordedEvent};
use crate::domain::deadline::DeadlineKind;
use crate::domain::event::ClosureReason;
use crate::domain::region::RegionCode;
use crate::domain::testing::id;
use crate::gateway::MasterKey;
use crate::storage::Sealer;
use crate::storage::seal::event_address;

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

/// An announced release, a missed pickup, a transfer rejected and one
/// withdrawn, an absence, lost and restored contact, a suspension, and the
/// closure: every other kind of event.
const EVERY_KIND: &str = r#"[
{"sequence":1,"at":"2026-11-20T09:00:00.123Z","by":"taiyuan-detox","event":{"type":"release-announced","decision_number":"D-2","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":"140106","residence_consent":true},"planned_release_date":[2026,332],"term":36,"executing_region":"140106","project":"yingze-project"}},
{"sequence":2,"at":"2026-11-20T16:00:00.123Z","by":"taiyuan-detox","event":{"type":"discharged","decision_number":"D-2","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":"140106","residence_consent":true},"released_at":"2026-11-28T08:00:00.5Z","term":36,"executing_region":"140106","project":"yingze-project","oversight":null,"late_notice":false}},
{"sequence":3,"at":"2026-11-20T23:00:00.123Z","by":"handover-gateway","event":{"type":"deadline-missed","kind":"pickup","anchor":2,"due_at":"2026-11-29T08:00:00.5Z"}},
{"sequence":4,"at":"2026-11-21T06:00:00.123Z","by":"yingze-project","event":{"type":"picked-up"}},
{"sequence":5,"at":"2026-11-21T13:00:00.123Z","by":"yingze-project","event":{"type":"reported"}},
{"sequence":6,"at":"2026-11-21T20:00:00.123Z","by":"yingze-project","event":{"type":"transfer-requested","to_region":"140202","to_project":"datong-project","reason":"work"}},
{"sequence":7,"at":"2026-11-22T03:00:00.123Z","by":"datong-project","event":{"type":"transfer-rejected","reason":"no address"}},
{"sequence":8,"at":"2026-11-22T10:00:00.123Z","by":"yingze-project","event":{"type":"transfer-requested","to_region":"140202","to_project":"datong-project","reason":"work"}},
{"sequence":9,"at":"2026-11-22T17:00:00.123Z","by":"yingze-project","event":{"type":"transfer-withdrawn","reason":"stays"}},
{"sequence":10,"at":"2026-11-23T00:00:00.123Z","by":"yingze-project","event":{"type":"absence-notified","host_region":"140202","host_project":"datong-project","from":[2026,335],"until":[2026,354],"reason":"family"}},
{"sequence":11,"at":"2026-11-23T07:00:00.123Z","by":"yingze-project","event":{"type":"contact-lost","note":"phone off"}},
{"sequence":12,"at":"2026-11-23T14:00:00.123Z","by":"yingze-project","event":{"type":"contact-restored","note":"back"}},
{"sequence":13,"at":"2026-11-23T21:00:00.123Z","by":"yingze-project","event":{"type":"suspended","reason":"detained"}},
{"sequence":14,"at":"2026-11-24T04:00:00.123Z","by":"yingze-project","event":{"type":"resumed"}},
{"sequence":15,"at":"2026-11-24T11:00:00.123Z","by":"yingze-project","event":{"type":"closed","reason":"redetained","note":"sent back"}}
]"#;

/// A discharge to a county with no project (140108), held by the
/// province's office, then assigned to Yingze's project.
const ASSIGNED: &str = r#"[
{"sequence":1,"at":"2026-12-01T09:00:00Z","by":"taiyuan-detox","event":{"type":"discharged","decision_number":"D-3","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140108","residence_region":null,"residence_consent":false},"released_at":"2026-12-01T08:00:00Z","term":24,"executing_region":"140108","project":null,"oversight":"shanxi-office","late_notice":false}},
{"sequence":2,"at":"2026-12-01T10:00:00Z","by":"shanxi-office","event":{"type":"assigned","executing_region":"140106","project":"yingze-project","reason":"lives with family in Yingze"}}
]"#;

/// A discharge to Yingze of a person whose case in Datong was still open,
/// as the version of 2026-12-01 wrote it.
const RELAPSE: &str = r#"[
{"sequence":1,"at":"2026-12-01T09:00:00Z","by":"taiyuan-detox","event":{"type":"discharged","decision_number":"D-4","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":null,"residence_consent":false},"released_at":"2026-12-01T08:00:00Z","term":36,"executing_region":"140106","project":"yingze-project","oversight":null,"late_notice":true,"earlier_open_cases":[{"case_id":"0193f3a0-0000-7000-8000-000000000001","executing_region":"140202","project":"datong-project"}]}}
]"#;

/// A release announced to Yingze, announced again for Xiaodian a week
/// later, and withdrawn: as the version of 2026-12-02 wrote it.
const WITHDRAWN: &str = r#"[
{"sequence":1,"at":"2026-12-01T09:00:00Z","by":"taiyuan-detox","event":{"type":"release-announced","decision_number":"D-5","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":null,"residence_consent":false},"planned_release_date":[2026,342],"term":12,"executing_region":"140106","project":"yingze-project"}},
{"sequence":2,"at":"2026-12-02T09:00:00Z","by":"taiyuan-detox","event":{"type":"release-announced","decision_number":"D-5","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":"140105","residence_consent":true},"planned_release_date":[2026,349],"term":12,"executing_region":"140105","project":"xiaodian-project"}},
{"sequence":3,"at":"2026-12-03T09:00:00Z","by":"taiyuan-detox","event":{"type":"closed","reason":"release-withdrawn","note":"order extended"}}
]"#;

/// A release announced for 2026-12-08 whose discharge deadline passed,
/// then discharged late: as the version of 2026-12-02 (the second) wrote it.
const OVERDUE: &str = r#"[
{"sequence":1,"at":"2026-12-01T09:00:00Z","by":"taiyuan-detox","event":{"type":"release-announced","decision_number":"D-6","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":null,"residence_consent":false},"planned_release_date":[2026,342],"term":12,"executing_region":"140106","project":"yingze-project"}},
{"sequence":2,"at":"2026-12-09T16:00:05Z","by":"handover-gateway","event":{"type":"deadline-missed","kind":"discharge","anchor":1,"due_at":"2026-12-09T16:00:00Z"}},
{"sequence":3,"at":"2026-12-10T02:00:00Z","by":"taiyuan-detox","event":{"type":"discharged","decision_number":"D-6","person":{"id_number":"11010519491231002X","name":"张三","sex":"female","household_region":"140106","residence_region":null,"residence_consent":false},"released_at":"2026-12-10T01:00:00Z","term":12,"executing_region":"140106","project":"yingze-project","oversight":null,"late_notice":false}}
]"#;

/// The first event of [`STORED`], sealed for its address (case id nil) with
/// the data key of the master key `[7; 32]`.
const SEALED: &str = "0113a1e88dfb84ec4fe7bfe9105f0cea1069d12e26331bde974c6008928d2a19abbd6a02af25167f0f23cdd7d8034766e5de56252d6dbff210cb940af2a2d5f3288f1932ddd369ca822f48922ddad77400ab2c87dc3fe49d633690c05093823bdbd5de53fec1a7edb06067350376602446ba4c2974b4a2acfd9fb23fc9a9272abbf570c7569b9bc92178d926309d9a4fbce39afbf77ecb0732884b51d3fb80517544e04f8a5df2a1ea4debbc22a096d892f7e04106495ab200c97f8f58d6c66031aeb10c034e3a6f68de11f3daa06043b7785d731672e5f66be27202cb70cb70a14793918bca5deadfe5e81e635384d28fc6b24f798b40f7296b351510be054ed59baadaf7d47922e1c85ecdbdc7666a2dbc5835f3a7609c508023b32d981516bd6b29e34578aecc4cb7e14ce12b80042fc16b3ad8952af7e888456065c06da8bb249ac4e96c599af92a352d22fe35920967814f72de54efac4b93587b5b8c84e5064956ec65a36859872d1766fb1d3189d3a547f542820078ade1530b1e7d7b2d744eb8415ba7668f986510389d749a271ee0f2d77662f4fdd6bb70eef760d0a7d7a29f3b2a1fe46f44901b3b9f675227040515b6a63ece";

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
    for pinned in [STORED, EVERY_KIND, ASSIGNED, RELAPSE, WITHDRAWN, OVERDUE] {
        let events: Vec<RecordedEvent> = serde_json::from_str(pinned).unwrap();

        let written = serde_json::to_string(&events).unwrap();

        let pinned: String = pinned.lines().collect();
        assert_eq!(written, pinned);
    }
}

#[test]
fn every_kind_of_stored_event_still_folds() {
    let events: Vec<RecordedEvent> = serde_json::from_str(EVERY_KIND).unwrap();

    let case = fold(&events);

    assert_eq!(case.version(), 15);
    assert_eq!(case.state, CaseState::Closed);
    assert_eq!(case.closure, Some(ClosureReason::Redetained));
    assert_eq!(case.escalated, [(DeadlineKind::Pickup, 2)]);
    assert_eq!(case.responsible, Some(id("yingze-project")));
    let lost = fold(&events[..11]);
    assert_eq!(lost.state, CaseState::LostContact);
    let suspended = fold(&events[..13]);
    assert_eq!(suspended.state, CaseState::Suspended);
}

/// The seal's format (version byte, nonce, associated data) and the data
/// key's derivation from the master key: a change to either would leave
/// every stored body unreadable.
#[test]
fn a_stored_seal_still_opens_with_its_master_key() {
    let sealed: Vec<u8> = (0..SEALED.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SEALED[i..i + 2], 16).unwrap())
        .collect();
    let sealer = Sealer::new(MasterKey::from_bytes([7; 32]).data_key());
    let address = event_address(&CaseId::new(uuid::Uuid::nil()), 1);

    let opened = sealer.open(&address, &sealed).unwrap();

    let event: RecordedEvent = serde_json::from_slice(&opened).unwrap();
    assert_eq!(event, stored()[0]);
    let elsewhere = event_address(&CaseId::new(uuid::Uuid::nil()), 2);
    assert!(sealer.open(&elsewhere, &sealed).is_err());
}

#[test]
fn a_stored_assignment_still_folds_into_a_case_its_project_supervises() {
    let events: Vec<RecordedEvent> = serde_json::from_str(ASSIGNED).unwrap();

    let unroutable = fold(&events[..1]);
    let assigned = fold(&events);

    assert!(unroutable.is_unroutable());
    assert_eq!(unroutable.oversight, Some(id("shanxi-office")));
    assert!(!assigned.is_unroutable());
    assert_eq!(assigned.state, CaseState::AwaitingPickup);
    assert_eq!(assigned.executing_region, region("140106"));
    assert_eq!(assigned.responsible, Some(id("yingze-project")));
    assert_eq!(assigned.counties, [region("140108"), region("140106")]);
}

#[test]
fn a_stored_discharge_with_an_earlier_open_case_folds_into_one_responsible_project() {
    let events: Vec<RecordedEvent> = serde_json::from_str(RELAPSE).unwrap();

    let case = fold(&events);

    assert_eq!(case.responsible, Some(id("yingze-project")));
    assert_eq!(case.responsible_history, [id("yingze-project")]);
    assert_eq!(
        case.projects_told,
        [id("yingze-project"), id("datong-project")]
    );
    assert_eq!(case.counties, [region("140106"), region("140202")]);
}

#[test]
fn a_stored_revised_and_withdrawn_announcement_folds_into_a_closed_case() {
    let events: Vec<RecordedEvent> = serde_json::from_str(WITHDRAWN).unwrap();

    let revised = fold(&events[..2]);
    let withdrawn = fold(&events);

    assert_eq!(revised.state, CaseState::Announced);
    assert_eq!(revised.executing_region, region("140105"));
    assert_eq!(revised.announced_to, Some(id("xiaodian-project")));
    assert_eq!(
        revised.planned_release_date,
        Some(time::macros::date!(2026 - 12 - 15))
    );
    assert_eq!(withdrawn.state, CaseState::Closed);
    assert_eq!(withdrawn.closure, Some(ClosureReason::ReleaseWithdrawn));
    assert_eq!(withdrawn.responsible, None);
    assert_eq!(
        withdrawn.projects_told,
        [id("yingze-project"), id("xiaodian-project")]
    );
}

#[test]
fn a_stored_missed_discharge_still_folds_and_the_late_discharge_meets_it() {
    let events: Vec<RecordedEvent> = serde_json::from_str(OVERDUE).unwrap();
    let policy = crate::domain::deadline::DeadlinePolicy::default();

    let overdue = fold(&events[..2]);
    let discharged = fold(&events);

    assert_eq!(overdue.state, CaseState::Announced);
    assert_eq!(overdue.escalated, [(DeadlineKind::Discharge, 1)]);
    let owed = overdue.deadlines(&policy);
    assert_eq!(owed.len(), 1);
    assert!(owed[0].escalated && owed[0].kind == DeadlineKind::Discharge);
    assert_eq!(owed[0].due_at, datetime!(2026-12-09 16:00 UTC));
    assert_eq!(discharged.state, CaseState::AwaitingPickup);
    assert!((discharged.deadlines(&policy).iter()).all(|d| d.kind != DeadlineKind::Discharge));
}
