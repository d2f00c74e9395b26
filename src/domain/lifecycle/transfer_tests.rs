//! Transfers between counties: who may answer one, and where the case is
//! while it is pending, after a rejection, an arrival, or a loss of
//! contact that ends it.

use super::fixtures::*;
use super::*;
use crate::domain::testing::{region, shanxi};

#[test]
fn a_transfer_within_the_county_is_invalid_and_one_to_a_county_without_a_project_unroutable() {
    let case = supervised();
    let to = |code: &str| Command::RequestTransfer {
        to_region: region(code),
        reason: text("moved"),
    };
    match decided(&case, &yingze(), &to("140106")) {
        Err(Refusal::Invalid(invalid)) => assert_eq!(fields(&invalid), ["to_region"]),
        other => panic!("{other:?}"),
    }
    for county in ["140108", "110105"] {
        match decided(&case, &yingze(), &to(county)) {
            Err(Refusal::Unroutable { field, message }) => {
                assert_eq!(field, "to_region");
                assert!(message.contains(county), "{message}");
            }
            other => panic!("{county}: {other:?}"),
        }
    }
}

#[test]
fn a_disabled_project_cannot_receive_a_transfer() {
    let mut agencies = shanxi();
    for agency in &mut agencies {
        agency.enabled = agency.agency.id != xiaodian().id;
    }
    assert!(matches!(
        decide(&supervised(), &yingze(), &transfer_to_xiaodian(), &agencies),
        Err(Refusal::Unroutable {
            field: "to_region",
            ..
        })
    ));
}

#[test]
fn only_the_receiving_project_answers_a_transfer_and_confirms_arrival() {
    let requested = transfer_requested();
    let accepted = transfer_accepted();
    let answers = [
        (&requested, Command::AcceptTransfer),
        (&requested, Command::RejectTransfer { reason: text("no") }),
        (&accepted, Command::ConfirmArrival),
    ];
    for (case, command) in answers {
        assert!(
            matches!(
                decided(case, &yingze(), &command),
                Err(Refusal::NotPermitted(ref message)) if message.contains("xiaodian-project")
            ),
            "{command:?}"
        );
        assert!(decided(case, &xiaodian(), &command).is_ok(), "{command:?}");
    }
    // Withdrawing is the sender's, not the receiver's.
    let withdraw = Command::WithdrawTransfer {
        reason: String::new(),
    };
    assert!(matches!(
        decided(&requested, &xiaodian(), &withdraw),
        Err(Refusal::NotPermitted(_))
    ));
    assert!(decided(&requested, &yingze(), &withdraw).is_ok());
}

#[test]
fn a_transfer_cannot_be_withdrawn_once_accepted() {
    let withdraw = Command::WithdrawTransfer {
        reason: text("changed our mind"),
    };
    match decided(&transfer_accepted(), &yingze(), &withdraw) {
        Err(Refusal::WrongState { state, message }) => {
            assert_eq!(state, CaseState::TransferPending);
            assert!(
                message.contains("accepted by xiaodian-project"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rejected_transfer_leaves_the_case_with_the_sender() {
    let case = act(
        &transfer_requested(),
        &xiaodian(),
        &Command::RejectTransfer { reason: text("no") },
    );
    assert_eq!(case.state, CaseState::UnderSupervision);
    assert_eq!(case.transfer, None);
    assert_eq!(case.responsible, Some(yingze().id));
    assert!(matches!(
        decided(&case, &xiaodian(), &Command::AcceptTransfer),
        Err(Refusal::WrongState { .. })
    ));
    // The sender may ask again.
    assert!(decided(&case, &yingze(), &transfer_to_xiaodian()).is_ok());
}

#[test]
fn an_arrival_moves_the_case_in_one_step_and_the_sender_loses_it() {
    let case = act(&transfer_accepted(), &xiaodian(), &Command::ConfirmArrival);
    assert_eq!(case.state, CaseState::UnderSupervision);
    assert_eq!(case.executing_region, region("140105"));
    assert_eq!(case.responsible, Some(xiaodian().id));
    assert_eq!(case.transfer, None);
    let suspend = Command::Suspend {
        reason: text("detained"),
    };
    assert!(matches!(
        decided(&case, &yingze(), &suspend),
        Err(Refusal::NotPermitted(_))
    ));
    assert!(decided(&case, &xiaodian(), &suspend).is_ok());
    // A transfer back to where it came from is a transfer like any other.
    let back = Command::RequestTransfer {
        to_region: region("140106"),
        reason: text("moved back"),
    };
    assert!(decided(&case, &xiaodian(), &back).is_ok());
}

#[test]
fn loss_of_contact_or_suspension_ends_a_transfer_and_the_sender_keeps_the_case() {
    let interruptions = [
        Command::ReportLostContact {
            note: String::new(),
        },
        Command::Suspend {
            reason: text("detained"),
        },
    ];
    for pending in [transfer_requested(), transfer_accepted()] {
        for interruption in &interruptions {
            let case = act(&pending, &yingze(), interruption);
            assert_eq!(case.transfer, None, "{interruption:?}");
            assert_eq!(case.responsible, Some(yingze().id));
            assert_eq!(case.executing_region, region("140106"));
            for answer in [Command::AcceptTransfer, Command::ConfirmArrival] {
                assert!(
                    matches!(
                        decided(&case, &xiaodian(), &answer),
                        Err(Refusal::WrongState { .. })
                    ),
                    "{answer:?} after {interruption:?}"
                );
            }
            let back = match interruption {
                Command::Suspend { .. } => Command::Resume,
                _ => Command::RestoreContact {
                    note: String::new(),
                },
            };
            let case = act(&case, &yingze(), &back);
            assert_eq!(case.state, CaseState::UnderSupervision);
            assert_eq!(case.transfer, None);
        }
    }
}
