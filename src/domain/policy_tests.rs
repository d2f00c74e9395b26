use std::collections::HashSet;

use super::*;
use crate::domain::case::CaseEvent;
use crate::domain::testing::{agency, discharged_case, id, region, then};

#[test]
fn every_call_has_a_row_and_no_row_is_repeated() {
    for call in Call::ALL {
        assert!(
            POLICY.iter().any(|rule| rule.call == call),
            "{call} has no row: nobody could make it"
        );
    }
    let pairs: HashSet<(Call, AgencyKind)> = POLICY.iter().map(|r| (r.call, r.kind)).collect();
    assert_eq!(
        pairs.len(),
        POLICY.len(),
        "a (call, kind) pair is listed twice"
    );
}

#[test]
fn only_county_projects_act_on_cases_and_oversight_assigns_and_only_detox_centers_submit() {
    for rule in POLICY {
        match rule.call {
            Call::AnnounceRelease | Call::SubmitDischarge => assert_eq!(rule.kind, DetoxCenter),
            Call::WithdrawAnnouncement => {
                assert_eq!((rule.kind, rule.relation), (DetoxCenter, Submitter));
            }
            Call::Subscribe | Call::Acknowledge | Call::GetCase => {}
            Call::GetAuditHead => assert_eq!(rule.relation, Anyone),
            Call::ListCases => match rule.kind {
                Police | Oversight => assert_eq!(rule.relation, Jurisdiction),
                DetoxCenter | CountyProject => assert_eq!(rule.relation, Own),
            },
            Call::AssignCase => assert_eq!(rule.kind, Oversight),
            _ => assert_eq!(rule.kind, CountyProject, "{rule:?}"),
        }
    }
    assert_eq!(
        relation(Call::GetCase, Police),
        Some(SeesWithPurpose),
        "police must always state why they look at a person"
    );
}

#[test]
fn a_case_the_caller_may_not_see_is_unseen_whatever_the_call() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let stranger = agency("county-project", "140105", "xiaodian-project");
    for call in Call::ALL {
        assert_eq!(
            authorize_on_case(&stranger, call, &case),
            Err(Denial::Unseen),
            "{call}"
        );
    }
}

#[test]
fn the_responsible_project_acts_and_others_who_see_the_case_are_told_who_may() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let project = agency("county-project", "140106", "yingze-project");
    let police = agency("police", "140106", "yingze-police");
    assert_eq!(
        authorize_on_case(&project, Call::ConfirmPickup, &case),
        Ok(())
    );
    assert_eq!(
        authorize_on_case(&police, Call::ConfirmPickup, &case),
        Err(Denial::Denied(
            "only a county project may confirm the pickup".into()
        ))
    );
    assert_eq!(
        authorize_on_case(&police, Call::GetCase, &case),
        Ok(()),
        "police in the county may read the case"
    );
    assert_eq!(
        authorize(&project, Call::ListCases),
        Ok(Own),
        "a project lists its own caseload"
    );
    assert_eq!(
        authorize(&project, Call::AssignCase),
        Err(Denial::Denied(
            "only an oversight office may assign the case to a project".into()
        ))
    );
}

#[test]
fn only_the_receiving_project_answers_a_transfer() {
    let case = discharged_case("140106", "140106", Some("yingze-project"));
    let by = id("yingze-project");
    let case = then(&case, &by, CaseEvent::Reported);
    let case = then(
        &case,
        &by,
        CaseEvent::TransferRequested {
            to_region: region("140105"),
            to_project: id("xiaodian-project"),
            reason: "moved".into(),
        },
    );
    let receiver = agency("county-project", "140105", "xiaodian-project");
    let sender = agency("county-project", "140106", "yingze-project");
    assert_eq!(
        authorize_on_case(&receiver, Call::AcceptTransfer, &case),
        Ok(())
    );
    assert_eq!(
        authorize_on_case(&sender, Call::AcceptTransfer, &case),
        Err(Denial::Denied(
            "only xiaodian-project, which the transfer goes to, may accept the transfer".into()
        ))
    );
    assert_eq!(
        authorize_on_case(&receiver, Call::WithdrawTransfer, &case),
        Err(Denial::Denied(
            "only yingze-project, the responsible project, may withdraw the transfer".into()
        ))
    );
}

#[test]
fn the_markdown_table_has_a_row_per_call_and_a_column_per_kind() {
    let table = markdown_table();
    assert_eq!(table.lines().count(), 2 + Call::ALL.len());
    for call in Call::ALL {
        assert!(table.contains(&format!("| `{}` |", call.rpc())), "{call}");
    }
    assert!(table.lines().all(|line| line.matches('|').count() == 6));
}
