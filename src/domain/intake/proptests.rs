//! Property tests of intake validation: any draft, however wrong, is
//! accepted or refused field by field, never a panic.

use proptest::prelude::*;
use time::macros::{date, datetime};

use super::*;
use crate::domain::id_number::with_check_character;
use crate::domain::person::Sex;

const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
const TODAY: Date = date!(2026 - 11 - 28);

/// Every field a refusal of an announcement or discharge may name.
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

/// Text a client might send: anything, or something close to valid.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "\\PC{0,80}",
        Just(String::new()),
        "[ \t\n]{0,4}[0-9A-Za-z-]{1,12}[ \t\n]{0,4}",
        "[0-9]{6}",
    ]
}

/// An identity number: valid, nearly valid or arbitrary.
fn id_number() -> impl Strategy<Value = String> {
    let valid = (1900u32..2030, 1u32..=13, 0u32..=31, 0u32..1000).prop_map(|(y, m, d, seq)| {
        with_check_character(&format!("140106{y:04}{m:02}{d:02}{seq:03}")).unwrap_or_default()
    });
    prop_oneof![valid, "[0-9]{17}[0-9Xx]", text()]
}

fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("140106".to_owned()),
        Just("140100".to_owned()),
        "[0-9]{6}",
        text()
    ]
}

fn person() -> impl Strategy<Value = Option<PersonDraft>> {
    let sex = prop_oneof![Just(None), Just(Some(Sex::Male)), Just(Some(Sex::Female))];
    let draft = (id_number(), text(), sex, region(), region(), any::<bool>()).prop_map(
        |(id_number, name, sex, household_region, residence_region, residence_consent)| {
            PersonDraft {
                id_number,
                name,
                sex,
                household_region,
                residence_region,
                residence_consent,
            }
        },
    );
    prop_oneof![1 => Just(None), 9 => draft.prop_map(Some)]
}

fn term() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=40, any::<u32>()]
}

/// Unix nanoseconds: around now, anywhere, or at the ends of the range.
fn released_at() -> impl Strategy<Value = Option<i128>> {
    let now = NOW.unix_timestamp_nanos();
    let year = 365 * 86_400 * 1_000_000_000_i128;
    prop_oneof![
        Just(None),
        ((now - 80 * year)..(now + 2 * year)).prop_map(Some),
        any::<i128>().prop_map(Some),
        Just(Some(i128::MIN)),
        Just(Some(i128::MAX)),
    ]
}

fn release_date() -> impl Strategy<Value = String> {
    prop_oneof![
        (2020i32..2030, 0u8..=13, 0u8..=32).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        "[0-9+-]{0,14}",
        text(),
    ]
}

fn assert_named(invalid: &Invalid) -> Result<(), TestCaseError> {
    prop_assert!(!invalid.violations.is_empty());
    for violation in &invalid.violations {
        prop_assert!(
            FIELDS.contains(&violation.field.as_str()),
            "unknown field {:?}",
            violation.field
        );
        prop_assert!(!violation.description.is_empty());
    }
    Ok(())
}

proptest! {
    #[test]
    fn a_decision_number_is_trimmed_bounded_text(text in text()) {
        match DecisionNumber::parse(&text) {
            Ok(number) => {
                prop_assert_eq!(number.as_str(), text.trim());
                prop_assert!(!number.as_str().is_empty());
                prop_assert!(number.as_str().chars().count() <= DECISION_NUMBER_MAX_CHARS);
                prop_assert!(!number.as_str().chars().any(char::is_control));
            }
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn a_term_is_one_to_thirty_six_months(months in term()) {
        let term = TermMonths::new(months);
        prop_assert_eq!(term.is_ok(), (1..=36).contains(&months));
        if let Ok(term) = term {
            prop_assert_eq!(term.months(), months);
        }
    }

    #[test]
    fn any_discharge_is_accepted_or_refused_by_field(
        decision_number in text(),
        person in person(),
        released_at in released_at(),
        term_months in term(),
    ) {
        let draft = DischargeDraft {
            decision_number,
            person,
            released_at,
            term_months,
        };
        match draft.parse(NOW, TODAY) {
            Ok(discharge) => {
                prop_assert!(discharge.released_at <= NOW + DISCHARGE_AHEAD);
                let birth = discharge.person.id_number.birth_date();
                prop_assert!(discharge.released_at.date() >= birth);
                prop_assert_eq!(discharge.term.months(), term_months);
            }
            Err(invalid) => assert_named(&invalid)?,
        }
    }

    #[test]
    fn any_announcement_is_accepted_or_refused_by_field(
        decision_number in text(),
        person in person(),
        planned_release_date in release_date(),
        term_months in term(),
    ) {
        let draft = AnnouncementDraft {
            decision_number,
            person,
            planned_release_date,
            term_months,
        };
        match draft.parse(TODAY) {
            Ok(announcement) => {
                prop_assert!(announcement.planned_release_date >= TODAY);
                prop_assert!(announcement.planned_release_date <= TODAY + ANNOUNCE_HORIZON);
            }
            Err(invalid) => assert_named(&invalid)?,
        }
    }

    #[test]
    fn a_well_formed_discharge_is_always_accepted(
        year in 1930i32..2008, month in 1u8..=12, day in 1u8..=28, seq in 0u32..1000,
        hours_ago in 0i64..24 * 365, term_months in 1u32..=36,
    ) {
        let first17 = format!("140106{year:04}{month:02}{day:02}{seq:03}");
        let draft = DischargeDraft {
            decision_number: format!("D-{seq}"),
            person: Some(PersonDraft {
                id_number: with_check_character(&first17).unwrap(),
                name: "张三".into(),
                household_region: "140106".into(),
                ..PersonDraft::default()
            }),
            released_at: Some((NOW - Duration::hours(hours_ago)).unix_timestamp_nanos()),
            term_months,
        };
        prop_assert!(draft.parse(NOW, TODAY).is_ok());
    }
}
