//! Commands on a case after discharge: county projects' pickup, report,
//! transfers, absence, loss of contact, suspension and closure, and an
//! oversight office's assignment of an unroutable case.

use serde::Serialize;

use super::intake::request_key;
use super::write::Submitted;
use super::{Gateway, GatewayError, Result};
use crate::domain::agency::AgencyRef;
use crate::domain::case::CaseId;
use crate::domain::lifecycle::{CommandDraft, Refusal, decide, describe_state};
use crate::domain::validation::Invalid;
use crate::storage::CaseKey;

impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => GatewayError::NotFound,
            Refusal::NotPermitted(message) => GatewayError::PermissionDenied(message),
            Refusal::WrongState { message, .. } => GatewayError::FailedPrecondition(message),
            Refusal::Unroutable { field, message } => {
                GatewayError::FailedPrecondition(format!("{field}: {message}"))
            }
            Refusal::Invalid(invalid) => GatewayError::Invalid(invalid),
        }
    }
}

/// What a command's request id covers.
#[derive(Serialize)]
struct Content<'a> {
    case_id: &'a str,
    expected_version: Option<u32>,
    command: &'a CommandDraft,
}

impl Gateway {
    /// Carries out one command on a case, idempotently by request id.
    /// With `expected_version`, the command is refused unless the case is
    /// still at that version.
    ///
    /// # Errors
    /// `Invalid` for bad fields, `NotFound` for a case the caller may not
    /// see, `PermissionDenied` for the wrong caller, `FailedPrecondition`
    /// when the case's state or version does not allow it, `AlreadyExists`
    /// for a request id reused with other content.
    #[tracing::instrument(skip_all, fields(agency = %caller.id, command = draft.name()))]
    pub async fn command(
        &self,
        caller: &AgencyRef,
        request_id: &str,
        case_id: &str,
        expected_version: Option<u32>,
        draft: &CommandDraft,
    ) -> Result<Submitted> {
        self.limit(caller)?;
        let parse = || {
            let mut invalid = Invalid::default();
            let id = invalid.check("case_id", CaseId::parse(case_id));
            let today = self.clock.today();
            let command = draft
                .parse()
                .and_then(|command| command.check_dates(today).map(|()| command))
                .map_err(|more| invalid.violations.extend(more.violations))
                .ok();
            invalid.finish(|| id.zip(command))
        };
        let content = Content {
            case_id,
            expected_version,
            command: draft,
        };
        let key = request_key(caller, request_id, draft.name(), &content, parse)?;
        let (id, command) = match parse() {
            Ok(parsed) => parsed,
            Err(invalid) => return self.replay_or(&key, invalid).await,
        };
        self.submit(key, CaseKey::Id(id), |existing, _, agencies| {
            let case = existing
                .filter(|case| self.can_read(caller, case))
                .ok_or(GatewayError::NotFound)?;
            if let Some(expected) = expected_version
                && expected != case.version()
            {
                return Err(GatewayError::FailedPrecondition(format!(
                    "the case is at version {} ({}), not {expected}; read it again",
                    case.version(),
                    describe_state(&case)
                )));
            }
            let event = decide(&case, caller, &command, agencies)?;
            self.prepare(
                &caller.id,
                case.id,
                case.history,
                vec![event],
                agencies,
                None,
            )
        })
        .await
    }
}
