//! One helper per supervision call, so lifecycle tests read as the steps a
//! county project takes.

use handover_gateway::api::pb;
use handover_gateway::domain::agency::AgencyId;
use handover_gateway::domain::case::CaseId;
use tonic::Status;

use crate::support::*;

pub type Answer = Result<pb::Receipt, Status>;

/// A person living in Yingze (140106), discharged without notice, and the
/// receipt; `seq` keeps identity numbers and decisions apart.
pub async fn discharged_in_yingze(app: &App, seq: u32) -> pb::Receipt {
    let person = person(&id_number("19850101", seq), "140106", None);
    submit_as_detox(
        app,
        discharge(&format!("d-{seq}"), &format!("D-{seq}"), person),
    )
    .await
}

/// `person`'s release announced by Taiyuan's detox center for
/// 2026-12-08, as `decision`; the receipt.
pub async fn announce_in(
    app: &App,
    request_id: &str,
    decision: &str,
    person: pb::Person,
) -> pb::Receipt {
    let request = pb::AnnounceReleaseRequest {
        request_id: request_id.into(),
        decision_number: decision.into(),
        person: Some(person),
        planned_release_date: "2026-12-08".into(),
        term_months: 36,
    };
    announce(app, request).await
}

/// Receipt of `request`, sent by Taiyuan's detox center.
pub async fn announce(app: &App, request: pb::AnnounceReleaseRequest) -> pb::Receipt {
    let response = app
        .intake("taiyuan-detox")
        .await
        .announce_release(request)
        .await;
    response.unwrap().into_inner().receipt.unwrap()
}

/// The detox center withdraws the announcement of `case_id`.
pub async fn withdraw_announcement(app: &App, agency: &str, case_id: &str, reason: &str) -> Answer {
    let request = pb::WithdrawAnnouncementRequest {
        request_id: format!("withdraw-{case_id}-{}", reason.replace(' ', "_")),
        case_id: case_id.into(),
        expected_version: None,
        reason: reason.into(),
    };
    let response = app
        .supervision(agency)
        .await
        .withdraw_announcement(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

/// The events of `case_id` in `agency`'s inbox, by name.
pub async fn heard(app: &App, agency: &str, case_id: &str) -> Vec<&'static str> {
    let id = CaseId::parse(case_id).unwrap();
    let inbox = app
        .gateway
        .storage()
        .inbox_after(&AgencyId::parse(agency).unwrap(), 0, 1000)
        .await
        .unwrap()
        .opened();
    inbox
        .iter()
        .filter(|m| m.notice.case_id() == &id)
        .map(|m| m.notice.event.event.name())
        .collect()
}

pub async fn pickup(app: &App, agency: &str, case_id: &str) -> Answer {
    let request = pb::ConfirmPickupRequest {
        request_id: format!("pickup-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
    };
    let response = app
        .supervision(agency)
        .await
        .confirm_pickup(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn report(app: &App, agency: &str, case_id: &str) -> Answer {
    let request = pb::ConfirmReportRequest {
        request_id: format!("report-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
    };
    let response = app
        .supervision(agency)
        .await
        .confirm_report(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn request_transfer(app: &App, agency: &str, case_id: &str, to: &str) -> Answer {
    let request = pb::RequestTransferRequest {
        request_id: format!("transfer-{case_id}-{to}"),
        case_id: case_id.into(),
        expected_version: None,
        to_region: to.into(),
        reason: "moved in with family".into(),
    };
    let response = app
        .supervision(agency)
        .await
        .request_transfer(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn accept(app: &App, agency: &str, case_id: &str, version: Option<u32>) -> Answer {
    let request = pb::AcceptTransferRequest {
        request_id: format!("accept-{case_id}"),
        case_id: case_id.into(),
        expected_version: version,
    };
    let response = app
        .supervision(agency)
        .await
        .accept_transfer(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn reject(app: &App, agency: &str, case_id: &str) -> Answer {
    let request = pb::RejectTransferRequest {
        request_id: format!("reject-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
        reason: "no capacity".into(),
    };
    let response = app
        .supervision(agency)
        .await
        .reject_transfer(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn withdraw(app: &App, agency: &str, case_id: &str, version: Option<u32>) -> Answer {
    let request = pb::WithdrawTransferRequest {
        request_id: format!("withdraw-{case_id}"),
        case_id: case_id.into(),
        expected_version: version,
        reason: String::new(),
    };
    let response = app
        .supervision(agency)
        .await
        .withdraw_transfer(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn arrive(app: &App, agency: &str, case_id: &str) -> Answer {
    let request = pb::ConfirmArrivalRequest {
        request_id: format!("arrive-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
    };
    let response = app
        .supervision(agency)
        .await
        .confirm_arrival(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

/// Yingze's project notifies a stay in Xiaodian from `from` to `until`.
pub async fn notify_absence(app: &App, case_id: &str, from: &str, until: &str) -> Answer {
    let request = pb::NotifyAbsenceRequest {
        request_id: format!("absence-{case_id}-{from}"),
        case_id: case_id.into(),
        expected_version: None,
        host_region: "140105".into(),
        from: from.into(),
        until: until.into(),
        reason: "seasonal work".into(),
    };
    let response = app
        .supervision("yingze-project")
        .await
        .notify_absence(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

pub async fn lose_contact(app: &App, agency: &str, case_id: &str) -> Answer {
    let request = pb::ReportLostContactRequest {
        request_id: format!("lost-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
        note: "not at home for two visits".into(),
    };
    let response = app
        .supervision(agency)
        .await
        .report_lost_contact(request)
        .await?;
    Ok(response.into_inner().receipt.unwrap())
}

/// The kinds of deadline escalated in the case's history, in order.
pub async fn escalations(app: &App, case_id: &str) -> Vec<pb::DeadlineKind> {
    app.case_for_office(case_id)
        .await
        .history
        .iter()
        .filter_map(|event| match &event.detail {
            Some(pb::case_event::Detail::DeadlineMissed(missed)) => Some(missed.kind()),
            _ => None,
        })
        .collect()
}

/// The event kind of an inbox message, for short assertions.
pub fn event_name(message: &pb::InboxMessage) -> &'static str {
    use pb::case_event::Detail;
    match message.event.as_ref().and_then(|e| e.detail.as_ref()) {
        Some(Detail::Discharged(_)) => "discharged",
        Some(Detail::PickedUp(_)) => "picked-up",
        Some(Detail::Reported(_)) => "reported",
        Some(Detail::TransferRequested(_)) => "transfer-requested",
        Some(Detail::TransferAccepted(_)) => "transfer-accepted",
        Some(Detail::TransferRejected(_)) => "transfer-rejected",
        Some(Detail::TransferWithdrawn(_)) => "transfer-withdrawn",
        Some(Detail::Arrived(_)) => "arrived",
        Some(Detail::ContactLost(_)) => "contact-lost",
        Some(Detail::DeadlineMissed(_)) => "deadline-missed",
        Some(_) => "other",
        None => "none",
    }
}

pub async fn close(app: &App, agency: &str, case_id: &str, reason: pb::ClosureReason) -> Answer {
    let request = pb::CloseCaseRequest {
        request_id: format!("close-{case_id}"),
        case_id: case_id.into(),
        expected_version: None,
        reason: reason.into(),
        note: String::new(),
    };
    let response = app.supervision(agency).await.close_case(request).await?;
    Ok(response.into_inner().receipt.unwrap())
}
