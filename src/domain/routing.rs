//! Who receives a case: the county project and police of the executing
//! county, the household police, and the oversight office when no project
//! can take it.

use serde::{Deserialize, Serialize};

use super::agency::{Agency, AgencyId, AgencyKind};
use super::person::Person;
use super::region::RegionCode;

/// Why a recipient receives a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientRole {
    /// The county project responsible for the case.
    ResponsibleProject,
    /// The police of the executing county.
    ExecutingPolice,
    /// The police of the household-registration county, when it differs.
    HouseholdPolice,
    /// The oversight office above a county that has no project.
    UnroutableOversight,
    /// The detox center that submitted the case.
    DetoxCenter,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub agency: AgencyId,
    pub role: RecipientRole,
}

/// Where a release goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub executing_region: RegionCode,
    /// `None`: no project is registered for the executing county.
    pub project: Option<AgencyId>,
    /// The oversight office told of an unroutable release.
    pub oversight: Option<AgencyId>,
    pub recipients: Vec<Recipient>,
}

/// The registered, enabled agency of `kind` nearest to `county`: one of the
/// county itself if there is one, else of its city, else of its province.
fn nearest(agencies: &[Agency], kind: AgencyKind, county: RegionCode) -> Option<&AgencyId> {
    county.with_ancestors().find_map(|region| {
        agencies
            .iter()
            .filter(|a| a.enabled && a.agency.kind == kind && a.agency.region == region)
            .map(|a| &a.agency.id)
            .min()
    })
}

/// Routes a release of `person` among `agencies` (the registry, or the part
/// of it covering the person's counties).
///
/// Police fall back to the city or province when the county has none
/// registered, so a release always reaches police who cover the county.
///
/// A county without a project sends the release to the oversight office
/// nearest above it, or, when none covers it (a county outside the
/// province), to the one above the submitting detox center: it is never
/// dropped.
pub fn route(person: &Person, submitter: RegionCode, agencies: &[Agency]) -> Route {
    let executing_region = person.executing_region();
    let project = agencies
        .iter()
        .filter(|a| a.enabled && a.agency.kind == AgencyKind::CountyProject)
        .filter(|a| a.agency.region == executing_region)
        .map(|a| a.agency.id.clone())
        .min();
    let mut recipients = Vec::new();
    let mut add = |agency: Option<&AgencyId>, role| {
        if let Some(agency) = agency
            && !recipients.iter().any(|r: &Recipient| &r.agency == agency)
        {
            recipients.push(Recipient {
                agency: agency.clone(),
                role,
            });
        }
    };
    add(project.as_ref(), RecipientRole::ResponsibleProject);
    add(
        nearest(agencies, AgencyKind::Police, executing_region),
        RecipientRole::ExecutingPolice,
    );
    if person.household_region != executing_region {
        add(
            nearest(agencies, AgencyKind::Police, person.household_region),
            RecipientRole::HouseholdPolice,
        );
    }
    let oversight = match project {
        Some(_) => None,
        None => nearest(agencies, AgencyKind::Oversight, executing_region)
            .or_else(|| nearest(agencies, AgencyKind::Oversight, submitter))
            .cloned(),
    };
    add(oversight.as_ref(), RecipientRole::UnroutableOversight);
    Route {
        executing_region,
        project,
        oversight,
        recipients,
    }
}

#[cfg(test)]
mod tests;
