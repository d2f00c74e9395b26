//! The 18-character resident identity number (GB 11643).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// A resident identity number whose check character and birth date are valid.
///
/// `Debug` and `Display` show only a masked form, so the number cannot reach
/// a log by accident; [`IdNumber::expose`] gives the whole number to code that
/// needs it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an identity number is 17 digits and a check character (digit or X)")]
    Format,
    #[error("the embedded birth date is not a real date")]
    BirthDate,
    #[error("the embedded birth date is in the future")]
    FutureBirthDate,
    #[error("the check character does not match (GB 11643 MOD 11-2)")]
    CheckCharacter,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits (ISO 7064 MOD 11-2).
fn check_character(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses a number, accepting a lowercase `x`, and checks it against
    /// `today` so a birth date in the future is refused.
    ///
    /// # Errors
    /// [`IdNumberError`] naming what is wrong.
    pub fn parse(text: &str, today: Date) -> Result<Self, IdNumberError> {
        let upper = text.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        let well_formed = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if !well_formed {
            return Err(IdNumberError::Format);
        }
        let birth = birth_date(&upper).ok_or(IdNumberError::BirthDate)?;
        if birth > today {
            return Err(IdNumberError::FutureBirthDate);
        }
        if check_character(&bytes[..17]) != bytes[17] {
            return Err(IdNumberError::CheckCharacter);
        }
        Ok(Self(upper))
    }

    /// The full number, for storage and for agencies entitled to it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> Date {
        birth_date(&self.0).unwrap_or(Date::MIN)
    }

    /// The 17th digit is odd for men and even for women.
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    /// The form shown in displays and logs: region prefix and last four kept.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

fn birth_date(number: &str) -> Option<Date> {
    let year: i32 = number.get(6..10)?.parse().ok()?;
    let month: u8 = number.get(10..12)?.parse().ok()?;
    let day: u8 = number.get(12..14)?.parse().ok()?;
    if year < 1900 {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Numbers read back from storage were valid when stored; the date check
/// against today cannot fail for them, so `Date::MAX` stands in for it.
impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value, Date::MAX)
    }
}

impl From<IdNumber> for String {
    fn from(value: IdNumber) -> Self {
        value.0
    }
}

/// Completes 17 digits with their check character; used by tests and the
/// benchmark to make valid numbers.
pub fn with_check_character(first17: &str) -> Option<String> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!("{first17}{}", check_character(bytes) as char))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    #[test]
    fn the_published_vectors_are_valid() {
        for number in ["11010519491231002X", "110101202311012176"] {
            assert!(IdNumber::parse(number, TODAY).is_ok(), "{number}");
        }
        let lower = IdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(lower.expose(), "11010519491231002X");
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        assert_eq!(
            IdNumber::parse("110105194912310021", TODAY),
            Err(IdNumberError::CheckCharacter)
        );
    }

    #[test]
    fn impossible_and_future_birth_dates_are_refused() {
        let feb30 = with_check_character("14010619900230123").unwrap();
        assert_eq!(
            IdNumber::parse(&feb30, TODAY),
            Err(IdNumberError::BirthDate)
        );
        let future = with_check_character("14010620300101123").unwrap();
        assert_eq!(
            IdNumber::parse(&future, TODAY),
            Err(IdNumberError::FutureBirthDate)
        );
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in [
            "",
            "1101051949123100",
            "11010519491231002XX",
            "X10105194912310021",
            "1101051949123100.X",
        ] {
            assert_eq!(
                IdNumber::parse(bad, TODAY),
                Err(IdNumberError::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_and_debug_never_show_the_whole_number() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.to_string(), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert!(!id.is_male());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = IdNumber::parse(&text, TODAY);
        }

        #[test]
        fn exactly_one_check_character_fits(
            year in 1900i32..2026, month in 1u8..=12, day in 1u8..=28, seq in 0u32..1000
        ) {
            let first17 = format!("140106{year:04}{month:02}{day:02}{seq:03}");
            let valid = with_check_character(&first17).unwrap();
            prop_assert!(IdNumber::parse(&valid, TODAY).is_ok());
            for other in CHECK_CHARS.iter().filter(|c| **c != valid.as_bytes()[17]) {
                let wrong = format!("{first17}{}", *other as char);
                prop_assert_eq!(IdNumber::parse(&wrong, TODAY), Err(IdNumberError::CheckCharacter));
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    proptest! {
        #[test]
        fn a_near_miss_is_refused_or_kept_uppercase_and_masked(
            text in prop_oneof![
                "[0-9]{17}[0-9Xx]",
                "[0-9Xx]{16,19}",
                "[0-9]{6}(19|20)[0-9]{6}[0-9]{3}[0-9Xx]",
            ]
        ) {
            if let Ok(id) = IdNumber::parse(&text, TODAY) {
                prop_assert_eq!(id.expose(), text.to_ascii_uppercase());
                prop_assert!(id.birth_date() <= TODAY);
                prop_assert!(!id.masked().contains(&id.expose()[6..14]));
                prop_assert_eq!(IdNumber::try_from(id.expose().to_owned()), Ok(id.clone()));
            }
        }

        #[test]
        fn a_number_is_refused_for_a_day_before_its_birth(
            year in 1900i32..2100, month in 1u8..=12, day in 1u8..=28, seq in 0u32..1000
        ) {
            let first17 = format!("140106{year:04}{month:02}{day:02}{seq:03}");
            let number = with_check_character(&first17).unwrap();
            let month = Month::try_from(month).unwrap();
            let birth = Date::from_calendar_date(year, month, day).unwrap();
            prop_assert!(IdNumber::parse(&number, birth).is_ok());
            prop_assert_eq!(
                IdNumber::parse(&number, birth.previous_day().unwrap()),
                Err(IdNumberError::FutureBirthDate)
            );
        }
    }
}
