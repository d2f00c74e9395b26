//! Protobuf to domain at the edge, and back.

use prost_types::Timestamp;
use time::OffsetDateTime;

use super::pb;
use crate::domain::agency::AgencyKind;
use crate::domain::case::{Case, CaseEvent, CaseState, RecordedEvent};
use crate::domain::deadline::{Deadline, DeadlineKind};
use crate::domain::intake::{AnnouncementDraft, DischargeDraft};
use crate::domain::notice::InboxMessage;
use crate::domain::person::{Person, PersonDraft, Sex};
use crate::domain::routing::RecipientRole;
use crate::gateway::Submitted;

pub fn timestamp(at: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
    }
}

fn nanos(at: &Timestamp) -> i128 {
    i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos)
}

fn person_draft(person: pb::Person) -> PersonDraft {
    let sex = match pb::Sex::try_from(person.sex) {
        Ok(pb::Sex::Male) => Some(Sex::Male),
        Ok(pb::Sex::Female) => Some(Sex::Female),
        _ => None,
    };
    PersonDraft {
        id_number: person.id_number,
        name: person.name,
        sex,
        household_region: person.household_region,
        residence_region: person.residence_region,
        residence_consent: person.residence_consent,
    }
}

impl From<pb::AnnounceReleaseRequest> for AnnouncementDraft {
    fn from(request: pb::AnnounceReleaseRequest) -> Self {
        AnnouncementDraft {
            decision_number: request.decision_number,
            person: request.person.map(person_draft),
            planned_release_date: request.planned_release_date,
            term_months: request.term_months,
        }
    }
}

impl From<pb::SubmitDischargeRequest> for DischargeDraft {
    fn from(request: pb::SubmitDischargeRequest) -> Self {
        DischargeDraft {
            decision_number: request.decision_number,
            person: request.person.map(person_draft),
            released_at: request.released_at.as_ref().map(nanos),
            term_months: request.term_months,
        }
    }
}

pub fn agency_kind(kind: AgencyKind) -> pb::AgencyKind {
    match kind {
        AgencyKind::DetoxCenter => pb::AgencyKind::DetoxCenter,
        AgencyKind::CountyProject => pb::AgencyKind::CountyProject,
        AgencyKind::Police => pb::AgencyKind::Police,
        AgencyKind::Oversight => pb::AgencyKind::Oversight,
    }
}

pub fn case_state(state: CaseState) -> pb::CaseState {
    match state {
        CaseState::Announced => pb::CaseState::Announced,
        CaseState::AwaitingPickup => pb::CaseState::AwaitingPickup,
    }
}

pub fn recipient_role(role: RecipientRole) -> pb::RecipientRole {
    match role {
        RecipientRole::ResponsibleProject => pb::RecipientRole::ResponsibleProject,
        RecipientRole::ExecutingPolice => pb::RecipientRole::ExecutingPolice,
        RecipientRole::HouseholdPolice => pb::RecipientRole::HouseholdPolice,
        RecipientRole::UnroutableOversight => pb::RecipientRole::UnroutableOversight,
        RecipientRole::DetoxCenter => pb::RecipientRole::DetoxCenter,
    }
}

fn deadline(deadline: &Deadline) -> pb::Deadline {
    let kind = match deadline.kind {
        DeadlineKind::Pickup => pb::DeadlineKind::Pickup,
        DeadlineKind::Report => pb::DeadlineKind::Report,
    };
    pb::Deadline {
        kind: kind.into(),
        due_at: Some(timestamp(deadline.due_at)),
    }
}

fn person(person: &Person) -> pb::Person {
    let sex = match person.sex {
        Sex::Male => pb::Sex::Male,
        Sex::Female => pb::Sex::Female,
    };
    pb::Person {
        id_number: person.id_number.expose().to_owned(),
        name: person.name.clone(),
        sex: sex.into(),
        household_region: person.household_region.to_string(),
        residence_region: person
            .residence_region
            .map(|r| r.to_string())
            .unwrap_or_default(),
        residence_consent: person.residence_consent,
    }
}

fn text(value: Option<&impl ToString>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

pub fn event(recorded: &RecordedEvent) -> pb::CaseEvent {
    use pb::case_event::Detail;
    let detail = match &recorded.event {
        CaseEvent::ReleaseAnnounced {
            planned_release_date,
            executing_region,
            project,
            ..
        } => Detail::ReleaseAnnounced(pb::ReleaseAnnounced {
            planned_release_date: planned_release_date.to_string(),
            executing_region: executing_region.to_string(),
            project_id: text(project.as_ref()),
        }),
        CaseEvent::Discharged {
            released_at,
            executing_region,
            project,
            late_notice,
            ..
        } => Detail::Discharged(pb::Discharged {
            released_at: Some(timestamp(*released_at)),
            executing_region: executing_region.to_string(),
            project_id: text(project.as_ref()),
            late_notice: *late_notice,
        }),
    };
    pb::CaseEvent {
        sequence: recorded.sequence,
        at: Some(timestamp(recorded.at)),
        agency_id: recorded.by.to_string(),
        detail: Some(detail),
    }
}

/// A case for the wire, with the deadlines that apply now.
pub fn case(case: &Case, deadlines: &[Deadline]) -> pb::Case {
    pb::Case {
        case_id: case.id.to_string(),
        decision_number: case.decision_number.as_str().to_owned(),
        person: Some(person(&case.person)),
        detox_center_id: case.detox_center.to_string(),
        state: case_state(case.state).into(),
        executing_region: case.executing_region.to_string(),
        responsible_project_id: text(case.responsible.as_ref()),
        unroutable: case.is_unroutable(),
        term_months: case.term.months(),
        planned_release_date: text(case.planned_release_date.as_ref()),
        released_at: case.released_at.map(timestamp),
        late_notice: case.late_notice,
        deadlines: deadlines.iter().map(deadline).collect(),
        version: case.version(),
        history: case.history.iter().map(event).collect(),
    }
}

pub fn inbox_message(message: &InboxMessage, deadlines: &[Deadline]) -> pb::InboxMessage {
    let notice = &message.notice;
    let mut summary = case(&notice.case, deadlines);
    summary.version = notice.event.sequence;
    pb::InboxMessage {
        position: message.position,
        created_at: Some(timestamp(message.created_at)),
        role: recipient_role(notice.role).into(),
        event: Some(event(&notice.event)),
        case: Some(summary),
    }
}

pub fn receipt(submitted: &Submitted) -> pb::Receipt {
    let outcome = &submitted.outcome;
    pb::Receipt {
        request_id: submitted.request_id.clone(),
        case_id: outcome.case_id.to_string(),
        state: case_state(outcome.state).into(),
        executing_region: outcome.executing_region.to_string(),
        responsible_project_id: text(outcome.responsible.as_ref()),
        unroutable: outcome.responsible.is_none() && outcome.state != CaseState::Announced,
        late_notice: outcome.late_notice,
        deliveries: outcome
            .deliveries
            .iter()
            .map(|d| pb::Delivery {
                agency_id: d.agency.to_string(),
                role: recipient_role(d.role).into(),
                position: d.position,
            })
            .collect(),
        accepted_at: Some(timestamp(outcome.accepted_at)),
    }
}
