//! Case events and their enums, domain to protobuf.

use super::convert::timestamp;
use super::pb;
use super::pb::case_event::Detail;
use crate::domain::case::{CaseEvent, CaseState, ClosureReason, EarlierCase, RecordedEvent};
use crate::domain::deadline::DeadlineKind;
use crate::domain::routing::RecipientRole;

pub fn case_state(state: CaseState) -> pb::CaseState {
    match state {
        CaseState::Announced => pb::CaseState::Announced,
        CaseState::AwaitingPickup => pb::CaseState::AwaitingPickup,
        CaseState::PickedUp => pb::CaseState::PickedUp,
        CaseState::UnderSupervision => pb::CaseState::UnderSupervision,
        CaseState::TransferPending => pb::CaseState::TransferPending,
        CaseState::LostContact => pb::CaseState::LostContact,
        CaseState::Suspended => pb::CaseState::Suspended,
        CaseState::Closed => pb::CaseState::Closed,
    }
}

/// `None` for unspecified or unknown values.
pub fn case_state_from(value: i32) -> Option<CaseState> {
    let state = pb::CaseState::try_from(value).ok()?;
    CaseState::ALL
        .into_iter()
        .find(|candidate| case_state(*candidate) == state)
}

pub fn deadline_kind(kind: DeadlineKind) -> pb::DeadlineKind {
    match kind {
        DeadlineKind::Pickup => pb::DeadlineKind::Pickup,
        DeadlineKind::Report => pb::DeadlineKind::Report,
        DeadlineKind::TransferReply => pb::DeadlineKind::TransferReply,
        DeadlineKind::Arrival => pb::DeadlineKind::Arrival,
        DeadlineKind::TermCompletion => pb::DeadlineKind::TermCompletion,
        DeadlineKind::Discharge => pb::DeadlineKind::Discharge,
    }
}

pub fn closure_reason(reason: ClosureReason) -> pb::ClosureReason {
    match reason {
        ClosureReason::Completed => pb::ClosureReason::Completed,
        ClosureReason::Redetained => pb::ClosureReason::Redetained,
        ClosureReason::Imprisoned => pb::ClosureReason::Imprisoned,
        ClosureReason::Deceased => pb::ClosureReason::Deceased,
        ClosureReason::MovedOutOfProvince => pb::ClosureReason::MovedOutOfProvince,
        ClosureReason::Other => pb::ClosureReason::Other,
        ClosureReason::ReleaseWithdrawn => pb::ClosureReason::ReleaseWithdrawn,
    }
}

/// The domain's name for a closure reason on the wire; empty for
/// unspecified or unknown values, which validation then refuses.
pub fn closure_reason_name(value: i32) -> String {
    pb::ClosureReason::try_from(value)
        .ok()
        .and_then(|wire| {
            ClosureReason::ALL
                .into_iter()
                .find(|reason| closure_reason(*reason) == wire)
        })
        .map(|reason| reason.as_str().to_owned())
        .unwrap_or_default()
}

pub fn recipient_role(role: RecipientRole) -> pb::RecipientRole {
    match role {
        RecipientRole::ResponsibleProject => pb::RecipientRole::ResponsibleProject,
        RecipientRole::ExecutingPolice => pb::RecipientRole::ExecutingPolice,
        RecipientRole::HouseholdPolice => pb::RecipientRole::HouseholdPolice,
        RecipientRole::UnroutableOversight => pb::RecipientRole::UnroutableOversight,
        RecipientRole::DetoxCenter => pb::RecipientRole::DetoxCenter,
        RecipientRole::Oversight => pb::RecipientRole::Oversight,
        RecipientRole::ReceivingProject => pb::RecipientRole::ReceivingProject,
        RecipientRole::ReceivingPolice => pb::RecipientRole::ReceivingPolice,
        RecipientRole::SendingProject => pb::RecipientRole::SendingProject,
        RecipientRole::SendingPolice => pb::RecipientRole::SendingPolice,
        RecipientRole::HostProject => pb::RecipientRole::HostProject,
        RecipientRole::HostPolice => pb::RecipientRole::HostPolice,
        RecipientRole::EarlierCaseProject => pb::RecipientRole::EarlierCaseProject,
        RecipientRole::EarlierCasePolice => pb::RecipientRole::EarlierCasePolice,
        RecipientRole::EarlierCaseOversight => pb::RecipientRole::EarlierCaseOversight,
        RecipientRole::AnnouncedBefore => pb::RecipientRole::AnnouncedBefore,
    }
}

