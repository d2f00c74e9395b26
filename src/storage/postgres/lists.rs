//! The queries that pick cases by their columns: due deadlines for the
//! escalation scan, filtered pages of a jurisdiction, a project's
//! caseload or a detox center's releases, and whether any case, or any
//! open case of a project, is stored.

use std::collections::BTreeSet;

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::cases::seen;
use super::inbox::{event_rows, histories};
use super::{corrupt, millis, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId};
use crate::domain::region::RegionCode;
use crate::storage::seal::Sealer;
use crate::storage::{
    CaseFilter, Cutoffs, Result, Seen, open_caseload_exists, push_open_elsewhere, push_scope,
};

/// `(kind = $n AND starts_at <= $m) OR ...`: a deadline is due when it
/// started before its kind's cutoff.
fn push_due(query: &mut QueryBuilder<'_, Postgres>, cutoffs: &Cutoffs) {
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
        query.push("FALSE");
    }
    query.push(")");
}

fn case_ids(rows: &[String]) -> Result<Vec<CaseId>> {
    rows.iter()
        .map(|id| CaseId::parse(id).map_err(|e| corrupt(&e)))
        .collect()
}

/// The cases with `ids`, in that order; a case that vanished is skipped.
/// Their events are read in one statement, as a backlog page's are.
pub(super) async fn load_cases(
    pool: &PgPool,
    sealer: &Sealer,
    ids: Vec<String>,
) -> Result<Vec<Case>> {
    let ids = case_ids(&ids)?;
    let wanted: BTreeSet<CaseId> = ids.iter().cloned().collect();
    let mut connection = pool.acquire().await.map_err(|e| unavailable(&e))?;
    let rows = event_rows(&mut connection, &wanted).await?;
    drop(connection);
    let mut histories = histories(sealer, wanted, &rows)?;
    let mut cases = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(history) = histories.remove(&id).transpose()? else {
            continue;
        };
        if history.is_empty() {
            continue;
        }
        cases.push(Case::from_history(id, history).map_err(|e| corrupt(&e))?);
    }
    Ok(cases)
}

pub(super) async fn due_cases(
    pool: &PgPool,
    cutoffs: &Cutoffs,
    after: Option<&CaseId>,
    limit: u32,
) -> Result<Vec<CaseId>> {
    let mut query =
        QueryBuilder::new("SELECT DISTINCT d.case_id FROM deadlines d WHERE NOT d.escalated AND ");
    push_due(&mut query, cutoffs);
    if let Some(after) = after {
        query.push(" AND d.case_id > ").push_bind(after.to_string());
    }
    query
        .push(" ORDER BY d.case_id LIMIT ")
        .push_bind(i64::from(limit));
    let rows: Vec<String> = query
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    case_ids(&rows)
}

/// Region codes are digits only, so the prefix needs no LIKE escaping.
/// How many cases have a deadline due by `cutoffs`, escalated or not.
pub(super) async fn count_overdue(pool: &PgPool, cutoffs: &Cutoffs) -> Result<u64> {
    let mut query = QueryBuilder::new("SELECT COUNT(DISTINCT d.case_id) FROM deadlines d WHERE ");
    push_due(&mut query, cutoffs);
    let count: i64 = query
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    u64::try_from(count).map_err(|e| corrupt(&e))
}

/// How many cases wait for an oversight office to assign them.
pub(super) async fn count_unroutable(pool: &PgPool) -> Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE unroutable")
        .fetch_one(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    u64::try_from(count).map_err(|e| corrupt(&e))
}

/// A page of the cases `filter` picks, and the registry's version read in
/// the same statement, with which the list confirms its caller (the
/// cases' events are read after, in a second one). The one-row `VALUES`
/// keeps a row, with a NULL id, when the page is empty.
pub(super) async fn list_cases(
    pool: &PgPool,
    sealer: &Sealer,
    filter: &CaseFilter,
) -> Result<Seen<Vec<Case>>> {
    let mut query = QueryBuilder::new(
        "SELECT page.id, (SELECT version FROM registry_version WHERE id = 1) AS registry_version \
         FROM (VALUES (1)) AS one (x) LEFT JOIN (SELECT c.id FROM cases c WHERE ",
    );
    push_filter(&mut query, filter);
    query
        .push(" ORDER BY c.id LIMIT ")
        .push_bind(i64::from(filter.limit))
        .push(") page ON TRUE ORDER BY page.id");
    let rows = query
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    let (registry_version, rows) = seen(&rows, "id")?;
    let ids = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| corrupt(&e))?;
    Ok(Seen {
        found: load_cases(pool, sealer, ids).await?,
        registry_version,
    })
}

/// The conditions of `filter` on the cases `c`.
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &CaseFilter) {
    push_scope(query, filter);
    if let Some(county) = filter.county {
        query
            .push(" AND c.executing_region = ")
            .push_bind(county.to_string());
    }
    if let Some(state) = filter.state {
        query.push(" AND c.state = ").push_bind(state.as_str());
    }
    if filter.unroutable {
        query.push(" AND c.unroutable");
    }
    if filter.open_elsewhere {
        push_open_elsewhere(query, &format!("{}%", filter.jurisdiction.prefix()));
    }
    if let Some(cutoffs) = &filter.overdue {
        query.push(" AND EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id AND ");
        push_due(query, cutoffs);
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
}

pub(super) async fn holds_cases(pool: &PgPool) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases)")
        .fetch_one(pool)
        .await
        .map_err(|e| unavailable(&e))
}

/// See [`crate::storage::Storage::responsible_for_open_cases`].
pub(super) async fn responsible_for_open_cases(
    pool: &PgPool,
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
    pool: &PgPool,
    after: Option<&CaseId>,
    limit: u32,
) -> Result<Vec<CaseId>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT case_id FROM deadline_backfill WHERE case_id > $1 ORDER BY case_id LIMIT $2",
    )
    .bind(after.map_or("", CaseId::as_str))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    case_ids(&rows)
}

pub(super) async fn deadline_backfilled(pool: &PgPool, id: &CaseId) -> Result<()> {
    sqlx::query("DELETE FROM deadline_backfill WHERE case_id = $1")
        .bind(id.as_str())
        .execute(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(())
}
