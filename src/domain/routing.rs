//! Who receives a case: the county project and police of the executing
//! county, the household police, and the oversight office when no project
//! can take it.

use serde::{Deserialize, Serialize};

use super::agency::{Agency, AgencyId, AgencyKind};
use super::announcement::told_of_latest_notice;
use super::case::Case;
use super::event::EarlierCase;
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
    /// The oversight office of the executing county: escalations and loss
    /// of contact.
    Oversight,
    /// The county project a transfer goes to.
    ReceivingProject,
    /// The police of the county a transfer goes to.
    ReceivingPolice,
    /// The project that was responsible until the person arrived elsewhere.
    SendingProject,
    /// The police of the county the case left.
    SendingPolice,
    /// The project of a county the person stays in for a while.
    HostProject,
    /// The police of a county the person stays in for a while.
    HostPolice,
    /// The project responsible for the person's other open case.
    EarlierCaseProject,
    /// The police of the county of the person's other open case.
    EarlierCasePolice,
    /// The oversight office holding the person's other open case, while
    /// that case is unroutable.
    EarlierCaseOversight,
    /// An agency an earlier pre-release notice of the case reached that
    /// this release would not: the person goes elsewhere after all, or
    /// the notice changed.
    AnnouncedBefore,
}

impl RecipientRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientRole::ResponsibleProject => "responsible-project",
            RecipientRole::ExecutingPolice => "executing-police",
            RecipientRole::HouseholdPolice => "household-police",
            RecipientRole::UnroutableOversight => "unroutable-oversight",
            RecipientRole::DetoxCenter => "detox-center",
            RecipientRole::Oversight => "oversight",
            RecipientRole::ReceivingProject => "receiving-project",
            RecipientRole::ReceivingPolice => "receiving-police",
            RecipientRole::SendingProject => "sending-project",
            RecipientRole::SendingPolice => "sending-police",
            RecipientRole::HostProject => "host-project",
            RecipientRole::HostPolice => "host-police",
            RecipientRole::EarlierCaseProject => "earlier-case-project",
            RecipientRole::EarlierCasePolice => "earlier-case-police",
            RecipientRole::EarlierCaseOversight => "earlier-case-oversight",
            RecipientRole::AnnouncedBefore => "announced-before",
        }
    }
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

impl Route {
    /// A release to `project` in `executing_region` (or, when no project
    /// can take it, to the `oversight` office), of a person of
    /// `household_region`: the project, the executing county's police,
    /// the household county's police when it differs, the office.
    pub(crate) fn reaching(
        executing_region: RegionCode,
        household_region: RegionCode,
        project: Option<AgencyId>,
        oversight: Option<AgencyId>,
        agencies: &[Agency],
    ) -> Route {
        let mut recipients = Vec::new();
        let police = |county| nearest(agencies, AgencyKind::Police, county);
        add(
            &mut recipients,
            project.as_ref(),
            RecipientRole::ResponsibleProject,
        );
        add(
            &mut recipients,
            police(executing_region),
            RecipientRole::ExecutingPolice,
        );
        if household_region != executing_region {
            add(
                &mut recipients,
                police(household_region),
                RecipientRole::HouseholdPolice,
            );
        }
        add(
            &mut recipients,
            oversight.as_ref(),
            RecipientRole::UnroutableOversight,
        );
        Route {
            executing_region,
            project,
            oversight,
            recipients,
        }
    }

    /// A release that came without timely notice is escalated as it is
    /// delivered: the oversight office of the executing county receives it
    /// too.
    #[must_use]
    pub fn with_late_notice(mut self, agencies: &[Agency]) -> Route {
        add(
            &mut self.recipients,
            nearest(agencies, AgencyKind::Oversight, self.executing_region),
            RecipientRole::Oversight,
        );
        self
    }

    /// A release (announced or discharged) of a person whose other cases
    /// are still open also goes to those cases' projects and police, who
    /// would otherwise go on supervising, or searching for, a person
    /// released elsewhere.
    #[must_use]
    pub fn with_earlier_cases(mut self, earlier: &[EarlierCase], agencies: &[Agency]) -> Route {
        for case in earlier {
            let recipients = &mut self.recipients;
            let project = case.project.as_ref().and_then(|id| enabled(agencies, id));
            add(recipients, project, RecipientRole::EarlierCaseProject);
            add(
                recipients,
                nearest(agencies, AgencyKind::Police, case.executing_region),
                RecipientRole::EarlierCasePolice,
            );
            let office = case.oversight.as_ref().and_then(|id| enabled(agencies, id));
            add(recipients, office, RecipientRole::EarlierCaseOversight);
        }
        self
    }

    /// A release of a case announced before also goes to everyone its
    /// latest notice reached and this release would not, who would
    /// otherwise wait at the gate for a person released elsewhere. Those
    /// only a notice before that reached heard of the move from the next.
    #[must_use]
    pub fn with_announced_before(mut self, case: Option<&Case>, agencies: &[Agency]) -> Route {
        let told = case.map(|case| told_of_latest_notice(case, agencies));
        for told in told.unwrap_or_default() {
            add(
                &mut self.recipients,
                Some(&told.agency),
                RecipientRole::AnnouncedBefore,
            );
        }
        self
    }
}

/// Adds `agency` as `role` unless it already receives the message in
/// another role: one agency gets one message.
fn add(recipients: &mut Vec<Recipient>, agency: Option<&AgencyId>, role: RecipientRole) {
    if let Some(agency) = agency
        && !recipients.iter().any(|r| &r.agency == agency)
    {
        recipients.push(Recipient {
            agency: agency.clone(),
            role,
        });
    }
}

/// `id`, if it is a registered, enabled agency.
pub(super) fn enabled<'a>(agencies: &'a [Agency], id: &AgencyId) -> Option<&'a AgencyId> {
    agencies
        .iter()
        .find(|a| a.enabled && &a.agency.id == id)
        .map(|a| &a.agency.id)
}

/// The registered, enabled agency of `kind` nearest to `county`: one of the
/// county itself if there is one, else of its city, else of its province.
pub(crate) fn nearest(
    agencies: &[Agency],
    kind: AgencyKind,
    county: RegionCode,
) -> Option<&AgencyId> {
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
    let oversight = match project {
        Some(_) => None,
        None => nearest(agencies, AgencyKind::Oversight, executing_region)
            .or_else(|| nearest(agencies, AgencyKind::Oversight, submitter))
            .cloned(),
    };
    Route::reaching(
        executing_region,
        person.household_region,
        project,
        oversight,
        agencies,
    )
}

#[cfg(test)]
mod tests;
