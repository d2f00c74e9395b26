//! What the client prints: short text for people, JSON for scripts.
//! Text output masks identity numbers; JSON carries what the gateway sent.

use prost_types::Timestamp;
use serde_json::{Value, json};

use super::history;
use crate::api::pb;
use crate::gateway::to_hex;

pub(super) fn at(timestamp: Option<&Timestamp>) -> String {
    timestamp
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.seconds).ok())
        .map(|t| t.to_offset(crate::domain::clock::CHINA))
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub(super) fn mask(id: &str) -> String {
    match (id.get(..6), id.get(14..)) {
        (Some(head), Some(tail)) if id.len() == 18 => format!("{head}********{tail}"),
        _ => "******".into(),
    }
}

pub(super) fn enum_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix)
        .to_ascii_lowercase()
        .replace('_', "-")
}

pub(super) fn state(value: i32) -> String {
    let name = pb::CaseState::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "CASE_STATE_")
}

pub(super) fn role(value: i32) -> String {
    let name = pb::RecipientRole::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "RECIPIENT_ROLE_")
}

pub(super) fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// A refused call, as the error the binary prints.
pub fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

/// A receipt as JSON, with its signature in hex: saved as it is printed, it
/// can be checked offline with `handover-gateway receipt verify`.
pub(super) fn receipt_json(receipt: &pb::Receipt) -> Value {
    json!({
        "request_id": receipt.request_id,
        "case_id": receipt.case_id,
        "state": state(receipt.state),
        "executing_region": receipt.executing_region,
        "responsible_project_id": receipt.responsible_project_id,
        "unroutable": receipt.unroutable,
        "late_notice": receipt.late_notice,
        "accepted_at": at(receipt.accepted_at.as_ref()),
        "version": receipt.version,
        "deliveries": receipt.deliveries.iter().map(|d| json!({
            "agency_id": d.agency_id, "role": role(d.role), "position": d.position,
        })).collect::<Vec<_>>(),
        "signed_content": to_hex(&receipt.signed_content),
        "signature": to_hex(&receipt.signature),
        "signing_key_id": receipt.signing_key_id,
    })
}

/// The receipt of an announcement or a discharge.
pub fn receipt(receipt: Option<&pb::Receipt>, json: bool) -> anyhow::Result<()> {
    print_receipt(receipt, json, true)
}

/// The receipt of a county project's command: like an intake receipt, but
/// without the late-notice remark, which stays true for the case's life.
pub fn command_receipt(receipt: Option<&pb::Receipt>, json: bool) -> anyhow::Result<()> {
    print_receipt(receipt, json, false)
}

fn print_receipt(receipt: Option<&pb::Receipt>, json: bool, intake: bool) -> anyhow::Result<()> {
    let receipt = receipt.ok_or_else(|| anyhow::anyhow!("the gateway sent no receipt"))?;
    if json {
        return print_json(&receipt_json(receipt));
    }
    println!(
        "accepted: case {} ({}), version {}",
        receipt.case_id,
        state(receipt.state),
        receipt.version
    );
    if receipt.state() == pb::CaseState::Announced {
        println!(
            "  announced to executing county {}",
            receipt.executing_region
        );
    } else if receipt.unroutable {
        println!(
            "  executing county {} has no project: sent to oversight as unroutable",
            receipt.executing_region
        );
    } else {
        println!(
            "  executing county {}, responsible project {}",
            receipt.executing_region, receipt.responsible_project_id
        );
    }
    if intake && receipt.late_notice {
        println!("  note: the pre-release notice is late (less than 3 days before release)");
    }
    for delivery in &receipt.deliveries {
        println!(
            "  delivered to {} at #{} ({})",
            delivery.agency_id,
            delivery.position,
            role(delivery.role)
        );
    }
    if receipt.deliveries.is_empty() {
        println!("  delivered to nobody else");
    }
    Ok(())
}

pub(super) fn case_json(case: &pb::Case) -> Value {
    let person = case.person.clone().unwrap_or_default();
    let optional_at = |t: Option<&Timestamp>| t.map_or(Value::Null, |t| at(Some(t)).into());
    json!({
        "case_id": case.case_id,
        "decision_number": case.decision_number,
        "person": {
            "id_number": person.id_number, "name": person.name,
            "household_region": person.household_region, "residence_region": person.residence_region,
            "residence_consent": person.residence_consent,
        },
        "detox_center_id": case.detox_center_id,
        "state": state(case.state),
        "executing_region": case.executing_region,
        "responsible_project_id": case.responsible_project_id,
        "unroutable": case.unroutable,
        "term_months": case.term_months,
        "planned_release_date": case.planned_release_date,
        "released_at": at(case.released_at.as_ref()),
        "late_notice": case.late_notice,
        "version": case.version,
        "transfer": case.transfer.as_ref().map_or(Value::Null, |t| json!({
            "to_region": t.to_region, "to_project_id": t.to_project_id, "reason": t.reason,
            "requested_at": at(t.requested_at.as_ref()),
            "accepted_at": optional_at(t.accepted_at.as_ref()),
        })),
        "closure_reason": match case.closure_reason() {
            pb::ClosureReason::Unspecified => Value::Null,
            _ => history::closure_reason(case.closure_reason).into(),
        },
        "supervision_started_at": optional_at(case.supervision_started_at.as_ref()),
        "overdue": case.overdue,
        "deadlines": case.deadlines.iter().map(|d| json!({
            "kind": history::deadline_kind(d.kind),
            "due_at": at(d.due_at.as_ref()),
            "escalated": d.escalated,
        })).collect::<Vec<_>>(),
        "history": case.history.iter().map(history::event_json).collect::<Vec<_>>(),
    })
}

