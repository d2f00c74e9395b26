//! Property tests of command validation: any command draft is a valid
//! command of the same kind, or a refusal naming its fields.

use proptest::prelude::*;

use super::*;

/// Every field a refusal of a command may name.
const FIELDS: [&str; 7] = [
    "to_region",
    "reason",
    "host_region",
    "from",
    "until",
    "note",
    "request",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "\\PC{0,600}",
        Just(String::new()),
        "[ \t]{0,3}[a-z0-9-]{1,12}[ \t]{0,3}",
    ]
}

fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("140105".to_owned()),
        Just("140100".to_owned()),
        "[0-9]{6}",
        text()
    ]
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        (1990i32..2040, 0u8..=13, 0u8..=32).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        (-9999i32..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        "[0-9+-]{0,12}",
        text(),
    ]
}

fn closure_reason() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(ClosureReason::ALL.map(ClosureReason::as_str).to_vec())
            .prop_map(str::to_owned),
        text(),
    ]
}

fn draft() -> impl Strategy<Value = CommandDraft> {
    prop_oneof![
        Just(CommandDraft::ConfirmPickup),
        Just(CommandDraft::ConfirmReport),
        Just(CommandDraft::AcceptTransfer),
        Just(CommandDraft::ConfirmArrival),
        Just(CommandDraft::Resume),
        (region(), text())
            .prop_map(|(to_region, reason)| CommandDraft::RequestTransfer { to_region, reason }),
        text().prop_map(|reason| CommandDraft::RejectTransfer { reason }),
        text().prop_map(|reason| CommandDraft::WithdrawTransfer { reason }),
        (region(), date(), date(), text()).prop_map(|(host_region, from, until, reason)| {
            CommandDraft::NotifyAbsence {
                host_region,
                from,
                until,
                reason,
            }
        }),
        text().prop_map(|note| CommandDraft::ReportLostContact { note }),
        text().prop_map(|note| CommandDraft::RestoreContact { note }),
        text().prop_map(|reason| CommandDraft::Suspend { reason }),
        (closure_reason(), text()).prop_map(|(reason, note)| CommandDraft::Close { reason, note }),
        (region(), text())
            .prop_map(|(to_region, reason)| CommandDraft::Assign { to_region, reason }),
        text().prop_map(|reason| CommandDraft::WithdrawAnnouncement { reason }),
    ]
}

/// The command's name, as `CommandDraft::name` gives it for the draft.
fn name(command: &Command) -> &'static str {
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

proptest! {
    #[test]
    fn any_command_draft_parses_to_its_kind_or_names_its_fields(draft in draft()) {
        match draft.parse() {
            Ok(command) => {
                prop_assert_eq!(name(&command), draft.name());
                match command {
                    Command::NotifyAbsence { from, until, .. } => {
                        prop_assert!(from <= until);
                        prop_assert!((until - from).whole_days() <= 366);
                    }
                    Command::RequestTransfer { reason, .. }
                    | Command::Assign { reason, .. }
                    | Command::RejectTransfer { reason }
                    | Command::WithdrawAnnouncement { reason }
                    | Command::Suspend { reason } => {
                        prop_assert!(!reason.is_empty() && reason.chars().count() <= REASON_CHARS);
                    }
                    // Only the detox center's withdrawal closes an announcement.
                    Command::Close { reason, .. } => {
                        prop_assert_ne!(reason, ClosureReason::ReleaseWithdrawn);
                    }
                    _ => {}
                }
            }
            Err(invalid) => {
                prop_assert!(!invalid.violations.is_empty());
                for violation in &invalid.violations {
                    prop_assert!(
                        FIELDS.contains(&violation.field.as_str()),
                        "unknown field {:?}",
                        violation.field
                    );
                }
            }
        }
    }
}
