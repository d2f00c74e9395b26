//! The authorization table, checked on the real server: every agency of
//! every kind, in every relation to a case, makes every call, and each
//! answer is the one the policy table (`src/domain/policy.rs`) gives.

use handover_gateway::api::pb;
use handover_gateway::api::pb::get_case_request::Key;
use handover_gateway::bootstrap::issue_agency;
use handover_gateway::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use handover_gateway::domain::policy::{self, Call, Relation};
use handover_gateway::domain::region::RegionCode;
use tonic::Code;

use crate::steps::*;
use crate::support::*;

/// An agency that makes the calls, and what it is to the case under test.
struct Caller {
    id: &'static str,
    kind: AgencyKind,
    /// It sees the case whatever its state (submitter, county, city,
    /// province).
    always_sees: bool,
    /// It sees the case once a transfer to Xiaodian was requested.
    sees_the_transfer: bool,
    /// Its jurisdiction covers Yingze (140106), the county listed.
    covers_yingze: bool,
}

const fn caller(
    id: &'static str,
    kind: AgencyKind,
    always_sees: bool,
    sees_the_transfer: bool,
    covers_yingze: bool,
) -> Caller {
    Caller {
        id,
        kind,
        always_sees,
        sees_the_transfer,
        covers_yingze,
    }
}

const CALLERS: [Caller; 11] = [
    caller("taiyuan-detox", AgencyKind::DetoxCenter, true, true, false),
    caller("datong-detox", AgencyKind::DetoxCenter, false, false, false),
    caller(
        "yingze-project",
        AgencyKind::CountyProject,
        true,
        true,
        true,
    ),
    caller(
        "xiaodian-project",
        AgencyKind::CountyProject,
        false,
        true,
        false,
    ),
    caller(
        "datong-project",
        AgencyKind::CountyProject,
        false,
        false,
        false,
    ),
    caller("yingze-police", AgencyKind::Police, true, true, true),
    caller("xiaodian-police", AgencyKind::Police, false, true, false),
    caller("taiyuan-police", AgencyKind::Police, true, true, true),
    caller("datong-police", AgencyKind::Police, false, false, false),
    caller("shanxi-office", AgencyKind::Oversight, true, true, true),
    caller("datong-office", AgencyKind::Oversight, false, false, false),
];

/// Datong's agencies, outside every case of these tests.
async fn register_datong(app: &App) {
    let extra = [
        ("datong-detox", AgencyKind::DetoxCenter, "140200"),
        ("datong-project", AgencyKind::CountyProject, "140202"),
        ("datong-police", AgencyKind::Police, "140202"),
        ("datong-office", AgencyKind::Oversight, "140200"),
    ];
    for (id, kind, region) in extra {
        let agency = AgencyRef::new(
            kind,
            RegionCode::parse(region).unwrap(),
            AgencyId::parse(id).unwrap(),
        )
        .unwrap();
        issue_agency(
            &app.ca(),
            app.gateway.storage().as_ref(),
            &certs_dir(app.dir.path()),
            agency,
            id,
        )
        .await
        .unwrap();
    }
}

/// The state a case must be in for `call` to be allowed to the agency the
/// table names: `(transfer requested, transfer accepted)` besides the
/// commands run by [`prepare_case`].
async fn prepare_case(app: &App, call: Call, seq: u32) -> (String, bool) {
    if call == Call::AssignCase {
        // Household in Yingze, living with consent in Jiancaoping (140108),
        // which has no project: unroutable.
        let person = person(&id_number("19850101", seq), "140106", Some("140108"));
        let decision = format!("D-{seq}");
        let receipt = submit_as_detox(app, discharge(&format!("d-{seq}"), &decision, person)).await;
        return (receipt.case_id, false);
    }
    if call == Call::WithdrawAnnouncement {
        let person = person(&id_number("19850101", seq), "140106", None);
        let receipt = announce_in(app, &format!("a-{seq}"), &format!("D-{seq}"), person).await;
        return (receipt.case_id, false);
    }
    let case = discharged_in_yingze(app, seq).await.case_id;
    let project = "yingze-project";
    let under_supervision = !matches!(
        call,
        Call::ConfirmPickup | Call::ConfirmReport | Call::GetCase
    );
    if under_supervision {
        report(app, project, &case).await.unwrap();
    }
    let transfer = matches!(
        call,
        Call::AcceptTransfer | Call::RejectTransfer | Call::WithdrawTransfer | Call::ConfirmArrival
    );
    if transfer {
        request_transfer(app, project, &case, "140105")
            .await
            .unwrap();
    }
    if call == Call::ConfirmArrival {
        accept(app, "xiaodian-project", &case, None).await.unwrap();
    }
    if call == Call::RestoreContact {
        lose_contact(app, project, &case).await.unwrap();
    }
    if call == Call::ResumeCase {
        suspend(app, project, &case).await;
    }
    (case, transfer)
}

