//! Protobuf to domain at the edge, and back.

use prost_types::Timestamp;
use time::OffsetDateTime;

pub use super::events::{case_state, recipient_role};
use super::events::{closure_reason, deadline_kind, event};
use super::pb;
use crate::domain::agency::AgencyKind;
use crate::domain::case::{Case, CaseState};
use crate::domain::deadline::Deadline;
use crate::domain::intake::{AnnouncementDraft, DischargeDraft};
use crate::domain::notice::InboxMessage;
use crate::domain::person::{Person, PersonDraft, Sex};
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

fn deadline(deadline: &Deadline) -> pb::Deadline {
    pb::Deadline {
        kind: deadline_kind(deadline.kind).into(),
        due_at: Some(timestamp(deadline.due_at)),
        escalated: deadline.escalated,
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

/// A case for the wire, with the deadlines that apply now and whether any
/// is overdue at `now`.
pub fn case(case: &Case, deadlines: &[Deadline], now: OffsetDateTime) -> pb::Case {
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
        transfer: case.transfer.as_ref().map(|transfer| pb::Transfer {
            to_region: transfer.to_region.to_string(),
            to_project_id: transfer.to_project.to_string(),
            reason: transfer.reason.clone(),
            requested_at: Some(timestamp(transfer.requested.at)),
            accepted_at: transfer.accepted.map(|a| timestamp(a.at)),
        }),
        closure_reason: case
            .closure
            .map_or(pb::ClosureReason::Unspecified, closure_reason)
            .into(),
        supervision_started_at: case.supervision_started.map(|s| timestamp(s.at)),
        overdue: deadlines.iter().any(|d| d.due_at <= now),
    }
}

/// A case without its history for the wire, as lists and messages carry
/// it: its version, which the history would have told, given apart.
pub fn summary(case: &Case, version: u32, deadlines: &[Deadline], now: OffsetDateTime) -> pb::Case {
    pb::Case {
        version,
        history: Vec::new(),
        ..self::case(case, deadlines, now)
    }
}

/// A message for the wire: its case as it stood right after the event,
/// overdue as it was then, so that a message replayed a week later does
/// not raise an alarm its case no longer has.
pub fn inbox_message(message: &InboxMessage, deadlines: &[Deadline]) -> pb::InboxMessage {
    let notice = &message.notice;
    let summary = summary(
        &notice.case,
        notice.event.sequence,
        deadlines,
        notice.event.at,
    );
    pb::InboxMessage {
        position: message.position,
        created_at: Some(timestamp(message.created_at)),
        role: recipient_role(notice.role).into(),
        event: Some(event(&notice.event)),
        case: Some(summary),
        withheld: String::new(),
        unreadable: String::new(),
    }
}

/// What a receipt's signature covers, from an accepted submission. A
/// replay builds the same content from the stored answer, so it is signed
/// to the same bytes.
pub fn receipt_content(submitted: &Submitted) -> pb::ReceiptContent {
    let outcome = &submitted.outcome;
    pb::ReceiptContent {
        request_id: submitted.request_id.clone(),
        agency_id: submitted.agency.to_string(),
        content_digest: submitted.content_digest.to_vec(),
        case_id: outcome.case_id.to_string(),
        state: case_state(outcome.state).into(),
        version: outcome.version,
        executing_region: outcome.executing_region.to_string(),
        responsible_project_id: text(outcome.responsible.as_ref()),
        // A case no project runs is unroutable once discharged: not while
        // announced, nor once its announcement is withdrawn (closed before
        // any discharge). A discharged case is closed only by its project.
        unroutable: outcome.responsible.is_none()
            && !matches!(outcome.state, CaseState::Announced | CaseState::Closed),
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

#[cfg(test)]
mod proptests;
