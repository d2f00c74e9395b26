//! What a detox center submits: the pre-release notice and the discharge.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, format_description::well_known::Iso8601};

use super::person::{Person, PersonDraft};
use super::validation::{self, Invalid};

/// The number of the community-rehabilitation decision document
/// (社区康复决定书). One decision opens at most one case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DecisionNumber(String);

pub const DECISION_NUMBER_MAX_CHARS: usize = 64;

impl DecisionNumber {
    /// # Errors
    /// A description of what is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        validation::text(text, DECISION_NUMBER_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Length of community rehabilitation in months: at most three years.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermMonths(u8);

impl TermMonths {
    /// # Errors
    /// When the term is outside 1..=36.
    pub fn new(months: u32) -> Result<Self, String> {
        match u8::try_from(months) {
            Ok(months @ 1..=36) => Ok(Self(months)),
            _ => Err("must be 1 to 36 months".into()),
        }
    }

    pub fn months(self) -> u32 {
        u32::from(self.0)
    }
}

/// The pre-release notice, at least three days before release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseAnnouncement {
    pub decision_number: DecisionNumber,
    pub person: Person,
    pub planned_release_date: Date,
    pub term: TermMonths,
}

/// The discharge notice: the person has left (or leaves today) the center.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discharge {
    pub decision_number: DecisionNumber,
    pub person: Person,
    #[serde(with = "time::serde::rfc3339")]
    pub released_at: OffsetDateTime,
    pub term: TermMonths,
}

/// A pre-release notice as received.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AnnouncementDraft {
    pub decision_number: String,
    pub person: Option<PersonDraft>,
    pub planned_release_date: String,
    pub term_months: u32,
}

/// A discharge as received; `released_at` in Unix nanoseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DischargeDraft {
    pub decision_number: String,
    pub person: Option<PersonDraft>,
    pub released_at: Option<i128>,
    pub term_months: u32,
}

/// How far ahead a release may be announced, and how far in the future a
/// discharge may say the person leaves (a center may file it in the morning).
const ANNOUNCE_HORIZON: Duration = Duration::days(366);
const DISCHARGE_AHEAD: Duration = Duration::days(1);

fn person(draft: Option<&PersonDraft>, today: Date, invalid: &mut Invalid) -> Option<Person> {
    match draft {
        Some(person) => person.parse("person", today, invalid),
        None => {
            invalid.push("person", "is required");
            None
        }
    }
}

impl AnnouncementDraft {
    /// # Errors
    /// [`Invalid`] naming every wrong field.
    pub fn parse(&self, today: Date) -> Result<ReleaseAnnouncement, Invalid> {
        let mut invalid = Invalid::default();
        let decision_number = invalid.check(
            "decision_number",
            DecisionNumber::parse(&self.decision_number),
        );
        let person = person(self.person.as_ref(), today, &mut invalid);
        let planned_release_date = match Date::parse(&self.planned_release_date, &Iso8601::DATE) {
            Ok(date) if date < today => {
                invalid.push("planned_release_date", "is in the past");
                None
            }
            Ok(date) if date > today + ANNOUNCE_HORIZON => {
                invalid.push("planned_release_date", "is more than a year ahead");
                None
            }
            Ok(date) => Some(date),
            Err(_) => {
                invalid.push("planned_release_date", "must be a date written YYYY-MM-DD");
                None
            }
        };
        let term = invalid.check("term_months", TermMonths::new(self.term_months));
        invalid.finish(|| {
            Some(ReleaseAnnouncement {
                decision_number: decision_number?,
                person: person?,
                planned_release_date: planned_release_date?,
                term: term?,
            })
        })
    }
}

impl DischargeDraft {
    /// # Errors
    /// [`Invalid`] naming every wrong field.
    pub fn parse(&self, now: OffsetDateTime, today: Date) -> Result<Discharge, Invalid> {
        let mut invalid = Invalid::default();
        let decision_number = invalid.check(
            "decision_number",
            DecisionNumber::parse(&self.decision_number),
        );
        let person = person(self.person.as_ref(), today, &mut invalid);
        let released_at = match self
            .released_at
            .map(OffsetDateTime::from_unix_timestamp_nanos)
        {
            None => {
                invalid.push("released_at", "is required");
                None
            }
            Some(Err(_)) => {
                invalid.push("released_at", "is out of range");
                None
            }
            Some(Ok(at)) if at > now + DISCHARGE_AHEAD => {
                invalid.push("released_at", "is more than a day in the future");
                None
            }
            Some(Ok(at)) => Some(at),
        };
        if let (Some(person), Some(at)) = (&person, released_at)
            && at.date() < person.id_number.birth_date()
        {
            invalid.push("released_at", "is before the person's birth");
        }
        let term = invalid.check("term_months", TermMonths::new(self.term_months));
        invalid.finish(|| {
            Some(Discharge {
                decision_number: decision_number?,
                person: person?,
                released_at: released_at?,
                term: term?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
    const TODAY: Date = date!(2026 - 11 - 28);

    fn person() -> PersonDraft {
        PersonDraft {
            id_number: "11010519491231002X".into(),
            name: "张三".into(),
            household_region: "140106".into(),
            ..PersonDraft::default()
        }
    }

    fn discharge() -> DischargeDraft {
        DischargeDraft {
            decision_number: "并公(禁)社康决字[2026]第0001号".into(),
            person: Some(person()),
            released_at: Some(NOW.unix_timestamp_nanos()),
            term_months: 36,
        }
    }

    fn fields(error: Invalid) -> Vec<String> {
        error.violations.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_complete_discharge_is_accepted() {
        let parsed = discharge().parse(NOW, TODAY).unwrap();
        assert_eq!(parsed.term.months(), 36);
        assert_eq!(parsed.released_at, NOW);
    }

    #[test]
    fn a_missing_person_and_bad_term_are_both_named() {
        let bad = DischargeDraft {
            person: None,
            term_months: 37,
            ..discharge()
        };
        assert_eq!(
            fields(bad.parse(NOW, TODAY).unwrap_err()),
            ["person", "term_months"]
        );
    }

    #[test]
    fn a_release_far_in_the_future_is_refused() {
        let later = (NOW + Duration::days(2)).unix_timestamp_nanos();
        let bad = DischargeDraft {
            released_at: Some(later),
            ..discharge()
        };
        assert_eq!(fields(bad.parse(NOW, TODAY).unwrap_err()), ["released_at"]);
        let none = DischargeDraft {
            released_at: None,
            ..discharge()
        };
        assert_eq!(fields(none.parse(NOW, TODAY).unwrap_err()), ["released_at"]);
    }

    #[test]
    fn announcement_dates_must_be_ahead_and_well_formed() {
        let draft = |date: &str| AnnouncementDraft {
            decision_number: "D-1".into(),
            person: Some(person()),
            planned_release_date: date.into(),
            term_months: 12,
        };
        assert!(draft("2026-12-05").parse(TODAY).is_ok());
        for bad in ["2026-11-27", "2026-13-01", "05.12.2026", "", "2028-01-01"] {
            let error = draft(bad).parse(TODAY).unwrap_err();
            assert_eq!(fields(error), ["planned_release_date"], "{bad}");
        }
    }

    #[test]
    fn term_is_one_to_thirty_six_months() {
        assert!(TermMonths::new(0).is_err());
        assert!(TermMonths::new(1).is_ok());
        assert!(TermMonths::new(36).is_ok());
        assert!(TermMonths::new(u32::MAX).is_err());
    }
}

#[cfg(test)]
mod proptests;
