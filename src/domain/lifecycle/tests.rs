use super::fixtures::*;
use super::*;
use crate::domain::access::can_view;
use crate::domain::testing::{agency, discharged_case, region};
use time::macros::date;

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
        Command::WithdrawAnnouncement { .. } => "withdraw-announcement",
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
        Command::WithdrawAnnouncement { .. } => "closed",
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

#[test]
fn an_absence_is_notified_until_its_last_day_and_at_most_a_year_ahead() {
    let absence = |from: time::Date, until: time::Date| Command::NotifyAbsence {
        host_region: region("140107"),
        from,
        until,
        reason: String::new(),
    };
    let today = date!(2026 - 11 - 28);
    let check = |from, until| {
        absence(from, until)
            .check_dates(today)
            .map_err(|invalid| fields(&invalid).join(","))
    };
    assert_eq!(check(date!(2026 - 11 - 20), date!(2026 - 11 - 28)), Ok(()));
    assert_eq!(
        check(date!(2026 - 11 - 20), date!(2026 - 11 - 27)),
        Err("until".into())
    );
    assert_eq!(check(date!(2027 - 11 - 29), date!(2027 - 12 - 01)), Ok(()));
    assert_eq!(
        check(date!(2027 - 11 - 30), date!(2027 - 12 - 01)),
        Err("from".into())
    );
    assert_eq!(Command::ConfirmPickup.check_dates(today), Ok(()));
}
