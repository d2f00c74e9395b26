//! Who hears of each event after discharge.
//!
//! The rule the product exists for: the responsible project and the police
//! of the executing county follow every step, and so do the household
//! county's police. A transfer adds the receiving county; a move of
//! responsibility adds the county the case left; loss of contact and missed
//! deadlines add the oversight office; a withdrawn announcement reaches
//! everyone its latest notice did, and so does one whose discharge is
//! overdue, with the detox center that owes it. The agency that acted is
//! not told of its own act: its receipt says it.

use super::agency::{Agency, AgencyId, AgencyKind};
use super::announcement::told_of_latest_notice;
use super::case::{Case, CaseEvent, CaseState, ClosureReason, RecordedEvent};
use super::deadline::DeadlineKind;
use super::region::RegionCode;
use super::routing::{Recipient, RecipientRole, nearest};

struct List<'a> {
    actor: &'a AgencyId,
    agencies: &'a [Agency],
    recipients: Vec<Recipient>,
}

impl List<'_> {
    fn add(&mut self, agency: Option<&AgencyId>, role: RecipientRole) {
        if let Some(agency) = agency
            && agency != self.actor
            && !self.recipients.iter().any(|r| &r.agency == agency)
        {
            self.recipients.push(Recipient {
                agency: agency.clone(),
                role,
            });
        }
    }

    fn nearest(&mut self, kind: AgencyKind, county: RegionCode, role: RecipientRole) {
        let agency = nearest(self.agencies, kind, county).cloned();
        self.add(agency.as_ref(), role);
    }
}

