//! Administrative region codes (GB/T 2260) and the jurisdiction they cover.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A six-digit GB/T 2260 region code: `140000` a province, `140100` a city,
/// `140106` a county or district.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u32);

/// The level of government a region code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("a region code is six digits, e.g. 140106")]
    Format,
    #[error("{0:02} is not a province prefix of GB/T 2260")]
    Province(u32),
    #[error("a county-level code is required, not a province or city code")]
    NotCounty,
}

impl RegionCode {
    /// Parses a six-digit code whose first two digits name a province
    /// (11 Beijing .. 82 Macao).
    ///
    /// # Errors
    /// [`RegionError`] when the text is not six digits or the province prefix
    /// does not exist.
    pub fn parse(text: &str) -> Result<Self, RegionError> {
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::Format);
        }
        let value: u32 = text.parse().map_err(|_| RegionError::Format)?;
        let province = value / 10_000;
        if !(11..=82).contains(&province) {
            return Err(RegionError::Province(province));
        }
        Ok(Self(value))
    }

    /// Parses a code that must name a county or district.
    ///
    /// # Errors
    /// As [`RegionCode::parse`], plus [`RegionError::NotCounty`].
    pub fn parse_county(text: &str) -> Result<Self, RegionError> {
        let code = Self::parse(text)?;
        if code.level() == RegionLevel::County {
            Ok(code)
        } else {
            Err(RegionError::NotCounty)
        }
    }

    pub fn level(self) -> RegionLevel {
        if self.0.is_multiple_of(10_000) {
            RegionLevel::Province
        } else if self.0.is_multiple_of(100) {
            RegionLevel::City
        } else {
            RegionLevel::County
        }
    }

    /// Whether an agency of this region has jurisdiction over `other`: a
    /// code covers itself, a city its counties, a province everything in it.
    pub fn covers(self, other: RegionCode) -> bool {
        match self.level() {
            RegionLevel::Province => self.0 / 10_000 == other.0 / 10_000,
            RegionLevel::City => self.0 / 100 == other.0 / 100,
            RegionLevel::County => self == other,
        }
    }

    /// The city above a county, the province above a city; a province has none.
    pub fn parent(self) -> Option<RegionCode> {
        match self.level() {
            RegionLevel::County => Some(Self(self.0 / 100 * 100)),
            RegionLevel::City => Some(Self(self.0 / 10_000 * 10_000)),
            RegionLevel::Province => None,
        }
    }

    /// The leading digits every code this region covers shares: `14` for
    /// a province, `1401` for a city, all six for a county.
    pub fn prefix(self) -> String {
        let text = self.to_string();
        let digits = match self.level() {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
        };
        text[..digits].to_owned()
    }

    /// This code and every region above it, nearest first.
    pub fn with_ancestors(self) -> impl Iterator<Item = RegionCode> {
        std::iter::successors(Some(self), |code| code.parent())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RegionCode> for String {
    fn from(value: RegionCode) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(text: &str) -> RegionCode {
        RegionCode::parse(text).unwrap()
    }

    #[test]
    fn levels_follow_the_trailing_zeros() {
        assert_eq!(code("140000").level(), RegionLevel::Province);
        assert_eq!(code("140100").level(), RegionLevel::City);
        assert_eq!(code("140106").level(), RegionLevel::County);
    }

    #[test]
    fn jurisdiction_covers_itself_and_what_lies_below() {
        let (province, city, county) = (code("140000"), code("140100"), code("140106"));
        assert!(province.covers(county) && province.covers(city) && province.covers(province));
        assert!(city.covers(county) && city.covers(city));
        assert!(!city.covers(code("140211")) && !city.covers(province));
        assert!(county.covers(county) && !county.covers(code("140105")));
        assert!(!province.covers(code("110101")));
    }

    #[test]
    fn bad_codes_are_refused() {
        for bad in [
            "", "14010", "1401066", "14o106", "990106", "000000", "-14010",
        ] {
            assert!(RegionCode::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            RegionCode::parse_county("140100"),
            Err(RegionError::NotCounty)
        );
    }

    #[test]
    fn ancestors_run_to_the_province() {
        let chain: Vec<String> = code("140106")
            .with_ancestors()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(chain, ["140106", "140100", "140000"]);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(text in "\\PC{0,8}") {
            if let Ok(code) = RegionCode::parse(&text) {
                prop_assert_eq!(code.to_string(), text);
            }
        }

        #[test]
        fn every_ancestor_covers_its_descendant(value in 110_000u32..830_000) {
            if let Ok(code) = RegionCode::parse(&format!("{value:06}")) {
                for ancestor in code.with_ancestors() {
                    prop_assert!(ancestor.covers(code));
                }
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn code_like() -> impl Strategy<Value = String> {
        prop_oneof!["\\PC{0,8}", "[0-9]{5,7}", "[0-9+ -]{6}", "[０-９0-9]{6}"]
    }

    proptest! {
        #[test]
        fn a_county_code_is_a_region_code_at_county_level(text in code_like()) {
            match (RegionCode::parse(&text), RegionCode::parse_county(&text)) {
                (Ok(code), Ok(county)) => {
                    prop_assert_eq!(code, county);
                    prop_assert_eq!(county.level(), RegionLevel::County);
                }
                (Ok(code), Err(error)) => {
                    prop_assert_eq!(error, RegionError::NotCounty);
                    prop_assert_ne!(code.level(), RegionLevel::County);
                }
                (Err(error), Err(county_error)) => prop_assert_eq!(error, county_error),
                (Err(_), Ok(_)) => prop_assert!(false, "a county code that is no region code"),
            }
        }

        #[test]
        fn an_accepted_code_is_six_digits_of_a_province(text in code_like()) {
            if let Ok(code) = RegionCode::parse(&text) {
                prop_assert!(text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(code.prefix().len() <= 6 && text.starts_with(&code.prefix()));
                let written = serde_json::to_value(code).unwrap();
                prop_assert_eq!(written, serde_json::Value::String(text));
            }
        }
    }
}
