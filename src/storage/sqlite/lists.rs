//! The queries that pick cases by their columns: due deadlines for the
//! escalation scan, filtered pages of a jurisdiction, a project's
//! caseload or a detox center's releases, and whether any case, or any
//! open case of a project, is stored.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::cases::millis;
use super::{corrupt, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::CaseId;
use crate::domain::region::RegionCode;
use crate::storage::{
    CaseFilter, Cutoffs, Result, open_caseload_exists, push_open_elsewhere, push_scope,
};

/// `(kind = ? AND starts_at <= ?) OR ...`: a deadline is due when it
/// started before its kind's cutoff.
fn push_due(query: &mut QueryBuilder<'_, Sqlite>, cutoffs: &Cutoffs) {
    query.push("(");
    for (index, (kind, cutoff)) in cutoffs.iter().enumerate() {
        if index > 0 {
            query.push(" OR ");
        }
        query
            .push("(d.kind = ")
            .push_bind(kind.as_str())
            .push(" AND d.starts_at <= ")
            .push_bind(millis(*cutoff))
            .push(")");
    }
    if cutoffs.is_empty() {
        query.push("0");
    }
    query.push(")");
}

fn case_ids(rows: Vec<String>) -> Result<Vec<CaseId>> {
    rows.iter()
        .map(|id| CaseId::parse(id).map_err(|e| corrupt(&e)))
        .collect()
}

pub(super) async fn due_cases(
    readers: &SqlitePool,
    cutoffs: &Cutoffs,
    after: Option<&CaseId>,
    limit: u32,
) -> Result<Vec<CaseId>> {
    let mut query =
        QueryBuilder::new("SELECT DISTINCT d.case_id FROM deadlines d WHERE d.escalated = 0 AND ");
    push_due(&mut query, cutoffs);
    if let Some(after) = after {
        query.push(" AND d.case_id > ").push_bind(after.to_string());
    }
    query
        .push(" ORDER BY d.case_id LIMIT ")
        .push_bind(i64::from(limit));
    let rows: Vec<String> = query
        .build_query_scalar()
        .fetch_all(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    case_ids(rows)
}

/// How many cases have a deadline due by `cutoffs`, escalated or not.
pub(super) async fn count_overdue(readers: &SqlitePool, cutoffs: &Cutoffs) -> Result<u64> {
    let mut query = QueryBuilder::new("SELECT COUNT(DISTINCT d.case_id) FROM deadlines d WHERE ");
    push_due(&mut query, cutoffs);
    let count: i64 = query
        .build_query_scalar()
        .fetch_one(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    u64::try_from(count).map_err(|e| corrupt(&e))
}

/// How many cases wait for an oversight office to assign them.
pub(super) async fn count_unroutable(readers: &SqlitePool) -> Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE unroutable = 1")
        .fetch_one(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    u64::try_from(count).map_err(|e| corrupt(&e))
}

/// The ids of a page of cases, in id order; the reader threads load them.
pub(super) async fn list_case_ids(
    readers: &SqlitePool,
    filter: &CaseFilter,
) -> Result<Vec<CaseId>> {
    let mut query = QueryBuilder::new("SELECT c.id FROM cases c WHERE ");
    push_scope(&mut query, filter);
    if let Some(county) = filter.county {
        query
            .push(" AND c.executing_region = ")
            .push_bind(county.to_string());
    }
    if let Some(state) = filter.state {
        query.push(" AND c.state = ").push_bind(state.as_str());
    }
    if filter.unroutable {
        query.push(" AND c.unroutable = 1");
    }
    if filter.open_elsewhere {
        push_open_elsewhere(&mut query, &format!("{}%", filter.jurisdiction.prefix()));
    }
    if let Some(cutoffs) = &filter.overdue {
        query.push(" AND EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id AND ");
        push_due(&mut query, cutoffs);
        query.push(")");
    }
    if let Some(since) = filter.closed_since {
        // The closure is the case's newest event: `version` is its sequence.
        query
            .push(" AND (c.state <> 'closed' OR EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.sequence = c.version AND e.recorded_at >= ")
            .push_bind(millis(since))
            .push("))");
    }
    if let Some(after) = &filter.after {
        query
            .push(" AND c.id > ")
            .push_bind(after.as_str().to_owned());
    }
    query
        .push(" ORDER BY c.id LIMIT ")
        .push_bind(i64::from(filter.limit));
    let rows: Vec<String> = query
        .build_query_scalar()
        .fetch_all(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    case_ids(rows)
}

pub(super) async fn holds_cases(pool: &SqlitePool) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases)")
        .fetch_one(pool)
        .await
        .map_err(|e| unavailable(&e))
}

/// See [`crate::storage::Storage::responsible_for_open_cases`].
pub(super) async fn responsible_for_open_cases(
    pool: &SqlitePool,
    project: &AgencyId,
    county: RegionCode,
) -> Result<bool> {
    open_caseload_exists(project, county)
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(|e| unavailable(&e))
}

/// See [`crate::storage::Storage::deadline_backfill`].
pub(super) async fn deadline_backfill(
    pool: &SqlitePool,
    after: Option<&CaseId>,
    limit: u32,
) -> Result<Vec<CaseId>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT case_id FROM deadline_backfill WHERE case_id > ? ORDER BY case_id LIMIT ?",
    )
    .bind(after.map_or("", CaseId::as_str))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    case_ids(rows)
}