fn text(value: Option<&impl ToString>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

fn earlier(cases: &[EarlierCase]) -> Vec<pb::EarlierCase> {
    cases
        .iter()
        .map(|case| pb::EarlierCase {
            case_id: case.case_id.to_string(),
            executing_region: case.executing_region.to_string(),
            project_id: text(case.project.as_ref()),
            oversight_id: text(case.oversight.as_ref()),
        })
        .collect()
}

fn detail(event: &CaseEvent) -> Detail {
    match event {
        CaseEvent::ReleaseAnnounced {
            planned_release_date,
            executing_region,
            project,
            earlier_open_cases,
            ..
        } => Detail::ReleaseAnnounced(pb::ReleaseAnnounced {
            planned_release_date: planned_release_date.to_string(),
            executing_region: executing_region.to_string(),
            project_id: text(project.as_ref()),
            earlier_open_cases: earlier(earlier_open_cases),
        }),
        CaseEvent::Discharged {
            released_at,
            executing_region,
            project,
            late_notice,
            earlier_open_cases,
            ..
        } => Detail::Discharged(pb::Discharged {
            released_at: Some(timestamp(*released_at)),
            executing_region: executing_region.to_string(),
            project_id: text(project.as_ref()),
            late_notice: *late_notice,
            earlier_open_cases: earlier(earlier_open_cases),
        }),
        CaseEvent::PickedUp => Detail::PickedUp(pb::PickedUp {}),
        CaseEvent::Reported => Detail::Reported(pb::Reported {}),
        CaseEvent::TransferRequested {
            to_region,
            to_project,
            reason,
        } => Detail::TransferRequested(pb::TransferRequested {
            to_region: to_region.to_string(),
            to_project_id: to_project.to_string(),
            reason: reason.clone(),
        }),
        CaseEvent::TransferAccepted => Detail::TransferAccepted(pb::TransferAccepted {}),
        CaseEvent::TransferRejected { reason } => Detail::TransferRejected(pb::TransferRejected {
            reason: reason.clone(),
        }),
        CaseEvent::TransferWithdrawn { reason } => {
            Detail::TransferWithdrawn(pb::TransferWithdrawn {
                reason: reason.clone(),
            })
        }
        CaseEvent::Arrived => Detail::Arrived(pb::Arrived {}),
        CaseEvent::Assigned {
            executing_region,
            project,
            reason,
        } => Detail::Assigned(pb::Assigned {
            executing_region: executing_region.to_string(),
            project_id: project.to_string(),
            reason: reason.clone(),
        }),
        CaseEvent::AbsenceNotified {
            host_region,
            host_project,
            from,
            until,
            reason,
        } => Detail::AbsenceNotified(pb::AbsenceNotified {
            host_region: host_region.to_string(),
            host_project_id: text(host_project.as_ref()),
            from: from.to_string(),
            until: until.to_string(),
            reason: reason.clone(),
        }),
        CaseEvent::ContactLost { note } => {
            Detail::ContactLost(pb::ContactLost { note: note.clone() })
        }
        CaseEvent::ContactRestored { note } => {
            Detail::ContactRestored(pb::ContactRestored { note: note.clone() })
        }
        CaseEvent::Suspended { reason } => Detail::Suspended(pb::Suspended {
            reason: reason.clone(),
        }),
        CaseEvent::Resumed => Detail::Resumed(pb::Resumed {}),
        CaseEvent::Closed { reason, note } => Detail::Closed(pb::Closed {
            reason: closure_reason(*reason).into(),
            note: note.clone(),
        }),
        CaseEvent::DeadlineMissed { kind, due_at, .. } => {
            Detail::DeadlineMissed(pb::DeadlineMissed {
                kind: deadline_kind(*kind).into(),
                due_at: Some(timestamp(*due_at)),
            })
        }
    }
}

pub fn event(recorded: &RecordedEvent) -> pb::CaseEvent {
    pb::CaseEvent {
        sequence: recorded.sequence,
        at: Some(timestamp(recorded.at)),
        agency_id: recorded.by.to_string(),
        detail: Some(detail(&recorded.event)),
    }
}