async fn suspend(app: &App, agency: &str, case_id: &str) {
    app.supervision(agency)
        .await
        .suspend_case(pb::SuspendCaseRequest {
            request_id: format!("suspend-{case_id}"),
            case_id: case_id.into(),
            expected_version: None,
            reason: "administrative detention".into(),
        })
        .await
        .unwrap();
}

/// What the table says `who` gets for `call` on a case in Yingze.
fn expected(call: Call, who: &Caller, transfer_pending: bool) -> Code {
    let on_a_case = !matches!(
        call,
        Call::AnnounceRelease
            | Call::SubmitDischarge
            | Call::Subscribe
            | Call::Acknowledge
            | Call::ListCases
            | Call::GetAuditHead
    );
    let sees = who.always_sees || (transfer_pending && who.sees_the_transfer);
    // The unroutable case of `AssignCase` executes outside Yingze, so
    // Yingze's project was never told of it; its household police were.
    let sees = sees && !(call == Call::AssignCase && who.id == "yingze-project");
    if on_a_case && !sees {
        return Code::NotFound;
    }
    let allowed = match policy::relation(call, who.kind) {
        None => false,
        Some(Relation::Anyone | Relation::Own | Relation::Sees | Relation::SeesWithPurpose) => true,
        Some(Relation::Jurisdiction) => who.covers_yingze,
        Some(Relation::Submitter) => who.id == "taiyuan-detox",
        Some(Relation::Responsible) => who.id == "yingze-project",
        Some(Relation::TransferReceiver) => who.id == "xiaodian-project",
        // The one office over Jiancaoping, where the unroutable case of
        // `AssignCase` executes.
        Some(Relation::Oversees) => who.id == "shanxi-office",
    };
    if allowed {
        Code::Ok
    } else {
        Code::PermissionDenied
    }
}