/// The recipients of `event`, which took the case from `before` to `after`.
pub fn recipients(
    before: &Case,
    after: &Case,
    event: &RecordedEvent,
    agencies: &[Agency],
) -> Vec<Recipient> {
    let mut list = List {
        actor: &event.by,
        agencies,
        recipients: Vec::new(),
    };
    list.add(
        after.responsible.as_ref(),
        RecipientRole::ResponsibleProject,
    );
    list.nearest(
        AgencyKind::Police,
        after.executing_region,
        RecipientRole::ExecutingPolice,
    );
    list.nearest(
        AgencyKind::Police,
        after.person.household_region,
        RecipientRole::HouseholdPolice,
    );
    if let Some(transfer) = before.transfer.as_ref().or(after.transfer.as_ref()) {
        list.add(Some(&transfer.to_project), RecipientRole::ReceivingProject);
        list.nearest(
            AgencyKind::Police,
            transfer.to_region,
            RecipientRole::ReceivingPolice,
        );
    }
    if before.responsible != after.responsible {
        list.add(before.responsible.as_ref(), RecipientRole::SendingProject);
    }
    if before.executing_region != after.executing_region {
        list.nearest(
            AgencyKind::Police,
            before.executing_region,
            RecipientRole::SendingPolice,
        );
    }
    match &event.event {
        CaseEvent::PickedUp => list.add(Some(&after.detox_center), RecipientRole::DetoxCenter),
        // A report straight from the gate also tells the center that the
        // person was received: no pickup will be confirmed now.
        CaseEvent::Reported if before.state == CaseState::AwaitingPickup => {
            list.add(Some(&after.detox_center), RecipientRole::DetoxCenter);
        }
        CaseEvent::AbsenceNotified {
            host_region,
            host_project,
            ..
        } => {
            list.add(host_project.as_ref(), RecipientRole::HostProject);
            list.nearest(AgencyKind::Police, *host_region, RecipientRole::HostPolice);
        }
        // The office over the new county oversees it from now on; the one
        // that held it hears that it was handed on.
        CaseEvent::Assigned { .. } => {
            list.nearest(
                AgencyKind::Oversight,
                after.executing_region,
                RecipientRole::Oversight,
            );
            list.add(after.oversight.as_ref(), RecipientRole::Oversight);
        }
        CaseEvent::Closed {
            reason: ClosureReason::ReleaseWithdrawn,
            ..
        } => {
            for told in told_of_latest_notice(after, agencies) {
                list.add(Some(&told.agency), told.role);
            }
        }
        // A release announced and not discharged: the center may have let
        // the person go unrecorded, and whoever waits at the gate must know.
        CaseEvent::DeadlineMissed {
            kind: DeadlineKind::Discharge,
            ..
        } => {
            list.add(Some(&after.detox_center), RecipientRole::DetoxCenter);
            for told in told_of_latest_notice(after, agencies) {
                list.add(Some(&told.agency), told.role);
            }
            list.nearest(
                AgencyKind::Oversight,
                after.executing_region,
                RecipientRole::Oversight,
            );
        }
        CaseEvent::ContactLost { .. }
        | CaseEvent::ContactRestored { .. }
        | CaseEvent::DeadlineMissed { .. } => {
            list.nearest(
                AgencyKind::Oversight,
                after.executing_region,
                RecipientRole::Oversight,
            );
            // Only while it holds the case: once assigned, the office over
            // the case's county follows it.
            if after.is_unroutable() {
                list.add(after.oversight.as_ref(), RecipientRole::Oversight);
            }
        }
        _ => {}
    }
    list.recipients
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::{CaseEvent, RecordedEvent};
    use crate::domain::testing::{discharged_case, registered};
    use time::macros::datetime;

    fn registry() -> Vec<Agency> {
        vec![
            registered("detox-center", "140100", "taiyuan-detox"),
            registered("county-project", "140106", "yingze-project"),
            registered("police", "140106", "yingze-police"),
            registered("county-project", "140105", "xiaodian-project"),
            registered("police", "140105", "xiaodian-police"),
            registered("police", "140200", "datong-police"),
            registered("oversight", "140100", "taiyuan-office"),
        ]
    }

    fn step(case: &Case, by: &str, event: CaseEvent) -> (Case, RecordedEvent) {
        let recorded = RecordedEvent {
            sequence: case.version() + 1,
            at: datetime!(2026-11-29 08:00 UTC),
            by: AgencyId::parse(by).unwrap(),
            event,
        };
        let mut after = case.clone();
        after.apply(recorded.clone()).unwrap();
        (after, recorded)
    }

    fn names(recipients: &[Recipient]) -> Vec<(&str, &str)> {
        recipients
            .iter()
            .map(|r| (r.agency.as_str(), r.role.as_str()))
            .collect()
    }

    #[test]
    fn a_pickup_reaches_the_detox_center_and_both_police_but_not_the_actor() {
        let case = discharged_case("140106", "140211", Some("yingze-project"));
        let (after, event) = step(&case, "yingze-project", CaseEvent::PickedUp);
        assert_eq!(
            names(&recipients(&case, &after, &event, &registry())),
            [
                ("yingze-police", "executing-police"),
                ("datong-police", "household-police"),
                ("taiyuan-detox", "detox-center"),
            ]
        );
    }

    #[test]
    fn a_report_with_no_pickup_before_it_reaches_the_detox_center_a_later_one_does_not() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let (reported, event) = step(&case, "yingze-project", CaseEvent::Reported);
        assert_eq!(
            names(&recipients(&case, &reported, &event, &registry())),
            [
                ("yingze-police", "executing-police"),
                ("taiyuan-detox", "detox-center"),
            ]
        );
        let (picked_up, _) = step(&case, "yingze-project", CaseEvent::PickedUp);
        let (after, event) = step(&picked_up, "yingze-project", CaseEvent::Reported);
        assert_eq!(
            names(&recipients(&picked_up, &after, &event, &registry())),
            [("yingze-police", "executing-police")]
        );
    }

    #[test]
    fn an_arrival_reaches_the_county_left_and_the_county_taken_over() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let (case, _) = step(&case, "yingze-project", CaseEvent::Reported);
        let (case, _) = step(
            &case,
            "yingze-project",
            CaseEvent::TransferRequested {
                to_region: RegionCode::parse("140105").unwrap(),
                to_project: AgencyId::parse("xiaodian-project").unwrap(),
                reason: "moved".into(),
            },
        );
        let (case, _) = step(&case, "xiaodian-project", CaseEvent::TransferAccepted);
        let (after, event) = step(&case, "xiaodian-project", CaseEvent::Arrived);
        assert_eq!(
            names(&recipients(&case, &after, &event, &registry())),
            [
                ("xiaodian-police", "executing-police"),
                ("yingze-police", "household-police"),
                ("yingze-project", "sending-project"),
            ]
        );
    }

    #[test]
    fn an_assignment_reaches_the_new_county_and_the_office_that_held_it_until_then() {
        let mut case = discharged_case("140108", "140211", None);
        case.oversight = Some(AgencyId::parse("shanxi-office").unwrap());
        let (after, event) = step(
            &case,
            "jinzhong-office",
            CaseEvent::Assigned {
                executing_region: RegionCode::parse("140106").unwrap(),
                project: AgencyId::parse("yingze-project").unwrap(),
                reason: "lives in Yingze".into(),
            },
        );
        assert_eq!(
            names(&recipients(&case, &after, &event, &registry())),
            [
                ("yingze-project", "responsible-project"),
                ("yingze-police", "executing-police"),
                ("datong-police", "household-police"),
                ("taiyuan-office", "oversight"),
                ("shanxi-office", "oversight"),
            ]
        );
        let lost = CaseEvent::ContactLost {
            note: String::new(),
        };
        let (later, event) = step(&after, "yingze-project", lost);
        assert_eq!(
            names(&recipients(&after, &later, &event, &registry())),
            [
                ("yingze-police", "executing-police"),
                ("datong-police", "household-police"),
                ("taiyuan-office", "oversight"),
            ]
        );
    }

    #[test]
    fn loss_of_contact_reaches_the_oversight_office_at_once() {
        let case = discharged_case("140106", "140106", Some("yingze-project"));
        let (after, event) = step(
            &case,
            "yingze-project",
            CaseEvent::ContactLost {
                note: String::new(),
            },
        );
        assert_eq!(
            names(&recipients(&case, &after, &event, &registry())),
            [
                ("yingze-police", "executing-police"),
                ("taiyuan-office", "oversight"),
            ]
        );
    }
}
