//! The registry of agencies, read through the sqlx pool; it is written
//! by the writer thread (`Work::RegisterAgency`).

use sqlx::{Row, SqlitePool};

use super::{corrupt, unavailable};
use crate::domain::agency::{Agency, AgencyId, AgencyRef};
use crate::domain::region::RegionCode;
use crate::storage::Result;

pub(super) async fn agency(readers: &SqlitePool, id: &AgencyId) -> Result<Option<Agency>> {
    let row = sqlx::query("SELECT id, kind, region, name, enabled FROM agencies WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    row.as_ref().map(agency_from_row).transpose()
}

pub(super) async fn agencies(readers: &SqlitePool) -> Result<Vec<Agency>> {
    let rows = sqlx::query("SELECT id, kind, region, name, enabled FROM agencies ORDER BY id")
        .fetch_all(readers)
        .await
        .map_err(|e| unavailable(&e))?;
    rows.iter().map(agency_from_row).collect()
}

fn agency_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Agency> {
    let kind: String = row.get("kind");
    let region: String = row.get("region");
    let id: String = row.get("id");
    let agency = AgencyRef::new(
        kind.parse().map_err(|e| corrupt(&e))?,
        RegionCode::parse(&region).map_err(|e| corrupt(&e))?,
        AgencyId::parse(&id).map_err(|e| corrupt(&e))?,
    )
    .map_err(|e| corrupt(&e))?;
    Ok(Agency {
        agency,
        name: row.get("name"),
        enabled: row.get::<i64, _>("enabled") != 0,
    })
}