/// Makes `call` as `agency` on `case_id`; the answer's code.
async fn make(app: &App, call: Call, agency: &str, case_id: &str, n: u32) -> Code {
    let request_id = format!("authz-{}-{agency}-{n}", call.rpc());
    let c = case_id.to_owned();
    let outcome: Result<(), tonic::Status> = match call {
        Call::AnnounceRelease | Call::SubmitDischarge => {
            let person = person(&id_number("19800101", 500 + n), "140106", None);
            let mut intake = app.intake(agency).await;
            if call == Call::SubmitDischarge {
                let decision = format!("AUTHZ-{n}");
                intake
                    .submit_discharge(discharge(&request_id, &decision, person))
                    .await
                    .map(drop)
            } else {
                intake
                    .announce_release(pb::AnnounceReleaseRequest {
                        request_id,
                        decision_number: format!("AUTHZ-{n}"),
                        person: Some(person),
                        planned_release_date: "2026-12-08".into(),
                        term_months: 36,
                    })
                    .await
                    .map(drop)
            }
        }
        Call::Subscribe => app
            .inbox(agency)
            .await
            .subscribe(pb::SubscribeRequest {
                after_position: Some(0),
            })
            .await
            .map(drop),
        Call::Acknowledge => app
            .inbox(agency)
            .await
            .acknowledge(pb::AcknowledgeRequest { position: 0 })
            .await
            .map(drop),
        Call::GetCase => app
            .cases(agency)
            .await
            .get_case(pb::GetCaseRequest {
                key: Some(Key::CaseId(c)),
                purpose: "authorization table".into(),
            })
            .await
            .map(drop),
        Call::ListCases => app
            .cases(agency)
            .await
            .list_cases(pb::ListCasesRequest {
                county: "140106".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::GetAuditHead => app
            .audit_heads(agency)
            .await
            .get_audit_head(pb::GetAuditHeadRequest {})
            .await
            .map(drop),
        command => supervise(app, command, agency, request_id, c).await,
    };
    match outcome {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn supervise(
    app: &App,
    call: Call,
    agency: &str,
    request_id: String,
    case_id: String,
) -> Result<(), tonic::Status> {
    let mut client = app.supervision(agency).await;
    macro_rules! send {
        ($method:ident, $request:ident { $($field:ident: $value:expr),* }) => {
            client
                .$method(pb::$request {
                    request_id,
                    case_id,
                    expected_version: None,
                    $($field: $value),*
                })
                .await
                .map(drop)
        };
    }
    let reason = || "authorization table".to_owned();
    match call {
        Call::ConfirmPickup => send!(confirm_pickup, ConfirmPickupRequest {}),
        Call::ConfirmReport => send!(confirm_report, ConfirmReportRequest {}),
        Call::RequestTransfer => send!(
            request_transfer,
            RequestTransferRequest {
                to_region: "140105".into(),
                reason: reason()
            }
        ),
        Call::AcceptTransfer => send!(accept_transfer, AcceptTransferRequest {}),
        Call::RejectTransfer => {
            send!(reject_transfer, RejectTransferRequest { reason: reason() })
        }
        Call::WithdrawTransfer => {
            send!(
                withdraw_transfer,
                WithdrawTransferRequest { reason: reason() }
            )
        }
        Call::ConfirmArrival => send!(confirm_arrival, ConfirmArrivalRequest {}),
        Call::NotifyAbsence => send!(
            notify_absence,
            NotifyAbsenceRequest {
                host_region: "140105".into(),
                from: "2026-12-01".into(),
                until: "2026-12-05".into(),
                reason: reason()
            }
        ),
        Call::ReportLostContact => {
            send!(
                report_lost_contact,
                ReportLostContactRequest { note: reason() }
            )
        }
        Call::RestoreContact => send!(restore_contact, RestoreContactRequest { note: reason() }),
        Call::SuspendCase => send!(suspend_case, SuspendCaseRequest { reason: reason() }),
        Call::ResumeCase => send!(resume_case, ResumeCaseRequest {}),
        Call::CloseCase => send!(
            close_case,
            CloseCaseRequest {
                reason: pb::ClosureReason::Completed.into(),
                note: reason()
            }
        ),
        Call::AssignCase => send!(
            assign_case,
            AssignCaseRequest {
                to_region: "140106".into(),
                reason: reason()
            }
        ),
        Call::WithdrawAnnouncement => send!(
            withdraw_announcement,
            WithdrawAnnouncementRequest { reason: reason() }
        ),
        other => unreachable!("{other} is not a supervision call"),
    }
}

#[tokio::test]
async fn every_agency_gets_for_every_call_the_answer_of_the_policy_table() {
    let app = spawn_app().await;
    register_datong(&app).await;
    let mut n = 0;
    let mut mismatches = Vec::new();
    for (seq, call) in (900..).zip(Call::ALL) {
        let (case_id, transfer_pending) = prepare_case(&app, call, seq).await;
        // Who is allowed goes last: an accepted command changes the case.
        let mut callers: Vec<&Caller> = CALLERS.iter().collect();
        callers.sort_by_key(|who| expected(call, who, transfer_pending) == Code::Ok);
        for who in callers {
            n += 1;
            let want = expected(call, who, transfer_pending);
            let got = make(&app, call, who.id, &case_id, n).await;
            if got != want {
                mismatches.push(format!(
                    "{call} by {}: {got:?}, table says {want:?}",
                    who.id
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(n as usize, CALLERS.len() * Call::ALL.len());
}

#[test]
fn the_readme_shows_the_policy_table_as_it_is() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&policy::markdown_table()),
        "README.md's authorization table differs from src/domain/policy.rs; paste:\n{}",
        policy::markdown_table()
    );
}
