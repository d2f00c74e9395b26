//! How each event changes a case: the fold that [`Case::apply`] runs once
//! [`Case::allows`] has admitted the event.

use super::{Anchor, Case, CaseEvent, CaseState, EarlierCase, RecordedEvent, Transfer};
use crate::domain::agency::AgencyId;
use crate::domain::region::RegionCode;

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl Case {
    pub(super) fn fold(&mut self, recorded: RecordedEvent) {
        let anchor = Anchor {
            sequence: recorded.sequence,
            at: recorded.at,
        };
        match &recorded.event {
            CaseEvent::ReleaseAnnounced {
                person,
                planned_release_date,
                term,
                executing_region,
                project,
                earlier_open_cases,
                ..
            } => {
                self.state = CaseState::Announced;
                self.person = person.clone();
                self.term = *term;
                self.announced_to.clone_from(project);
                self.planned_release_date = Some(*planned_release_date);
                self.notice = Some(anchor);
                self.executing_region = *executing_region;
                self.touch(*executing_region, project.as_ref());
                push_new(&mut self.counties, person.household_region);
                self.touch_earlier(earlier_open_cases);
            }
            CaseEvent::Discharged {
                person,
                released_at,
                term,
                executing_region,
                project,
                oversight,
                late_notice,
                earlier_open_cases,
                ..
            } => {
                self.state = CaseState::AwaitingPickup;
                self.oversight.clone_from(oversight);
                self.person = person.clone();
                self.term = *term;
                self.released_at = Some(*released_at);
                self.clock = Some(Anchor {
                    sequence: recorded.sequence,
                    at: *released_at,
                });
                self.executing_region = *executing_region;
                self.late_notice = *late_notice;
                self.touch(*executing_region, project.as_ref());
                push_new(&mut self.counties, person.household_region);
                self.set_responsible(project.clone());
                self.touch_earlier(earlier_open_cases);
            }
            CaseEvent::PickedUp => self.state = CaseState::PickedUp,
            CaseEvent::Reported => {
                self.state = CaseState::UnderSupervision;
                self.supervision_started = Some(anchor);
            }
            CaseEvent::TransferRequested {
                to_region,
                to_project,
                reason,
            } => {
                self.state = CaseState::TransferPending;
                self.touch(*to_region, Some(to_project));
                self.transfer = Some(Transfer {
                    requested: anchor,
                    to_region: *to_region,
                    to_project: to_project.clone(),
                    reason: reason.clone(),
                    accepted: None,
                });
            }
            CaseEvent::TransferAccepted => {
                if let Some(transfer) = &mut self.transfer {
                    transfer.accepted = Some(anchor);
                }
            }
            CaseEvent::TransferRejected { .. } | CaseEvent::TransferWithdrawn { .. } => {
                self.transfer = None;
                self.state = CaseState::UnderSupervision;
            }
            CaseEvent::Arrived => {
                if let Some(transfer) = self.transfer.take() {
                    self.executing_region = transfer.to_region;
                    self.set_responsible(Some(transfer.to_project));
                }
                self.state = CaseState::UnderSupervision;
            }
            CaseEvent::Assigned {
                executing_region,
                project,
                ..
            } => {
                self.executing_region = *executing_region;
                self.touch(*executing_region, Some(project));
                self.set_responsible(Some(project.clone()));
            }
            CaseEvent::AbsenceNotified {
                host_region,
                host_project,
                ..
            } => self.touch(*host_region, host_project.as_ref()),
            CaseEvent::ContactLost { .. } => {
                self.resume_to = Some(self.active_state());
                self.transfer = None;
                self.state = CaseState::LostContact;
            }
            CaseEvent::Suspended { .. } => {
                self.resume_to = Some(self.active_state());
                self.transfer = None;
                self.state = CaseState::Suspended;
            }
            CaseEvent::ContactRestored { .. } | CaseEvent::Resumed => {
                if matches!(recorded.event, CaseEvent::Resumed) {
                    self.clock = Some(anchor);
                }
                self.state = self.resume_to.take().unwrap_or(CaseState::UnderSupervision);
            }
            CaseEvent::Closed { reason, .. } => {
                self.state = CaseState::Closed;
                self.closure = Some(*reason);
                self.transfer = None;
                self.resume_to = None;
            }
            CaseEvent::DeadlineMissed { kind, anchor, .. } => {
                self.escalated.push((*kind, *anchor));
            }
        }
        self.history.push(recorded);
    }

    /// The state beneath a lost contact or suspension; a pending transfer
    /// ends with either, so it returns to plain supervision.
    fn active_state(&self) -> CaseState {
        match self.state {
            CaseState::LostContact | CaseState::Suspended => {
                self.resume_to.unwrap_or(CaseState::UnderSupervision)
            }
            CaseState::TransferPending => CaseState::UnderSupervision,
            other => other,
        }
    }

    fn touch(&mut self, county: RegionCode, project: Option<&AgencyId>) {
        push_new(&mut self.counties, county);
        if let Some(project) = project {
            push_new(&mut self.projects_told, project.clone());
        }
    }

    /// The projects and counties of the person's other open cases are told
    /// of this one, so that they can close theirs: they may read it, as
    /// any county told of a case may.
    fn touch_earlier(&mut self, earlier: &[EarlierCase]) {
        for case in earlier {
            self.touch(case.executing_region, case.project.as_ref());
        }
    }

    fn set_responsible(&mut self, project: Option<AgencyId>) {
        if let Some(project) = &project {
            push_new(&mut self.responsible_history, project.clone());
        }
        self.responsible = project;
    }
}
