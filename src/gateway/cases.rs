//! Case queries. "Not found" and "not permitted" are one answer, so the API
//! cannot be used to learn whether someone is on file.

use super::{Gateway, GatewayError, Result};
use crate::domain::access::can_view;
use crate::domain::agency::{AgencyKind, AgencyRef};
use crate::domain::case::{Case, CaseId};
use crate::domain::id_number::IdNumber;
use crate::domain::validation::{self, Invalid};

/// How a caller names the case it wants.
#[derive(Debug, Clone)]
pub enum CaseQuery {
    ById(String),
    /// The person's most recent case the caller may see.
    ByIdNumber(String),
}

pub const PURPOSE_MAX_CHARS: usize = 200;

impl Gateway {
    /// A case with its deadlines and full history.
    ///
    /// # Errors
    /// `Invalid` for a malformed key or a police query without a purpose;
    /// `NotFound` when no case matches that the caller may see.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn get_case(
        &self,
        caller: &AgencyRef,
        query: &CaseQuery,
        purpose: &str,
    ) -> Result<Case> {
        let purpose = match (caller.kind, purpose.trim().is_empty()) {
            (AgencyKind::Police, true) => {
                return Err(
                    Invalid::field("purpose", "police must state the purpose of a query").into(),
                );
            }
            (_, true) => None,
            (_, false) => Some(
                validation::text(purpose, PURPOSE_MAX_CHARS)
                    .map_err(|e| Invalid::field("purpose", e))?,
            ),
        };
        let found = match query {
            CaseQuery::ById(text) => {
                let id = CaseId::parse(text).map_err(|e| Invalid::field("case_id", e))?;
                self.storage
                    .case(&id)
                    .await?
                    .filter(|case| can_view(caller, case))
            }
            CaseQuery::ByIdNumber(text) => {
                let number = IdNumber::parse(text, self.clock.today())
                    .map_err(|e| Invalid::field("id_number", e))?;
                let cases = self
                    .storage
                    .cases_of_person(&self.keyer.key(&number))
                    .await?;
                cases.into_iter().find(|case| can_view(caller, case))
            }
        };
        let case = found.ok_or(GatewayError::NotFound)?;
        // The purpose is free text and may name a person: it belongs in the
        // audit log, not in the operational log.
        tracing::info!(case_id = %case.id, stated_purpose = purpose.is_some(), "case read");
        Ok(case)
    }

    pub fn deadlines(&self, case: &Case) -> Vec<crate::domain::deadline::Deadline> {
        case.deadlines(&self.settings.deadlines)
    }
}
