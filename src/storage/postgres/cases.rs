//! Reading cases and submissions' answers (writing them: [`super::write`]).

use sqlx::{PgPool, Row};

use super::{corrupt, unavailable};
use crate::domain::agency::AgencyId;
use crate::domain::case::{Case, CaseId};
use crate::storage::seal::{Sealer, open_case};
use crate::storage::{Result, StoredAnswer};

pub(super) async fn answer(
    pool: &PgPool,
    agency: &AgencyId,
    request_id: &str,
) -> Result<Option<StoredAnswer>> {
    let row = sqlx::query(
        "SELECT digest, outcome FROM requests WHERE agency_id = $1 AND request_id = $2",
    )
    .bind(agency.as_str())
    .bind(request_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    let Some(row) = row else { return Ok(None) };
    let digest: Vec<u8> = row.try_get("digest").map_err(|e| corrupt(&e))?;
    let outcome: String = row.try_get("outcome").map_err(|e| corrupt(&e))?;
    Ok(Some(StoredAnswer {
        digest: digest
            .try_into()
            .map_err(|_| corrupt(&"request digest is not 32 bytes"))?,
        outcome: serde_json::from_str(&outcome).map_err(|e| corrupt(&e))?,
    }))
}

pub(super) async fn load_case(pool: &PgPool, sealer: &Sealer, id: &CaseId) -> Result<Option<Case>> {
    let rows =
        sqlx::query("SELECT sequence, body FROM case_events WHERE case_id = $1 ORDER BY sequence")
            .bind(id.as_str())
            .fetch_all(pool)
            .await
            .map_err(|e| unavailable(&e))?;
    let events = rows
        .iter()
        .map(|row| {
            let sequence: i64 = row.try_get("sequence").map_err(|e| corrupt(&e))?;
            let body: &[u8] = row.try_get("body").map_err(|e| corrupt(&e))?;
            Ok((sequence, body))
        })
        .collect::<Result<Vec<_>>>()?;
    open_case(sealer, id, events)
}