/// The state as a person reads it: a pending transfer says whether the
/// receiving project answered, a closed case why it closed.
pub(super) fn state_text(case: &pb::Case) -> String {
    let name = state(case.state);
    match (case.state(), &case.transfer) {
        (pb::CaseState::TransferPending, Some(t)) if t.accepted_at.is_some() => {
            format!("{name}, accepted by {}", t.to_project_id)
        }
        (pb::CaseState::TransferPending, Some(t)) => {
            format!("{name}, awaiting {}", t.to_project_id)
        }
        (pb::CaseState::Closed, _) => {
            format!("{name}, {}", history::closure_reason(case.closure_reason))
        }
        _ => name,
    }
}

pub fn case(case: Option<&pb::Case>, json: bool) -> anyhow::Result<()> {
    let case = case.ok_or_else(|| anyhow::anyhow!("the gateway sent no case"))?;
    if json {
        return print_json(&case_json(case));
    }
    let person = case.person.clone().unwrap_or_default();
    println!(
        "case {} ({}), decision {}, version {}",
        case.case_id,
        state_text(case),
        case.decision_number,
        case.version
    );
    println!(
        "  person {} {}, household {}",
        person.name,
        mask(&person.id_number),
        person.household_region
    );
    let responsible = if case.responsible_project_id.is_empty() {
        "none"
    } else {
        &case.responsible_project_id
    };
    println!(
        "  executing county {}, responsible project {responsible}",
        case.executing_region
    );
    if let Some(transfer) = &case.transfer {
        let answer = match &transfer.accepted_at {
            Some(accepted) => format!("accepted {}", at(Some(accepted))),
            None => "not answered yet".into(),
        };
        println!(
            "  transfer to {} ({}) requested {}, {answer}: {}",
            transfer.to_region,
            transfer.to_project_id,
            at(transfer.requested_at.as_ref()),
            transfer.reason
        );
    }
    if let Some(started) = &case.supervision_started_at {
        println!(
            "  supervised since {}, term {} months",
            at(Some(started)),
            case.term_months
        );
    }
    if case.overdue {
        println!("  OVERDUE: a deadline has passed unmet");
    }
    for deadline in &case.deadlines {
        println!(
            "  {} due {}{}",
            history::deadline_kind(deadline.kind),
            at(deadline.due_at.as_ref()),
            if deadline.escalated {
                " (missed, escalated)"
            } else {
                ""
            }
        );
    }
    for event in &case.history {
        println!("  {}", history::line(event));
    }
    Ok(())
}

pub fn message(message: &pb::InboxMessage, json: bool) -> anyhow::Result<()> {
    if !message.withheld.is_empty() || !message.unreadable.is_empty() {
        return place_only(message, json);
    }
    let case = message.case.clone().unwrap_or_default();
    let event = message.event.clone().unwrap_or_default();
    if json {
        return print_json(&json!({
            "position": message.position,
            "created_at": at(message.created_at.as_ref()),
            "role": role(message.role),
            "event": history::event_json(&event),
            "case": case_json(&case),
        }));
    }
    let person = case.person.clone().unwrap_or_default();
    println!(
        "#{} {} {}{}: case {} {} {} -> county {} ({}) [you: {}]",
        message.position,
        at(message.created_at.as_ref()),
        history::name(&event),
        history::target(&event),
        case.case_id,
        person.name,
        mask(&person.id_number),
        case.executing_region,
        if case.state() == pb::CaseState::Announced {
            "announced, not yet responsible"
        } else if case.unroutable {
            "unroutable: no project"
        } else {
            &case.responsible_project_id
        },
        role(message.role),
    );
    Ok(())
}

/// A message whose case the caller may no longer read, or that does not
/// open: its place only.
fn place_only(message: &pb::InboxMessage, json: bool) -> anyhow::Result<()> {
    let (label, reason) = if message.unreadable.is_empty() {
        ("withheld", &message.withheld)
    } else {
        ("unreadable", &message.unreadable)
    };
    if json {
        return print_json(&json!({
            "position": message.position,
            "created_at": at(message.created_at.as_ref()),
            "role": role(message.role),
            label: reason,
        }));
    }
    println!(
        "#{} {} {label}: {reason} [you: {}]",
        message.position,
        at(message.created_at.as_ref()),
        role(message.role),
    );
    Ok(())
}

pub fn heartbeat(beat: &pb::Heartbeat, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(
            &json!({"heartbeat": at(beat.at.as_ref()), "head_position": beat.head_position,
            "acknowledged_position": beat.acknowledged_position}),
        );
    }
    eprintln!(
        "(idle; inbox head #{}, acknowledged #{})",
        beat.head_position, beat.acknowledged_position
    );
    Ok(())
}

pub fn acknowledged(response: &pb::AcknowledgeResponse, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(
            &json!({"acknowledged_position": response.acknowledged_position,
            "head_position": response.head_position}),
        );
    }
    println!(
        "acknowledged up to #{} (inbox head #{})",
        response.acknowledged_position, response.head_position
    );
    Ok(())
}
