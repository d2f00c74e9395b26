//! The highest revocation list number any replica put in force, per CA
//! (`crl_floor`, migration `0011`), so that no replica serves with an
//! older list.

use sqlx::PgPool;

use super::{corrupt, to_i64, unavailable};
use crate::storage::Result;

/// Raises the recorded number to `number` if lower, and returns the number
/// recorded. Reads first: the number seldom changes, and every replica
/// asks every reload period.
pub(super) async fn raise(pool: &PgPool, issuer: &str, number: u64) -> Result<u64> {
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT number FROM crl_floor WHERE issuer = $1")
            .bind(issuer)
            .fetch_optional(pool)
            .await
            .map_err(|e| unavailable(&e))?;
    let recorded = u64::try_from(recorded.unwrap_or(0)).map_err(|e| corrupt(&e))?;
    if recorded >= number {
        return Ok(recorded);
    }
    let floor: i64 = sqlx::query_scalar(
        "INSERT INTO crl_floor AS f (issuer, number) VALUES ($1, $2)
         ON CONFLICT (issuer) DO UPDATE SET number = GREATEST(f.number, excluded.number)
         RETURNING number",
    )
    .bind(issuer)
    .bind(to_i64(number))
    .fetch_one(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    u64::try_from(floor).map_err(|e| corrupt(&e))
}
