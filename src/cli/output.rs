//! What the client prints: short text for people, JSON for scripts.
//! Text output masks identity numbers; JSON carries what the gateway sent.

use prost_types::Timestamp;
use serde_json::{Value, json};

use crate::api::pb;

fn at(timestamp: Option<&Timestamp>) -> String {
    timestamp
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.seconds).ok())
        .map(|t| t.to_offset(crate::domain::clock::CHINA))
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn mask(id: &str) -> String {
    match (id.get(..6), id.get(14..)) {
        (Some(head), Some(tail)) if id.len() == 18 => format!("{head}********{tail}"),
        _ => "******".into(),
    }
}

fn enum_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix)
        .to_ascii_lowercase()
        .replace('_', "-")
}

fn state(value: i32) -> String {
    let name = pb::CaseState::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "CASE_STATE_")
}

fn role(value: i32) -> String {
    let name = pb::RecipientRole::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "RECIPIENT_ROLE_")
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// A refused call, as the error the binary prints.
pub fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

fn receipt_json(receipt: &pb::Receipt) -> Value {
    json!({
        "request_id": receipt.request_id,
        "case_id": receipt.case_id,
        "state": state(receipt.state),
        "executing_region": receipt.executing_region,
        "responsible_project_id": receipt.responsible_project_id,
        "unroutable": receipt.unroutable,
        "late_notice": receipt.late_notice,
        "accepted_at": at(receipt.accepted_at.as_ref()),
        "deliveries": receipt.deliveries.iter().map(|d| json!({
            "agency_id": d.agency_id, "role": role(d.role), "position": d.position,
        })).collect::<Vec<_>>(),
    })
}

pub fn receipt(receipt: Option<&pb::Receipt>, json: bool) -> anyhow::Result<()> {
    let receipt = receipt.ok_or_else(|| anyhow::anyhow!("the gateway sent no receipt"))?;
    if json {
        return print_json(&receipt_json(receipt));
    }
    println!(
        "accepted: case {} ({})",
        receipt.case_id,
        state(receipt.state)
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
    if receipt.late_notice {
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
    Ok(())
}

fn case_json(case: &pb::Case) -> Value {
    let person = case.person.clone().unwrap_or_default();
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
        "deadlines": case.deadlines.iter().map(|d| json!({
            "kind": enum_name(pb::DeadlineKind::try_from(d.kind).unwrap_or_default().as_str_name(), "DEADLINE_KIND_"),
            "due_at": at(d.due_at.as_ref()),
        })).collect::<Vec<_>>(),
        "history": case.history.iter().map(event_json).collect::<Vec<_>>(),
    })
}

fn event_name(event: &pb::CaseEvent) -> &'static str {
    use pb::case_event::Detail;
    match event.detail {
        Some(Detail::ReleaseAnnounced(_)) => "release-announced",
        Some(Detail::Discharged(_)) => "discharged",
        Some(Detail::PickedUp(_)) => "picked-up",
        Some(Detail::Reported(_)) => "reported",
        Some(Detail::TransferRequested(_)) => "transfer-requested",
        Some(Detail::TransferAccepted(_)) => "transfer-accepted",
        Some(Detail::TransferRejected(_)) => "transfer-rejected",
        Some(Detail::TransferWithdrawn(_)) => "transfer-withdrawn",
        Some(Detail::Arrived(_)) => "arrived",
        Some(Detail::AbsenceNotified(_)) => "absence-notified",
        Some(Detail::ContactLost(_)) => "contact-lost",
        Some(Detail::ContactRestored(_)) => "contact-restored",
        Some(Detail::Suspended(_)) => "suspended",
        Some(Detail::Resumed(_)) => "resumed",
        Some(Detail::Closed(_)) => "closed",
        Some(Detail::DeadlineMissed(_)) => "deadline-missed",
        None => "unknown",
    }
}

fn event_json(event: &pb::CaseEvent) -> Value {
    json!({"sequence": event.sequence, "at": at(event.at.as_ref()), "agency_id": event.agency_id, "type": event_name(event)})
}

pub fn case(case: Option<&pb::Case>, json: bool) -> anyhow::Result<()> {
    let case = case.ok_or_else(|| anyhow::anyhow!("the gateway sent no case"))?;
    if json {
        return print_json(&case_json(case));
    }
    let person = case.person.clone().unwrap_or_default();
    println!(
        "case {} ({}), decision {}",
        case.case_id,
        state(case.state),
        case.decision_number
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
    for deadline in &case.deadlines {
        let kind = enum_name(
            pb::DeadlineKind::try_from(deadline.kind)
                .unwrap_or_default()
                .as_str_name(),
            "DEADLINE_KIND_",
        );
        println!("  {kind} due {}", at(deadline.due_at.as_ref()));
    }
    for event in &case.history {
        println!(
            "  #{} {} {} by {}",
            event.sequence,
            at(event.at.as_ref()),
            event_name(event),
            event.agency_id
        );
    }
    Ok(())
}

pub fn message(message: &pb::InboxMessage, json: bool) -> anyhow::Result<()> {
    let case = message.case.clone().unwrap_or_default();
    let event = message.event.clone().unwrap_or_default();
    if json {
        return print_json(&json!({
            "position": message.position,
            "created_at": at(message.created_at.as_ref()),
            "role": role(message.role),
            "event": event_json(&event),
            "case": case_json(&case),
        }));
    }
    let person = case.person.clone().unwrap_or_default();
    println!(
        "#{} {} {}: case {} {} {} -> county {} ({}) [you: {}]",
        message.position,
        at(message.created_at.as_ref()),
        event_name(&event),
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
