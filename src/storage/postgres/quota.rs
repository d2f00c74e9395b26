//! The police query quota, counted for every replica in the database
//! (`police_queries`, migration `0010`, UNLOGGED: a count waits for no WAL
//! flush).

use sqlx::PgPool;

use super::unavailable;
use crate::domain::agency::AgencyId;
use crate::storage::Result;

/// Counts one case query by police `agency` on `day` against `quota`, in
/// one statement; `false`, and nothing counted, once the day's quota is
/// used up. The day is bound as text: this build of sqlx has no `time`
/// support, and `YYYY-MM-DD` is what PostgreSQL reads as a date.
///
/// The same statement drops the agency's counts of days before yesterday
/// (yesterday's stays for a replica whose clock is a little behind): the
/// table keeps at most two rows an agency, without a job of its own, and
/// the delete reads the agency's few rows by the primary key.
pub(super) async fn count(
    pool: &PgPool,
    agency: &AgencyId,
    day: time::Date,
    quota: u32,
) -> Result<bool> {
    let counted = sqlx::query(
        "WITH pruned AS (
             DELETE FROM police_queries WHERE agency_id = $1 AND day < $2::date - 1
         )
         INSERT INTO police_queries AS q (agency_id, day, queries) VALUES ($1, $2::date, 1)
         ON CONFLICT (agency_id, day) DO UPDATE SET queries = q.queries + 1
         WHERE q.queries < $3
         RETURNING queries",
    )
    .bind(agency.as_str())
    .bind(day.to_string())
    .bind(i64::from(quota))
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(counted.is_some())
}
