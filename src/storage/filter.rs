//! Which cases a list shows, and the SQL both backends build from it.

use time::OffsetDateTime;

use super::Cutoffs;
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId, CaseState};
use crate::domain::region::RegionCode;

/// An agency whose list shows the cases it acts in, not those of a
/// jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The cases this detox center submitted.
    Submitted(AgencyId),
    /// The cases this county project is responsible for now: its
    /// caseload; its closed cases only when the filter's state asks for
    /// them. A project is responsible only in its own county, where they
    /// are read.
    Responsible {
        project: AgencyId,
        county: RegionCode,
    },
    /// The cases being transferred to this county project, requested or
    /// accepted, not yet arrived. Storage finds the cases whose transfer
    /// is pending; which of them go to the project is in each case
    /// ([`Party::admits`]).
    Receiving(AgencyId),
}

impl Party {
    /// Whether `case`, as storage found it for this party, is one of its
    /// cases.
    pub fn admits(&self, case: &Case) -> bool {
        match self {
            Party::Receiving(project) => case
                .transfer
                .as_ref()
                .is_some_and(|transfer| &transfer.to_project == project),
            Party::Submitted(_) | Party::Responsible { .. } => true,
        }
    }
}

/// Which cases a list shows.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    /// Cases whose executing or household county lies in this region;
    /// unless `party` is given.
    pub jurisdiction: RegionCode,
    /// Instead of the jurisdiction: the cases this agency acts in.
    pub party: Option<Party>,
    /// Also unroutable cases held by this oversight office.
    pub oversight: Option<AgencyId>,
    /// Only cases executing in this county.
    pub county: Option<RegionCode>,
    pub state: Option<CaseState>,
    /// Only cases with a deadline due by these cutoffs.
    pub overdue: Option<Cutoffs>,
    pub unroutable: bool,
    /// Only open cases (discharged, not closed) whose person has another
    /// in the jurisdiction.
    pub open_elsewhere: bool,
    /// Closed cases only when their newest event (the closure) was
    /// recorded at or after this; see [`crate::domain::access::closed_at`].
    pub closed_since: Option<OffsetDateTime>,
    /// Cases after this id (ids sort by creation).
    pub after: Option<CaseId>,
    pub limit: u32,
}

/// Whose cases `filter` lists, on the cases `c`, in the SQL of both
/// backends: a party's own, or those of a jurisdiction (and, for an
/// office, those it holds as unroutable).
pub(crate) fn push_scope<'a, DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    filter: &CaseFilter,
) where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    match &filter.party {
        Some(Party::Submitted(center)) => {
            query
                .push("c.detox_center = ")
                .push_bind(center.as_str().to_owned());
        }
        Some(Party::Responsible { project, county }) => {
            push_caseload(
                query,
                project,
                *county,
                filter.state == Some(CaseState::Closed),
            );
        }
        Some(Party::Receiving(_)) => {
            query.push(format!(
                "c.state = '{}'",
                CaseState::TransferPending.as_str()
            ));
        }
        None => {
            let prefix = format!("{}%", filter.jurisdiction.prefix());
            query
                .push("(c.executing_region LIKE ")
                .push_bind(prefix.clone())
                .push(" OR c.household_region LIKE ")
                .push_bind(prefix);
            if let Some(oversight) = &filter.oversight {
                query
                    .push(" OR c.oversight = ")
                    .push_bind(oversight.as_str().to_owned());
            }
            query.push(")");
        }
    }
}

/// The cases `c` `project` is responsible for in `county`: its caseload,
/// open ones, or with `closed` its closed ones (whatever else the filter
/// narrows). A project is responsible only in its own county, so the
/// county's index (`cases_by_region`) finds them: an index of its own
/// would cost every new case a page at one of a hundred insertion points
/// (BENCHMARKS.md). Naming the open states lets the index skip the
/// closed ones.
fn push_caseload<'a, DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    project: &AgencyId,
    county: RegionCode,
    closed: bool,
) where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push("c.executing_region = ")
        .push_bind(county.to_string())
        .push(" AND c.responsible = ")
        .push_bind(project.as_str().to_owned());
    if !closed {
        let open: Vec<String> = (CaseState::ALL.into_iter())
            .filter(|state| state.is_supervised())
            .map(|state| format!("'{}'", state.as_str()))
            .collect();
        query.push(format!(" AND c.state IN ({})", open.join(", ")));
    }
}

/// Whether `project` has an open case in its caseload, read as the
/// caseload is listed.
pub(crate) fn open_caseload_exists<'a, DB: sqlx::Database>(
    project: &AgencyId,
    county: RegionCode,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM cases c WHERE ");
    push_caseload(&mut query, project, county, false);
    query.push(")");
    query
}

/// [`CaseFilter::open_elsewhere`] on the cases `c`, in the SQL of both
/// backends: the person's open cases are found by the index on
/// `person_key`, as a discharge finds them. Only another case in the same
/// jurisdiction counts (`prefix`, as [`CaseFilter::jurisdiction`] is
/// matched), so that the list tells the caller of no case it may not see.
pub(crate) fn push_open_elsewhere<'a, DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    prefix: &str,
) where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(
            " AND c.state NOT IN ('announced', 'closed') AND EXISTS (SELECT 1 FROM cases o \
             WHERE o.person_key = c.person_key AND o.id <> c.id \
             AND o.state NOT IN ('announced', 'closed') AND (o.executing_region LIKE ",
        )
        .push_bind(prefix.to_owned())
        .push(" OR o.household_region LIKE ")
        .push_bind(prefix.to_owned())
        .push("))");
}
