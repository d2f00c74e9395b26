use super::*;
use crate::domain::access::can_view;
use crate::domain::agency::AgencyRef;
use crate::domain::testing::{agency, discharged_case, region, shanxi, then};
use time::macros::date;

/// Answered by the county a transfer goes to, not the responsible one.
fn is_receivers(command: &Command) -> bool {
    relation(command.call(), AgencyKind::CountyProject) == Some(Relation::TransferReceiver)
}

fn yingze() -> AgencyRef {
    agency("county-project", "140106", "yingze-project")
}

fn xiaodian() -> AgencyRef {
    agency("county-project", "140105", "xiaodian-project")
}

fn xinghualing() -> AgencyRef {
    agency("county-project", "140107", "xinghualing-project")
}

fn fields(invalid: &Invalid) -> Vec<&str> {
    invalid
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect()
}

fn refused_fields(draft: &CommandDraft) -> Vec<String> {
    match draft.parse() {
        Ok(command) => panic!("{draft:?} parsed as {command:?}"),
        Err(invalid) => fields(&invalid).into_iter().map(str::to_owned).collect(),
    }
}

/// `case` after `command` by `by`, which must be accepted.
fn act(case: &Case, by: &AgencyRef, command: &Command) -> Case {
    let event = decide(case, by, command, &shanxi())
        .unwrap_or_else(|refusal| panic!("{command:?} by {by} refused: {refusal}"));
    then(case, &by.id, event)
}

fn decided(case: &Case, by: &AgencyRef, command: &Command) -> Result<CaseEvent, Refusal> {
    decide(case, by, command, &shanxi())
}

fn transfer_to_xiaodian() -> Command {
    Command::RequestTransfer {
        to_region: region("140105"),
        reason: "moved for work".into(),
    }
}

fn text(value: &str) -> String {
    value.to_owned()
}

// The case executes in Yingze (140106), household there too.
fn awaiting_pickup() -> Case {
    discharged_case("140106", "140106", Some("yingze-project"))
}

fn picked_up() -> Case {
    act(&awaiting_pickup(), &yingze(), &Command::ConfirmPickup)
}

fn supervised() -> Case {
    act(&picked_up(), &yingze(), &Command::ConfirmReport)
}

fn transfer_requested() -> Case {
    act(&supervised(), &yingze(), &transfer_to_xiaodian())
}

fn transfer_accepted() -> Case {
    act(&transfer_requested(), &xiaodian(), &Command::AcceptTransfer)
}

fn lost_contact() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::ReportLostContact { note: text("") },
    )
}

fn suspended() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::Suspend {
            reason: text("detained"),
        },
    )
}

fn closed() -> Case {
    act(
        &supervised(),
        &yingze(),
        &Command::Close {
            reason: ClosureReason::Deceased,
            note: String::new(),
        },
    )
}

/// One valid command of each kind.
fn every_command() -> Vec<Command> {
    vec![
        Command::ConfirmPickup,
        Command::ConfirmReport,
        transfer_to_xiaodian(),
        Command::AcceptTransfer,
        Command::RejectTransfer {
            reason: text("no housing"),
        },
        Command::WithdrawTransfer {
            reason: String::new(),
        },
        Command::ConfirmArrival,
        Command::NotifyAbsence {
            host_region: region("140108"),
            from: date!(2026 - 12 - 01),
            until: date!(2026 - 12 - 09),
            reason: text("visiting family"),
        },
        Command::ReportLostContact {
            note: String::new(),
        },
        Command::RestoreContact {
            note: text("came back"),
        },
        Command::Suspend {
            reason: text("detained"),
        },
        Command::Resume,
        Command::Close {
            reason: ClosureReason::Completed,
            note: String::new(),
        },
    ]
}

// ---- parsing ----------------------------------------------------------------

#[test]
fn well_formed_drafts_parse_into_their_commands() {
    let drafts = [
        CommandDraft::ConfirmPickup,
        CommandDraft::ConfirmReport,
        CommandDraft::RequestTransfer {
            to_region: text("140105"),
            reason: text("  moved for work "),
        },
        CommandDraft::AcceptTransfer,
        CommandDraft::RejectTransfer {
            reason: text("no housing"),
        },
        CommandDraft::WithdrawTransfer { reason: text(" ") },
        CommandDraft::ConfirmArrival,
        CommandDraft::NotifyAbsence {
            host_region: text("140108"),
            from: text("2026-12-01"),
            until: text("2026-12-09"),
            reason: text("visiting family"),
        },
        CommandDraft::ReportLostContact { note: text("") },
        CommandDraft::RestoreContact {
            note: text("came back"),
        },
        CommandDraft::Suspend {
            reason: text("detained"),
        },
        CommandDraft::Resume,
        CommandDraft::Close {
            reason: text("completed"),
            note: text(""),
        },
    ];
    let parsed: Vec<Command> = drafts.iter().map(|d| d.parse().unwrap()).collect();
    assert_eq!(parsed, every_command());
}

