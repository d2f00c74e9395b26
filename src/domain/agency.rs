//! Agencies: who may call the gateway and what they are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::region::{RegionCode, RegionLevel};

/// The four kinds of agency that share supervision of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgencyKind {
    /// Compulsory isolation detox center: announces and submits releases.
    DetoxCenter,
    /// County social-work project: responsible for supervising a case.
    CountyProject,
    /// Police anti-drug department at county, city or province level.
    Police,
    /// Anti-drug office: receives escalations and unroutable discharges.
    Oversight,
}

impl AgencyKind {
    pub const ALL: [AgencyKind; 4] = [
        AgencyKind::DetoxCenter,
        AgencyKind::CountyProject,
        AgencyKind::Police,
        AgencyKind::Oversight,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgencyKind::DetoxCenter => "detox-center",
            AgencyKind::CountyProject => "county-project",
            AgencyKind::Police => "police",
            AgencyKind::Oversight => "oversight",
        }
    }
}

impl fmt::Display for AgencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgencyError {
    #[error(
        "unknown agency kind {0:?}; expected detox-center, county-project, police or oversight"
    )]
    Kind(String),
    #[error("an agency id is 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit")]
    Id,
    #[error("a county project must have a county-level region code")]
    ProjectNotCounty,
    #[error("the id {0:?} is reserved for the gateway itself")]
    Reserved(&'static str),
}

impl FromStr for AgencyKind {
    type Err = AgencyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AgencyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| AgencyError::Kind(text.to_owned()))
    }
}

/// A stable, URL-safe agency id such as `yingze-project`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyId(String);

impl AgencyId {
    /// # Errors
    /// [`AgencyError::Id`] unless the text is a lowercase slug of 1-64 characters.
    pub fn parse(text: &str) -> Result<Self, AgencyError> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(AgencyError::Id)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The gateway itself, as the author of the events it records (missed
    /// deadlines). No agency may hold this id.
    pub fn gateway() -> AgencyId {
        AgencyId(GATEWAY_ID.to_owned())
    }
}

const GATEWAY_ID: &str = "handover-gateway";

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AgencyId {
    type Error = AgencyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AgencyId> for String {
    fn from(value: AgencyId) -> Self {
        value.0
    }
}

/// What a client certificate says about its holder: kind, region and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgencyRef {
    pub kind: AgencyKind,
    pub region: RegionCode,
    pub id: AgencyId,
}

impl AgencyRef {
    /// # Errors
    /// [`AgencyError::ProjectNotCounty`] for a county project whose region is
    /// a city or province; [`AgencyError::Reserved`] for the gateway's own id.
    pub fn new(kind: AgencyKind, region: RegionCode, id: AgencyId) -> Result<Self, AgencyError> {
        if kind == AgencyKind::CountyProject && region.level() != RegionLevel::County {
            return Err(AgencyError::ProjectNotCounty);
        }
        if id.as_str() == GATEWAY_ID {
            return Err(AgencyError::Reserved(GATEWAY_ID));
        }
        Ok(Self { kind, region, id })
    }
}

impl fmt::Display for AgencyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind, self.id, self.region)
    }
}

/// An agency as the gateway's registry knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub agency: AgencyRef,
    pub name: String,
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AgencyKind::ALL {
            assert_eq!(kind.as_str().parse::<AgencyKind>(), Ok(kind));
        }
        assert!("judge".parse::<AgencyKind>().is_err());
    }

    #[test]
    fn ids_are_lowercase_slugs() {
        assert!(AgencyId::parse("yingze-project").is_ok());
        assert!(AgencyId::parse("p1").is_ok());
        for bad in ["", "-x", "Yingze", "a b", "a/b", &"x".repeat(65)] {
            assert!(AgencyId::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_county_project_sits_in_a_county() {
        let id = AgencyId::parse("p").unwrap();
        let city = RegionCode::parse("140100").unwrap();
        assert_eq!(
            AgencyRef::new(AgencyKind::CountyProject, city, id.clone()),
            Err(AgencyError::ProjectNotCounty)
        );
        assert!(AgencyRef::new(AgencyKind::Police, city, id).is_ok());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn slug_like() -> impl Strategy<Value = String> {
        prop_oneof!["\\PC{0,70}", "[a-z0-9-]{0,70}", "[a-zA-Z0-9_ /-]{0,12}"]
    }

    proptest! {
        #[test]
        fn an_agency_id_is_a_lowercase_slug_or_refused(text in slug_like()) {
            let from_serde: Result<AgencyId, _> =
                serde_json::from_value(serde_json::Value::String(text.clone()));
            match AgencyId::parse(&text) {
                Ok(id) => {
                    prop_assert_eq!(id.as_str(), text.as_str());
                    prop_assert!((1..=64).contains(&text.len()) && !text.starts_with('-'));
                    let slug = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
                    prop_assert!(text.bytes().all(slug));
                    prop_assert_eq!(from_serde.ok(), Some(id));
                }
                Err(error) => {
                    prop_assert_eq!(error, AgencyError::Id);
                    prop_assert!(from_serde.is_err());
                }
            }
        }

        #[test]
        fn an_agency_kind_is_one_of_four_names(text in prop_oneof!["\\PC{0,16}", "[a-z-]{4,14}"]) {
            match text.parse::<AgencyKind>() {
                Ok(kind) => prop_assert_eq!(kind.as_str(), text.as_str()),
                Err(error) => prop_assert_eq!(error, AgencyError::Kind(text)),
            }
        }

        #[test]
        fn only_a_county_project_outside_a_county_or_the_gateway_is_refused(
            kind in proptest::sample::select(AgencyKind::ALL.to_vec()),
            region in 110_000u32..830_000,
            id in prop_oneof!["[a-z0-9][a-z0-9-]{0,20}", Just(GATEWAY_ID.to_owned())],
        ) {
            let Ok(region) = RegionCode::parse(&format!("{region:06}")) else {
                return Ok(());
            };
            let id = AgencyId::parse(&id).unwrap();
            let reserved = id.as_str() == GATEWAY_ID;
            let misplaced =
                kind == AgencyKind::CountyProject && region.level() != RegionLevel::County;
            match AgencyRef::new(kind, region, id.clone()) {
                Ok(agency) => {
                    prop_assert!(!reserved && !misplaced);
                    prop_assert_eq!((agency.kind, agency.region, agency.id), (kind, region, id));
                }
                Err(AgencyError::ProjectNotCounty) => prop_assert!(misplaced),
                Err(AgencyError::Reserved(_)) => prop_assert!(reserved && !misplaced),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
