//! The product's invariant under random use, on the real gateway and its
//! SQLite file: long random sequences of commands (valid and invalid, from
//! random agencies) and time steps, with the invariant checked after every
//! step against what storage holds. Half the runs start unroutable, with
//! the oversight office holding the case until it assigns it.

use std::collections::HashSet;

use handover_gateway::bootstrap::EXAMPLE_AGENCIES;
use handover_gateway::domain::agency::{AgencyId, AgencyRef};
use handover_gateway::domain::case::{Case, CaseEvent, CaseId};
use handover_gateway::domain::clock::Clock;
use handover_gateway::domain::deadline::DeadlinePolicy;
use handover_gateway::domain::lifecycle::CommandDraft;
use handover_gateway::domain::region::RegionCode;
use proptest::prelude::*;
use time::Duration;

use crate::steps::discharged_in_yingze;
use crate::support::*;

#[derive(Debug, Clone)]
enum Step {
    Command {
        agency: usize,
        command: usize,
        county: usize,
        blank: bool,
    },
    /// A command from the agency that would give it: the receiving project
    /// for answers to a transfer, the responsible one otherwise.
    Proper {
        command: usize,
        county: usize,
        blank: bool,
    },
    Wait(i64),
}

const COUNTIES: [&str; 4] = ["140106", "140105", "140107", "140211"];

/// Command numbers (see `draft`), repeated by how often a project (or,
/// for an assignment, the office) gives them, so that a case travels
/// through transfers. Closing (12) comes only from random agencies, so
/// that it stays rare.
const COMMANDS: [usize; 29] = [
    0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5, 6, 6, 6, 7, 8, 9, 9, 10, 11, 11, 2, 6, 13, 13,
];

/// Where a case is unroutable: the example registry has neither a project
/// nor police in Xinghualing (140107), so the city's police hear of it.
const UNROUTABLE_COUNTY: &str = "140107";

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Mostly the two county projects, so that cases move; every
        // agency now and then, so that refusals are exercised too.
        2 => (0..EXAMPLE_AGENCIES.len(),
              0..14usize,
              prop::sample::select(vec![0, 1, 1, 1, 2, 3]),
              prop::bool::weighted(0.2)).prop_map(
            |(agency, command, county, blank)| Step::Command { agency, command, county, blank }
        ),
        4 => (prop::sample::select(COMMANDS.to_vec()),
              prop::sample::select(vec![0, 1, 1, 1, 2, 3]),
              prop::bool::weighted(0.1)).prop_map(
            |(command, county, blank)| Step::Proper { command, county, blank }
        ),
        2 => (60i64..20 * 86_400).prop_map(Step::Wait),
    ]
}

fn draft(command: usize, county: &str, blank: bool) -> CommandDraft {
    let text = if blank { "" } else { "reason" }.to_owned();
    match command {
        0 => CommandDraft::ConfirmPickup,
        1 => CommandDraft::ConfirmReport,
        2 => CommandDraft::RequestTransfer {
            to_region: county.into(),
            reason: text,
        },
        3 => CommandDraft::AcceptTransfer,
        4 => CommandDraft::RejectTransfer { reason: text },
        5 => CommandDraft::WithdrawTransfer { reason: text },
        6 => CommandDraft::ConfirmArrival,
        7 => CommandDraft::NotifyAbsence {
            host_region: county.into(),
            from: "2026-12-01".into(),
            until: if blank { "2026-11-01" } else { "2026-12-09" }.into(),
            reason: text,
        },
        8 => CommandDraft::ReportLostContact { note: text },
        9 => CommandDraft::RestoreContact { note: text },
        10 => CommandDraft::Suspend { reason: text },
        11 => CommandDraft::Resume,
        13 => CommandDraft::Assign {
            to_region: county.into(),
            reason: text,
        },
        _ => CommandDraft::Close {
            reason: if blank { "other" } else { "completed" }.into(),
            note: String::new(),
        },
    }
}

fn caller(index: usize) -> AgencyRef {
    let (id, kind, region, _) = EXAMPLE_AGENCIES[index];
    AgencyRef::new(
        kind.parse().unwrap(),
        RegionCode::parse(region).unwrap(),
        AgencyId::parse(id).unwrap(),
    )
    .unwrap()
}

/// The county police of the example registry for an executing county.
fn police_of(county: RegionCode) -> AgencyId {
    let id = match county.to_string().as_str() {
        "140106" => "yingze-police",
        "140105" => "xiaodian-police",
        UNROUTABLE_COUNTY => "taiyuan-police",
        other => panic!("a case executes in {other}, where no project is registered"),
    };
    AgencyId::parse(id).unwrap()
}

