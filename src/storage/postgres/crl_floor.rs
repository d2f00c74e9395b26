//! The highest revocation list number any replica put in force, per CA
//! (`crl_floor`, migration `0011`), so that no replica serves with an
//! older list.

use sqlx::PgPool;

use super::{corrupt, unavailable};
use crate::storage::{CrlFloor, Result};

/// Raises the floor of `issuer` by `list` (the higher number, and the
/// serials of both), and returns the floor. Reads first:
/// the list seldom changes, and every replica asks every reload period.
pub(super) async fn raise(pool: &PgPool, issuer: &str, list: &CrlFloor) -> Result<CrlFloor> {
    let before = recorded(pool, issuer).await?;
    if before.holds(list) {
        return Ok(before);
    }
    // The serials of both lists, in one statement that holds the row.
    let (number, revoked): (i64, String) = sqlx::query_as(
        "INSERT INTO crl_floor AS f (issuer, number, revoked) VALUES ($1, $2, $3)
         ON CONFLICT (issuer) DO UPDATE SET number = GREATEST(f.number, excluded.number),
             revoked = COALESCE((
                 SELECT string_agg(DISTINCT serial, ' ' ORDER BY serial)
                 FROM unnest(string_to_array(f.revoked || ' ' || excluded.revoked, ' ')) AS serial
                 WHERE serial <> ''), '')
         RETURNING number, revoked",
    )
    .bind(issuer)
    .bind(i64::try_from(list.number).map_err(|e| corrupt(&e))?)
    .bind(list.revoked_text())
    .fetch_one(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    CrlFloor::from_stored(number, &revoked)
}

async fn recorded(pool: &PgPool, issuer: &str) -> Result<CrlFloor> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT number, revoked FROM crl_floor WHERE issuer = $1")
            .bind(issuer)
            .fetch_optional(pool)
            .await
            .map_err(|e| unavailable(&e))?;
    row.map_or(Ok(CrlFloor::default()), |(number, revoked)| {
        CrlFloor::from_stored(number, &revoked)
    })
}