#[test]
fn every_wrong_field_of_a_transfer_request_is_named() {
    for (to_region, reason, expected) in [
        ("140100", "moved", vec!["to_region"]),
        ("140000", "moved", vec!["to_region"]),
        ("14010", "moved", vec!["to_region"]),
        ("990106", "moved", vec!["to_region"]),
        ("140105", "   ", vec!["reason"]),
        ("140105", "a\u{7}b", vec!["reason"]),
        ("", "", vec!["to_region", "reason"]),
    ] {
        let draft = CommandDraft::RequestTransfer {
            to_region: text(to_region),
            reason: text(reason),
        };
        assert_eq!(refused_fields(&draft), expected, "{draft:?}");
    }
    let long = CommandDraft::RequestTransfer {
        to_region: text("140105"),
        reason: "理".repeat(501),
    };
    assert_eq!(refused_fields(&long), ["reason"]);
    let longest = CommandDraft::RequestTransfer {
        to_region: text("140105"),
        reason: "理".repeat(500),
    };
    assert!(longest.parse().is_ok());
}

#[test]
fn every_wrong_field_of_an_absence_is_named() {
    let absence = |host: &str, from: &str, until: &str, reason: &str| CommandDraft::NotifyAbsence {
        host_region: text(host),
        from: text(from),
        until: text(until),
        reason: text(reason),
    };
    let cases = [
        (
            absence("140100", "2026-13-01", "tomorrow", "a\u{0}b"),
            vec!["host_region", "from", "until", "reason"],
        ),
        (
            absence("140108", "2026-12-09", "2026-12-01", ""),
            vec!["until"],
        ),
        (
            absence("140108", "2026-12-01", "2028-01-01", ""),
            vec!["until"],
        ),
        (
            absence("140108", "2026/12/01", "2026-12-09", ""),
            vec!["from"],
        ),
        (
            absence("x", "2026-12-01", "2026-12-09", ""),
            vec!["host_region"],
        ),
    ];
    for (draft, expected) in cases {
        assert_eq!(refused_fields(&draft), expected, "{draft:?}");
    }
    // A day's absence and one of exactly a year are fine; the reason is optional.
    assert!(
        absence("140108", "2026-12-01", "2026-12-01", "")
            .parse()
            .is_ok()
    );
    assert!(
        absence("140108", "2026-12-01", "2027-12-02", "")
            .parse()
            .is_ok()
    );
}

#[test]
fn required_reasons_and_notes_are_named_when_missing() {
    for draft in [
        CommandDraft::RejectTransfer { reason: text("") },
        CommandDraft::Suspend {
            reason: text(" \t"),
        },
        CommandDraft::WithdrawTransfer {
            reason: "x".repeat(501),
        },
    ] {
        assert_eq!(refused_fields(&draft), ["reason"], "{draft:?}");
    }
    for draft in [
        CommandDraft::ReportLostContact {
            note: "x".repeat(501),
        },
        CommandDraft::RestoreContact {
            note: text("a\u{1b}b"),
        },
    ] {
        assert_eq!(refused_fields(&draft), ["note"], "{draft:?}");
    }
}

#[test]
fn a_closure_names_a_known_reason_and_other_needs_a_note() {
    let close = |reason: &str, note: &str| CommandDraft::Close {
        reason: text(reason),
        note: text(note),
    };
    assert_eq!(refused_fields(&close("retired", "")), ["reason"]);
    assert_eq!(refused_fields(&close("", "")), ["reason"]);
    assert_eq!(refused_fields(&close("other", " ")), ["note"]);
    assert_eq!(
        refused_fields(&close("retired", &"x".repeat(501))),
        ["reason", "note"]
    );
    assert_eq!(
        close("other", " emigrated ").parse(),
        Ok(Command::Close {
            reason: ClosureReason::Other,
            note: text("emigrated"),
        })
    );
    for reason in ClosureReason::ALL {
        assert!(close(reason.as_str(), "why").parse().is_ok(), "{reason}");
    }
}

// ---- deciding ---------------------------------------------------------------