async fn check(app: &App, id: &CaseId, scanned: bool) -> Result<(), TestCaseError> {
    let storage = app.gateway.storage();
    let case = storage.case(id).await.unwrap().unwrap();
    if case.state.is_supervised() && case.is_unroutable() {
        // No project: the office that received it holds it.
        prop_assert_eq!(
            case.oversight.as_ref().map(AgencyId::as_str),
            Some("shanxi-office")
        );
        let assigned = case
            .history
            .iter()
            .any(|e| matches!(e.event, CaseEvent::Assigned { .. }));
        prop_assert!(!assigned, "assigned and still unroutable");
    } else if case.state.is_supervised() {
        let responsible = case.responsible.clone();
        prop_assert!(
            responsible.is_some(),
            "nobody responsible: {:?}",
            case.state
        );
        let project = storage
            .agency(&responsible.unwrap())
            .await
            .unwrap()
            .unwrap();
        prop_assert_eq!(project.agency.region, case.executing_region);
    }
    let mut escalated = HashSet::new();
    for (index, recorded) in case.history.iter().enumerate() {
        if let CaseEvent::DeadlineMissed { kind, anchor, .. } = recorded.event {
            prop_assert!(
                escalated.insert((kind, anchor)),
                "escalated twice: {kind:?}"
            );
        }
        let after = Case::from_history(id.clone(), case.history[..=index].to_vec()).unwrap();
        if let CaseEvent::Assigned { .. } = recorded.event {
            let before = Case::from_history(id.clone(), case.history[..index].to_vec()).unwrap();
            prop_assert!(before.is_unroutable(), "assigned a case that had a project");
            prop_assert!(!after.is_unroutable(), "assigned and still unroutable");
            prop_assert_eq!(after.responsible.as_ref(), after.responsible_history.last());
        }
        let police = police_of(after.executing_region);
        let inbox = storage
            .inbox_after(&police, 0, 100_000)
            .await
            .unwrap()
            .opened();
        prop_assert!(
            inbox
                .iter()
                .any(|m| m.notice.case_id() == id && m.notice.event.sequence == recorded.sequence),
            "{} never reached {police}",
            recorded.event.name()
        );
    }
    if scanned {
        let due = case.due_escalations(&DeadlinePolicy::default(), app.clock.now());
        prop_assert!(due.is_empty(), "missed escalations: {due:?}");
    }
    Ok(())
}

async fn run(steps: Vec<Step>, unroutable: bool) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let receipt = if unroutable {
        let person = person(&id_number("19850101", 1), UNROUTABLE_COUNTY, None);
        submit_as_detox(&app, discharge("d-1", "D-1", person)).await
    } else {
        discharged_in_yingze(&app, 1).await
    };
    let id = CaseId::parse(&receipt.case_id).unwrap();
    check(&app, &id, false).await?;
    for (index, step) in steps.into_iter().enumerate() {
        let scanned = match step {
            Step::Command {
                agency,
                command,
                county,
                blank,
            } => {
                let draft = draft(command, COUNTIES[county], blank);
                let request_id = format!("step-{index}");
                let before = app.gateway.storage().case(&id).await.unwrap().unwrap();
                let answer = app
                    .gateway
                    .command(&caller(agency), &request_id, id.as_str(), None, &draft)
                    .await;
                if answer.is_err() {
                    let after = app.gateway.storage().case(&id).await.unwrap().unwrap();
                    prop_assert_eq!(
                        after.version(),
                        before.version(),
                        "a refusal changed the case"
                    );
                }
                false
            }
            Step::Proper {
                command,
                county,
                blank,
            } => {
                let case = app.gateway.storage().case(&id).await.unwrap().unwrap();
                let receiver = case.transfer.as_ref().map(|t| t.to_project.clone());
                let agency = match (command, receiver) {
                    (13, _) => Some(AgencyId::parse("shanxi-office").unwrap()),
                    (3 | 4 | 6, Some(receiver)) => Some(receiver),
                    _ => case.responsible.clone(),
                };
                if let Some(agency) = agency {
                    let position = EXAMPLE_AGENCIES
                        .iter()
                        .position(|(id, ..)| *id == agency.as_str())
                        .unwrap();
                    let draft = draft(command, COUNTIES[county], blank);
                    let request_id = format!("step-{index}");
                    let _ = app
                        .gateway
                        .command(&caller(position), &request_id, id.as_str(), None, &draft)
                        .await;
                }
                false
            }
            Step::Wait(seconds) => {
                app.clock.advance(Duration::seconds(seconds));
                app.gateway.escalate_due().await.unwrap();
                true
            }
        };
        check(&app, &id, scanned).await?;
    }
    app.stop().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn one_county_is_responsible_its_police_hear_everything_and_escalations_happen_once(
        steps in prop::collection::vec(step(), 30..80),
        unroutable in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(steps, unroutable))?;
    }
}
