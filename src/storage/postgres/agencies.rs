//! The agency registry as stored: who may call, and as what.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::{corrupt, millis, unavailable};
use crate::domain::agency::{Agency, AgencyId, AgencyRef};
use crate::domain::region::RegionCode;
use crate::storage::Result;

pub(super) async fn register(pool: &PgPool, agency: &Agency) -> Result<()> {
    sqlx::query(
        "INSERT INTO agencies (id, kind, region, name, enabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, region = excluded.region,
             name = excluded.name, enabled = excluded.enabled",
    )
    .bind(agency.agency.id.as_str())
    .bind(agency.agency.kind.as_str())
    .bind(agency.agency.region.to_string())
    .bind(&agency.name)
    .bind(agency.enabled)
    .bind(millis(time::OffsetDateTime::now_utc()))
    .execute(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(())
}

pub(super) async fn one(pool: &PgPool, id: &AgencyId) -> Result<Option<Agency>> {
    let row = sqlx::query("SELECT id, kind, region, name, enabled FROM agencies WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    row.as_ref().map(agency_from_row).transpose()
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<Agency>> {
    let rows = sqlx::query("SELECT id, kind, region, name, enabled FROM agencies ORDER BY id")
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    rows.iter().map(agency_from_row).collect()
}

fn agency_from_row(row: &PgRow) -> Result<Agency> {
    let kind: String = row.try_get("kind").map_err(|e| corrupt(&e))?;
    let region: String = row.try_get("region").map_err(|e| corrupt(&e))?;
    let id: String = row.try_get("id").map_err(|e| corrupt(&e))?;
    let agency = AgencyRef::new(
        kind.parse().map_err(|e| corrupt(&e))?,
        RegionCode::parse(&region).map_err(|e| corrupt(&e))?,
        AgencyId::parse(&id).map_err(|e| corrupt(&e))?,
    )
    .map_err(|e| corrupt(&e))?;
    Ok(Agency {
        agency,
        name: row.try_get("name").map_err(|e| corrupt(&e))?,
        enabled: row.try_get("enabled").map_err(|e| corrupt(&e))?,
    })
}
