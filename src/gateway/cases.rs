//! Case queries. "Not found" and "not permitted" are one answer, so the API
//! cannot be used to learn whether someone is on file.

use super::{Gateway, GatewayError, Result};
use crate::domain::access::can_read;
use crate::domain::agency::{AgencyKind, AgencyRef};
use crate::domain::case::{Case, CaseId, CaseState};
use crate::domain::id_number::IdNumber;
use crate::domain::policy::{Call, Relation};
use crate::domain::region::RegionCode;
use crate::domain::validation::{self, Invalid};
use crate::storage::{CaseFilter, Party};

/// How a caller names the case it wants.
#[derive(Debug, Clone)]
pub enum CaseQuery {
    ById(String),
    /// The person's most recent case the caller may see.
    ByIdNumber(String),
}

pub const PURPOSE_MAX_CHARS: usize = 200;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// A list request from police or oversight, as sent.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub state: Option<CaseState>,
    pub overdue: bool,
    pub unroutable: bool,
    /// Only open cases whose person has another open case.
    pub open_elsewhere: bool,
    /// A county project's incoming transfers instead of its caseload.
    pub incoming_transfers: bool,
    /// A county code, or empty for the whole jurisdiction.
    pub county: String,
    pub page_size: u32,
    /// The last case id of the previous page, or empty.
    pub page_token: String,
}

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
        let relation = self.authorize(caller, Call::GetCase)?;
        self.count_query(caller, Call::GetCase).await?;
        let purpose = match (relation, purpose.trim().is_empty()) {
            (Relation::SeesWithPurpose, true) => {
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
        // The read also confirms the caller (see `Gateway::confirm_caller`):
        // nothing it found is answered to one the registry no longer admits.
        let found = match query {
            CaseQuery::ById(text) => {
                let id = CaseId::parse(text).map_err(|e| Invalid::field("case_id", e))?;
                let seen = self.storage.case_seen(&id).await?;
                self.confirmed(seen)
                    .await?
                    .filter(|case| self.can_read(caller, case))
            }
            CaseQuery::ByIdNumber(text) => {
                let number = IdNumber::parse(text, self.clock.today())
                    .map_err(|e| Invalid::field("id_number", e))?;
                let seen = self
                    .storage
                    .cases_of_person(&self.keyer.key(&number))
                    .await?;
                let cases = self.confirmed(seen).await?;
                cases.into_iter().find(|case| self.can_read(caller, case))
            }
        };
        let case = found.ok_or(GatewayError::NotFound)?;
        // The purpose is free text and may name a person: it belongs in the
        // audit log, not in the operational log.
        tracing::info!(case_id = %case.id, stated_purpose = purpose.is_some(), "case read");
        Ok(case)
    }

    /// A page of the cases in the caller's jurisdiction (police, offices),
    /// of its caseload (a project) or of its releases (a detox center),
    /// and the token of the next page when there may be one.
    ///
    /// # Errors
    /// `PermissionDenied` for police or an office asking for a county
    /// outside its jurisdiction; `Invalid` for a bad county, page size or
    /// token, or `open_elsewhere` asked by a project or a detox center.
    #[tracing::instrument(skip_all, fields(agency = %caller.id))]
    pub async fn list_cases(
        &self,
        caller: &AgencyRef,
        query: &ListQuery,
    ) -> Result<(Vec<Case>, Option<String>)> {
        self.authorize(caller, Call::ListCases)?;
        self.count_query(caller, Call::ListCases).await?;
        let mut invalid = Invalid::default();
        let county = if query.county.is_empty() {
            None
        } else {
            invalid.check("county", RegionCode::parse_county(&query.county))
        };
        let after = if query.page_token.is_empty() {
            None
        } else {
            invalid.check("page_token", CaseId::parse(&query.page_token))
        };
        let limit = match query.page_size {
            0 => DEFAULT_PAGE,
            size if size > MAX_PAGE => {
                invalid.push("page_size", format!("is at most {MAX_PAGE}"));
                MAX_PAGE
            }
            size => size,
        };
        if !invalid.violations.is_empty() {
            return Err(invalid.into());
        }
        // Detox centers list the releases they made, to any county, and
        // projects the cases they run, in their own; police and offices
        // the cases of their jurisdiction.
        let party = match caller.kind {
            AgencyKind::DetoxCenter => Some(Party::Submitted(caller.id.clone())),
            AgencyKind::CountyProject if query.incoming_transfers => {
                Some(Party::Receiving(caller.id.clone()))
            }
            AgencyKind::CountyProject => Some(Party::Responsible {
                project: caller.id.clone(),
                county: caller.region,
            }),
            AgencyKind::Police | AgencyKind::Oversight => None,
        };
        if query.incoming_transfers && caller.kind != AgencyKind::CountyProject {
            return Err(Invalid::field(
                "incoming_transfers",
                "only county projects receive transfers",
            )
            .into());
        }
        if party.is_some() && query.open_elsewhere {
            return Err(Invalid::field(
                "open_elsewhere",
                "only police and oversight offices list the cases whose person has another open case",
            )
            .into());
        }
        if let Some(county) = county
            && party.is_none()
            && !caller.region.covers(county)
        {
            return Err(GatewayError::PermissionDenied(format!(
                "county {county} is outside the jurisdiction of {}",
                caller.region
            )));
        }
        let now = self.clock.now();
        let filter = CaseFilter {
            jurisdiction: caller.region,
            party,
            oversight: (caller.kind == AgencyKind::Oversight).then(|| caller.id.clone()),
            county,
            state: query.state,
            overdue: query.overdue.then(|| self.settings.deadlines.cutoffs(now)),
            unroutable: query.unroutable,
            open_elsewhere: query.open_elsewhere,
            closed_since: (caller.kind == AgencyKind::Police)
                .then(|| self.settings.access.police_closed_cutoff(now)),
            after,
            limit,
        };
        let (cases, next) = self.readable_page(caller, filter).await?;
        tracing::info!(cases = cases.len(), "cases listed");
        Ok((cases, next.map(|id| id.to_string())))
    }

    /// A page of `filter`'s cases that `caller` may read, and the case the
    /// next page starts after. A list shows no case the caller could not
    /// read (one whose county only a withdrawn notice named, once that
    /// part has passed), and reads on past such cases to fill the page, a
    /// few reads at most. The token names the last case read: after reads
    /// of nothing but such cases, one the caller does not see, whose id
    /// tells no more than that a case exists.
    async fn readable_page(
        &self,
        caller: &AgencyRef,
        mut filter: CaseFilter,
    ) -> Result<(Vec<Case>, Option<CaseId>)> {
        const READS: usize = 4;
        let limit = filter.limit as usize;
        let mut shown: Vec<Case> = Vec::new();
        for _ in 0..READS {
            // As a status query's, the read confirms the caller.
            let page = self
                .confirmed(self.storage.list_cases(&filter).await?)
                .await?;
            let full = page.len() == filter.limit as usize;
            let Some(last) = page.last().map(|case| case.id.clone()) else {
                return Ok((shown, None));
            };
            shown.extend(page.into_iter().filter(|case| {
                filter.party.as_ref().is_none_or(|party| party.admits(case))
                    && self.can_read(caller, case)
            }));
            if !full {
                return Ok((shown, None));
            }
            if shown.len() == limit {
                return Ok((shown, Some(last)));
            }
            filter.after = Some(last);
            filter.limit = u32::try_from(limit - shown.len()).unwrap_or(1);
        }
        Ok((shown, filter.after))
    }

    /// Whether `caller` may read `case` now: every call on a case asks
    /// this first, so that a case hidden from police is, for them, no case
    /// at all, whatever the call.
    pub(super) fn can_read(&self, caller: &AgencyRef, case: &Case) -> bool {
        can_read(caller, case, self.clock.now(), &self.settings.access)
    }

    /// The gateway's clock, for answers that say what is overdue.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    pub fn deadlines(&self, case: &Case) -> Vec<crate::domain::deadline::Deadline> {
        case.deadlines(&self.settings.deadlines)
    }
}
