//! Property tests of the edge: any intake request a client can encode
//! converts to a draft, and validation accepts it or names its fields.

use proptest::prelude::*;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::{nanos, timestamp};
use crate::api::pb;
use crate::domain::intake::{AnnouncementDraft, DischargeDraft};
use crate::domain::person::Sex;

const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
const TODAY: Date = date!(2026 - 11 - 28);

const FIELDS: [&str; 11] = [
    "decision_number",
    "person",
    "person.id_number",
    "person.name",
    "person.sex",
    "person.household_region",
    "person.residence_region",
    "planned_release_date",
    "released_at",
    "term_months",
    "request",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,70}",
        ".{0,20}",
        Just(String::new()),
        "[0-9]{6}",
        "[0-9]{17}[0-9Xx]",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}",
    ]
}

fn person() -> impl Strategy<Value = Option<pb::Person>> {
    let sex = prop_oneof![0i32..=3, any::<i32>()];
    let person = (text(), text(), sex, text(), text(), any::<bool>()).prop_map(
        |(id_number, name, sex, household_region, residence_region, residence_consent)| {
            pb::Person {
                id_number,
                name,
                sex,
                household_region,
                residence_region,
                residence_consent,
            }
        },
    );
    proptest::option::weighted(0.9, person)
}

fn at() -> impl Strategy<Value = Option<prost_types::Timestamp>> {
    let now = NOW.unix_timestamp();
    let seconds = prop_oneof![(now - 3_000_000_000)..(now + 200_000), any::<i64>()];
    let nanos = prop_oneof![0i32..1_000_000_000, any::<i32>()];
    proptest::option::weighted(
        0.9,
        (seconds, nanos).prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
    )
}

fn term() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=40, any::<u32>()]
}

fn fields_are_named(invalid: &crate::domain::validation::Invalid) -> Result<(), TestCaseError> {
    prop_assert!(!invalid.violations.is_empty());
    for violation in &invalid.violations {
        prop_assert!(
            FIELDS.contains(&violation.field.as_str()),
            "{:?}",
            violation.field
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_discharge_request_converts_and_is_accepted_or_refused_by_field(
        request_id in text(),
        decision_number in text(),
        person in person(),
        released_at in at(),
        term_months in term(),
    ) {
        let request = pb::SubmitDischargeRequest {
            request_id,
            decision_number,
            person,
            released_at,
            term_months,
        };
        let draft = DischargeDraft::from(request.clone());
        prop_assert_eq!(&draft.decision_number, &request.decision_number);
        prop_assert_eq!(draft.released_at, request.released_at.as_ref().map(nanos));
        if let (Some(given), Some(person)) = (&request.person, &draft.person) {
            let expected = match pb::Sex::try_from(given.sex) {
                Ok(pb::Sex::Male) => Some(Sex::Male),
                Ok(pb::Sex::Female) => Some(Sex::Female),
                _ => None,
            };
            prop_assert_eq!(person.sex, expected);
        }
        if let Err(invalid) = draft.parse(NOW, TODAY) {
            fields_are_named(&invalid)?;
        }
    }

    #[test]
    fn any_announcement_request_converts_and_is_accepted_or_refused_by_field(
        request_id in text(),
        decision_number in text(),
        person in person(),
        planned_release_date in text(),
        term_months in term(),
    ) {
        let request = pb::AnnounceReleaseRequest {
            request_id,
            decision_number,
            person,
            planned_release_date,
            term_months,
        };
        let draft = AnnouncementDraft::from(request.clone());
        prop_assert_eq!(&draft.planned_release_date, &request.planned_release_date);
        prop_assert_eq!(draft.person.is_some(), request.person.is_some());
        if let Err(invalid) = draft.parse(TODAY) {
            fields_are_named(&invalid)?;
        }
    }

    #[test]
    fn a_time_survives_the_wire(nanoseconds in any::<i64>()) {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanoseconds)).unwrap();
        let wire = timestamp(at);
        prop_assert!((0..1_000_000_000).contains(&wire.nanos));
        prop_assert_eq!(OffsetDateTime::from_unix_timestamp_nanos(nanos(&wire)), Ok(at));
    }
}
