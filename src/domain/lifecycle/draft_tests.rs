//! Parsing command drafts: a well-formed draft gives its command, and
//! every wrong field is named.

use super::fixtures::{every_command, refused_fields, text};
use super::*;

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
    let unknown = close("retired", "").parse().unwrap_err();
    let message = &unknown.violations[0].description;
    assert!(
        message.contains("moved-out-of-province") && !message.contains("release-withdrawn"),
        "{message}"
    );
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
        let parsed = close(reason.as_str(), "why").parse();
        // The detox center's withdrawal, not a project's closure.
        let by_project = reason != ClosureReason::ReleaseWithdrawn;
        assert_eq!(parsed.is_ok(), by_project, "{reason}");
    }
}
