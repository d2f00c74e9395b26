//! A case's events as the client shows them: a name, the particulars in a
//! few words for people, and every field for scripts.

use serde_json::{Value, json};

use super::output::{at, enum_name};
use crate::api::pb;
use crate::api::pb::case_event::Detail;

pub fn name(event: &pb::CaseEvent) -> &'static str {
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
        Some(Detail::Assigned(_)) => "assigned",
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

pub fn closure_reason(value: i32) -> String {
    let name = pb::ClosureReason::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "CLOSURE_REASON_")
}

pub fn deadline_kind(value: i32) -> String {
    let name = pb::DeadlineKind::try_from(value)
        .unwrap_or_default()
        .as_str_name();
    enum_name(name, "DEADLINE_KIND_")
}

fn project(id: &str) -> &str {
    if id.is_empty() { "no project" } else { id }
}

/// Where the event points, to follow its name: ` to 140105
/// (xiaodian-project)`, ` pickup due ...`; empty for most events.
pub fn target(event: &pb::CaseEvent) -> String {
    match &event.detail {
        Some(Detail::TransferRequested(d)) => {
            format!(" to {} ({})", d.to_region, project(&d.to_project_id))
        }
        Some(Detail::AbsenceNotified(d)) => format!(
            " in {} ({}) {} to {}",
            d.host_region,
            project(&d.host_project_id),
            d.from,
            d.until
        ),
        Some(Detail::Closed(d)) => format!(" ({})", closure_reason(d.reason)),
        Some(Detail::Assigned(d)) => {
            format!(" to {} ({})", d.executing_region, project(&d.project_id))
        }
        Some(Detail::DeadlineMissed(d)) => {
            format!(" {} due {}", deadline_kind(d.kind), at(d.due_at.as_ref()))
        }
        Some(Detail::ReleaseAnnounced(d)) => still_open(&d.earlier_open_cases),
        Some(Detail::Discharged(d)) => still_open(&d.earlier_open_cases),
        _ => String::new(),
    }
}

/// ` while still open: case <id> in <county> (<project>), case …`; empty
/// when no other case of the person was open.
fn still_open(cases: &[pb::EarlierCase]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let cases: Vec<String> = cases
        .iter()
        .map(|c| {
            let project = project(&c.project_id);
            format!("{} in {} ({project})", c.case_id, c.executing_region)
        })
        .collect();
    format!(" while still open: case {}", cases.join(", case "))
}

fn still_open_json(cases: &[pb::EarlierCase]) -> Vec<Value> {
    cases
        .iter()
        .map(|c| {
            json!({
                "case_id": c.case_id, "executing_region": c.executing_region,
                "project_id": c.project_id, "oversight_id": c.oversight_id,
            })
        })
        .collect()
}

/// The reason or note the agency gave; empty when none.
pub fn note(event: &pb::CaseEvent) -> &str {
    match &event.detail {
        Some(Detail::TransferRequested(d)) => &d.reason,
        Some(Detail::Assigned(d)) => &d.reason,
        Some(Detail::TransferRejected(d)) => &d.reason,
        Some(Detail::TransferWithdrawn(d)) => &d.reason,
        Some(Detail::AbsenceNotified(d)) => &d.reason,
        Some(Detail::ContactLost(d)) => &d.note,
        Some(Detail::ContactRestored(d)) => &d.note,
        Some(Detail::Suspended(d)) => &d.reason,
        Some(Detail::Closed(d)) => &d.note,
        _ => "",
    }
}

fn detail_json(event: &pb::CaseEvent) -> Value {
    match &event.detail {
        Some(Detail::ReleaseAnnounced(d)) => json!({
            "planned_release_date": d.planned_release_date,
            "executing_region": d.executing_region, "project_id": d.project_id,
            "earlier_open_cases": still_open_json(&d.earlier_open_cases),
        }),
        Some(Detail::Discharged(d)) => json!({
            "released_at": at(d.released_at.as_ref()), "executing_region": d.executing_region,
            "project_id": d.project_id, "late_notice": d.late_notice,
            "earlier_open_cases": still_open_json(&d.earlier_open_cases),
        }),
        Some(Detail::TransferRequested(d)) => json!({
            "to_region": d.to_region, "to_project_id": d.to_project_id, "reason": d.reason,
        }),
        Some(Detail::AbsenceNotified(d)) => json!({
            "host_region": d.host_region, "host_project_id": d.host_project_id,
            "from": d.from, "until": d.until, "reason": d.reason,
        }),
        Some(Detail::Closed(d)) => json!({"reason": closure_reason(d.reason), "note": d.note}),
        Some(Detail::Assigned(d)) => json!({
            "executing_region": d.executing_region, "project_id": d.project_id, "reason": d.reason,
        }),
        Some(Detail::DeadlineMissed(d)) => json!({
            "kind": deadline_kind(d.kind), "due_at": at(d.due_at.as_ref()),
        }),
        Some(Detail::TransferRejected(_) | Detail::TransferWithdrawn(_) | Detail::Suspended(_)) => {
            json!({"reason": note(event)})
        }
        Some(Detail::ContactLost(_) | Detail::ContactRestored(_)) => json!({"note": note(event)}),
        _ => json!({}),
    }
}

pub fn event_json(event: &pb::CaseEvent) -> Value {
    json!({
        "sequence": event.sequence, "at": at(event.at.as_ref()), "agency_id": event.agency_id,
        "type": name(event), "detail": detail_json(event),
    })
}

/// One line of a case's history: `#3 <at> transfer-requested to 140105
/// (xiaodian-project) by yingze-project: moved in with family`.
pub fn line(event: &pb::CaseEvent) -> String {
    let note = note(event);
    format!(
        "#{} {} {}{} by {}{}",
        event.sequence,
        at(event.at.as_ref()),
        name(event),
        target(event),
        event.agency_id,
        if note.is_empty() {
            String::new()
        } else {
            format!(": {note}")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discharged(earlier: &[(&str, &str, &str)]) -> pb::CaseEvent {
        let earlier_open_cases = earlier
            .iter()
            .map(|(case_id, region, project)| pb::EarlierCase {
                case_id: (*case_id).into(),
                executing_region: (*region).into(),
                project_id: (*project).into(),
                oversight_id: String::new(),
            })
            .collect();
        pb::CaseEvent {
            detail: Some(Detail::Discharged(pb::Discharged {
                earlier_open_cases,
                ..pb::Discharged::default()
            })),
            ..pb::CaseEvent::default()
        }
    }

    #[test]
    fn a_discharge_names_the_cases_still_open_for_people_and_scripts() {
        let event = discharged(&[("c-1", "140106", "yingze-project"), ("c-2", "140108", "")]);
        assert_eq!(
            target(&event),
            " while still open: case c-1 in 140106 (yingze-project), case c-2 in 140108 (no project)"
        );
        let json = event_json(&event);
        assert_eq!(
            json["detail"]["earlier_open_cases"][1],
            json!({"case_id": "c-2", "executing_region": "140108", "project_id": "", "oversight_id": ""})
        );
        assert_eq!(target(&discharged(&[])), "");
    }
}
