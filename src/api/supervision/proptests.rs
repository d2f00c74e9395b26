//! Property tests of the edge: any supervision request a client can encode
//! converts to a command draft, and validation accepts it or names its
//! fields.

use proptest::prelude::*;

use super::{CommandRequest, closure_reason_name, pb};
use crate::domain::case::ClosureReason;

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
        "\\PC{0,60}",
        ".{0,20}",
        Just(String::new()),
        "[0-9]{6}",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}",
    ]
}

fn target() -> impl Strategy<Value = (String, String, Option<u32>)> {
    (text(), text(), proptest::option::of(any::<u32>()))
}

/// Checks the conversion of one request: the target is passed through and
/// the draft is a command or a refusal by field.
fn converts(request: &impl CommandRequest) -> Result<(), TestCaseError> {
    let draft = request.draft();
    if let Err(invalid) = draft.parse() {
        prop_assert!(!invalid.violations.is_empty());
        for violation in &invalid.violations {
            prop_assert!(
                FIELDS.contains(&violation.field.as_str()),
                "{:?}",
                violation.field
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_request_with_free_text_converts_to_a_command_or_named_fields(
        (request_id, case_id, expected_version) in target(),
        a in text(), b in text(), c in text(), d in text(),
        closure in prop_oneof![0i32..=8, any::<i32>()],
    ) {
        macro_rules! request {
            ($type:ident { $($field:ident: $value:expr),* }) => {{
                let request = pb::$type {
                    request_id: request_id.clone(),
                    case_id: case_id.clone(),
                    expected_version,
                    $($field: $value),*
                };
                prop_assert_eq!(
                    request.target(),
                    (request_id.as_str(), case_id.as_str(), expected_version)
                );
                converts(&request)?;
            }};
        }
        request!(ConfirmPickupRequest {});
        request!(ConfirmReportRequest {});
        request!(RequestTransferRequest { to_region: a.clone(), reason: b.clone() });
        request!(AcceptTransferRequest {});
        request!(RejectTransferRequest { reason: a.clone() });
        request!(WithdrawTransferRequest { reason: a.clone() });
        request!(ConfirmArrivalRequest {});
        request!(NotifyAbsenceRequest {
            host_region: a.clone(), from: b.clone(), until: c.clone(), reason: d.clone()
        });
        request!(ReportLostContactRequest { note: a.clone() });
        request!(RestoreContactRequest { note: a.clone() });
        request!(SuspendCaseRequest { reason: a.clone() });
        request!(ResumeCaseRequest {});
        request!(CloseCaseRequest { reason: closure, note: a.clone() });
        request!(AssignCaseRequest { to_region: a.clone(), reason: b.clone() });
    }

    #[test]
    fn a_closure_reason_on_the_wire_is_a_known_name_or_empty(
        value in prop_oneof![0i32..=8, any::<i32>()],
    ) {
        let name = closure_reason_name(value);
        prop_assert!(name.is_empty() || name.parse::<ClosureReason>().is_ok());
        prop_assert_eq!(name.is_empty(), pb::ClosureReason::try_from(value)
            .map_or(true, |reason| reason == pb::ClosureReason::Unspecified));
    }
}