/// The commands each state allows, by the project that would give them.
fn allowed_in(state: &str) -> &'static [&'static str] {
    match state {
        "awaiting-pickup" => &[
            "confirm-pickup",
            "confirm-report",
            "report-lost-contact",
            "suspend",
            "close",
        ],
        "picked-up" => &[
            "confirm-report",
            "notify-absence",
            "report-lost-contact",
            "suspend",
            "close",
        ],
        "under-supervision" => &[
            "request-transfer",
            "notify-absence",
            "report-lost-contact",
            "suspend",
            "close",
        ],
        "awaiting-reply" => &[
            "accept-transfer",
            "reject-transfer",
            "withdraw-transfer",
            "notify-absence",
            "report-lost-contact",
            "suspend",
            "close",
        ],
        "accepted" => &[
            "confirm-arrival",
            "notify-absence",
            "report-lost-contact",
            "suspend",
            "close",
        ],
        "lost-contact" => &["restore-contact", "suspend", "close"],
        "suspended" => &["resume", "close"],
        "closed" => &[],
        other => panic!("no such state {other}"),
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::ConfirmPickup => "confirm-pickup",
        Command::ConfirmReport => "confirm-report",
        Command::RequestTransfer { .. } => "request-transfer",
        Command::AcceptTransfer => "accept-transfer",
        Command::RejectTransfer { .. } => "reject-transfer",
        Command::WithdrawTransfer { .. } => "withdraw-transfer",
        Command::ConfirmArrival => "confirm-arrival",
        Command::NotifyAbsence { .. } => "notify-absence",
        Command::ReportLostContact { .. } => "report-lost-contact",
        Command::RestoreContact { .. } => "restore-contact",
        Command::Suspend { .. } => "suspend",
        Command::Resume => "resume",
        Command::Close { .. } => "close",
        Command::Assign { .. } => "assign",
    }
}

fn event_of(command: &Command) -> &'static str {
    match command {
        Command::ConfirmPickup => "picked-up",
        Command::ConfirmReport => "reported",
        Command::RequestTransfer { .. } => "transfer-requested",
        Command::AcceptTransfer => "transfer-accepted",
        Command::RejectTransfer { .. } => "transfer-rejected",
        Command::WithdrawTransfer { .. } => "transfer-withdrawn",
        Command::ConfirmArrival => "arrived",
        Command::NotifyAbsence { .. } => "absence-notified",
        Command::ReportLostContact { .. } => "contact-lost",
        Command::RestoreContact { .. } => "contact-restored",
        Command::Suspend { .. } => "suspended",
        Command::Resume => "resumed",
        Command::Close { .. } => "closed",
        Command::Assign { .. } => "assigned",
    }
}

