//! The person under supervision.

use serde::{Deserialize, Serialize};
use time::Date;

use super::id_number::IdNumber;
use super::region::RegionCode;
use super::validation::{self, Invalid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    Male,
    Female,
}

/// A released person as the detox center describes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id_number: IdNumber,
    pub name: String,
    pub sex: Sex,
    /// County of household registration (户籍地).
    pub household_region: RegionCode,
    /// County of current residence (居住地), when it differs or is known.
    pub residence_region: Option<RegionCode>,
    /// The person consented to community rehabilitation at the residence.
    pub residence_consent: bool,
}

impl Person {
    /// The county that executes community rehabilitation: the residence
    /// when the person consented and gave one, else the household county.
    pub fn executing_region(&self) -> RegionCode {
        match (self.residence_consent, self.residence_region) {
            (true, Some(residence)) => residence,
            _ => self.household_region,
        }
    }
}

/// A person as received, before validation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PersonDraft {
    pub id_number: String,
    pub name: String,
    pub sex: Option<Sex>,
    pub household_region: String,
    pub residence_region: String,
    pub residence_consent: bool,
}

pub const NAME_MAX_CHARS: usize = 50;

impl PersonDraft {
    /// Validates every field, recording violations under `prefix.field`.
    pub fn parse(&self, prefix: &str, today: Date, invalid: &mut Invalid) -> Option<Person> {
        let field = |name: &str| format!("{prefix}.{name}");
        let id_number = invalid.check(&field("id_number"), IdNumber::parse(&self.id_number, today));
        let name = invalid.check(&field("name"), validation::text(&self.name, NAME_MAX_CHARS));
        let household_region = invalid.check(
            &field("household_region"),
            RegionCode::parse_county(&self.household_region),
        );
        let residence_region = if self.residence_region.is_empty() {
            if self.residence_consent {
                invalid.push(
                    field("residence_region"),
                    "is required when residence_consent is set",
                );
            }
            Some(None)
        } else {
            invalid
                .check(
                    &field("residence_region"),
                    RegionCode::parse_county(&self.residence_region),
                )
                .map(Some)
        };
        let id_number = id_number?;
        let derived = if id_number.is_male() {
            Sex::Male
        } else {
            Sex::Female
        };
        let sex = match self.sex {
            Some(given) if given != derived => {
                invalid.push(field("sex"), "does not match the identity number");
                None
            }
            _ => Some(derived),
        };
        Some(Person {
            id_number,
            name: name?,
            sex: sex?,
            household_region: household_region?,
            residence_region: residence_region?,
            residence_consent: self.residence_consent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn draft() -> PersonDraft {
        PersonDraft {
            id_number: "11010519491231002X".into(),
            name: "张三".into(),
            sex: None,
            household_region: "140106".into(),
            residence_region: "140202".into(),
            residence_consent: false,
        }
    }

    fn parse(draft: &PersonDraft) -> Result<Person, Invalid> {
        let mut invalid = Invalid::default();
        let person = draft.parse("person", date!(2026 - 11 - 28), &mut invalid);
        invalid.finish(|| person)
    }

    #[test]
    fn the_household_county_executes_unless_the_person_consented() {
        let mut person = parse(&draft()).unwrap();
        assert_eq!(person.executing_region().to_string(), "140106");
        person.residence_consent = true;
        assert_eq!(person.executing_region().to_string(), "140202");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = PersonDraft {
            id_number: "110105194912310021".into(),
            name: " ".into(),
            household_region: "140100".into(),
            ..draft()
        };
        let fields: Vec<String> = parse(&bad)
            .unwrap_err()
            .violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["person.id_number", "person.name", "person.household_region"]
        );
    }

    #[test]
    fn sex_must_agree_with_the_identity_number() {
        let bad = PersonDraft {
            sex: Some(Sex::Male),
            ..draft()
        };
        assert_eq!(parse(&bad).unwrap_err().violations[0].field, "person.sex");
        assert_eq!(parse(&draft()).unwrap().sex, Sex::Female);
    }

    #[test]
    fn consent_without_a_residence_is_refused() {
        let bad = PersonDraft {
            residence_region: String::new(),
            residence_consent: true,
            ..draft()
        };
        assert_eq!(
            parse(&bad).unwrap_err().violations[0].field,
            "person.residence_region"
        );
    }
}