#[test]
fn each_state_takes_its_commands_and_refuses_the_rest_naming_the_state() {
    let cases = [
        ("awaiting-pickup", awaiting_pickup()),
        ("picked-up", picked_up()),
        ("under-supervision", supervised()),
        ("awaiting-reply", transfer_requested()),
        ("accepted", transfer_accepted()),
        ("lost-contact", lost_contact()),
        ("suspended", suspended()),
        ("closed", closed()),
    ];
    for (label, case) in cases {
        for command in every_command() {
            // The receiving project answers a transfer; the responsible one
            // gives every other command.
            let by = match &case.transfer {
                Some(_) if is_receivers(&command) => xiaodian(),
                _ => yingze(),
            };
            let name = command_name(&command);
            let result = decided(&case, &by, &command);
            if allowed_in(label).contains(&name) {
                let event = result.unwrap_or_else(|r| panic!("{name} in {label}: {r}"));
                assert_eq!(event.name(), event_of(&command), "{name} in {label}");
                assert!(case.allows(&event));
            } else {
                match result {
                    Err(Refusal::WrongState { state, message }) => {
                        assert_eq!(state, case.state, "{name} in {label}");
                        assert!(
                            message.contains(case.state.as_str()),
                            "{name} in {label}: {message}"
                        );
                    }
                    other => panic!("{name} in {label}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn a_transfer_names_the_receiving_countys_project() {
    assert_eq!(
        decided(&supervised(), &yingze(), &transfer_to_xiaodian()),
        Ok(CaseEvent::TransferRequested {
            to_region: region("140105"),
            to_project: xiaodian().id,
            reason: text("moved for work"),
        })
    );
}

#[test]
fn an_absence_names_the_host_project_when_there_is_one() {
    let absence = |host: &str| Command::NotifyAbsence {
        host_region: region(host),
        from: date!(2026 - 12 - 01),
        until: date!(2026 - 12 - 09),
        reason: String::new(),
    };
    let host_project = |host: &str| match decided(&supervised(), &yingze(), &absence(host)) {
        Ok(CaseEvent::AbsenceNotified { host_project, .. }) => host_project,
        other => panic!("{other:?}"),
    };
    assert_eq!(host_project("140107"), Some(xinghualing().id));
    assert_eq!(host_project("140108"), None);
    assert_eq!(
        decided(&supervised(), &yingze(), &absence("140106")),
        Err(Refusal::Invalid(Invalid::field(
            "host_region",
            "is the county the case is in"
        )))
    );
}

#[test]
fn police_detox_centers_and_oversight_may_see_but_not_act() {
    let onlookers = [
        agency("police", "140106", "yingze-police"),
        agency("police", "140100", "taiyuan-police"),
        agency("detox-center", "140100", "taiyuan-detox"),
        agency("oversight", "140100", "taiyuan-office"),
        agency("oversight", "140000", "shanxi-office"),
    ];
    for (label, case) in [
        ("awaiting-pickup", awaiting_pickup()),
        ("awaiting-reply", transfer_requested()),
        ("accepted", transfer_accepted()),
    ] {
        for caller in &onlookers {
            for command in every_command() {
                assert!(
                    matches!(
                        decided(&case, caller, &command),
                        Err(Refusal::NotPermitted(_))
                    ),
                    "{caller} gave {command:?} in {label}"
                );
            }
        }
    }
}

#[test]
fn another_county_project_that_knows_the_case_may_not_act_for_it() {
    // Xinghualing hears of the case as the host of an absence.
    let case = act(
        &supervised(),
        &yingze(),
        &Command::NotifyAbsence {
            host_region: region("140107"),
            from: date!(2026 - 12 - 01),
            until: date!(2026 - 12 - 09),
            reason: String::new(),
        },
    );
    let case = act(&case, &yingze(), &transfer_to_xiaodian());
    assert!(can_view(&xinghualing(), &case));
    for command in every_command() {
        assert!(
            matches!(
                decided(&case, &xinghualing(), &command),
                Err(Refusal::NotPermitted(_))
            ),
            "{command:?}"
        );
    }
    // The receiving project may answer the transfer but not run the case.
    for command in every_command().iter().filter(|c| !is_receivers(c)) {
        assert!(
            matches!(
                decided(&case, &xiaodian(), command),
                Err(Refusal::NotPermitted(_))
            ),
            "{command:?}"
        );
    }
}

#[test]
fn an_agency_that_cannot_see_the_case_is_told_there_is_none() {
    let strangers = [
        xinghualing(),
        agency("county-project", "140202", "datong-project"),
        agency("police", "140105", "xiaodian-police"),
        agency("police", "140200", "datong-city-police"),
        agency("detox-center", "140100", "other-detox"),
        agency("oversight", "140200", "datong-office"),
    ];
    for case in [awaiting_pickup(), supervised(), closed()] {
        for caller in &strangers {
            for command in every_command() {
                assert_eq!(
                    decided(&case, caller, &command),
                    Err(Refusal::NotFound),
                    "{caller} {command:?}"
                );
            }
        }
    }
}

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

#[test]
fn contact_restored_and_resumption_return_to_the_state_before() {
    let lose = Command::ReportLostContact {
        note: String::new(),
    };
    let restore = Command::RestoreContact {
        note: String::new(),
    };
    let suspend = Command::Suspend {
        reason: text("detained"),
    };
    for before in [awaiting_pickup(), picked_up(), supervised()] {
        let lost = act(&before, &yingze(), &lose);
        assert_eq!(lost.state, CaseState::LostContact);
        assert_eq!(act(&lost, &yingze(), &restore).state, before.state);
        let held = act(&before, &yingze(), &suspend);
        assert_eq!(held.state, CaseState::Suspended);
        assert_eq!(act(&held, &yingze(), &Command::Resume).state, before.state);
        // Suspended while out of contact: the resumption returns beneath both.
        let held = act(&lost, &yingze(), &suspend);
        assert_eq!(act(&held, &yingze(), &Command::Resume).state, before.state);
    }
}

#[test]
fn an_unroutable_case_takes_no_command_from_any_project() {
    let case = discharged_case("140108", "140108", None);
    let office = agency("oversight", "140100", "taiyuan-office");
    assert!(can_view(&office, &case));
    for command in every_command() {
        assert!(matches!(
            decided(&case, &office, &command),
            Err(Refusal::NotPermitted(_))
        ));
        assert_eq!(decided(&case, &yingze(), &command), Err(Refusal::NotFound));
    }
}

#[test]
fn the_state_reads_with_the_transfers_phase() {
    assert_eq!(describe_state(&supervised()), "under-supervision");
    assert_eq!(
        describe_state(&transfer_requested()),
        "transfer-pending (awaiting xiaodian-project)"
    );
    assert_eq!(
        describe_state(&transfer_accepted()),
        "transfer-pending (accepted by xiaodian-project)"
    );
}
