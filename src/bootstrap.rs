//! Development certificates and an example registry, made on the first
//! start when the certificate folder holds no CA. For development only.

use std::path::Path;

use crate::domain::agency::{Agency, AgencyId, AgencyKind, AgencyRef};
use crate::domain::region::RegionCode;
use crate::pki::{CertificateAuthority, PkiError};
use crate::storage::Storage;

/// The example agencies: one detox center, two county projects in
/// different counties of Taiyuan with their county police, the city police
/// and the provincial oversight office.
pub const EXAMPLE_AGENCIES: [(&str, &str, &str, &str); 7] = [
    (
        "taiyuan-detox",
        "detox-center",
        "140100",
        "太原市强制隔离戒毒所",
    ),
    (
        "yingze-project",
        "county-project",
        "140106",
        "迎泽区禁毒社工项目部",
    ),
    (
        "yingze-police",
        "police",
        "140106",
        "迎泽区公安分局禁毒大队",
    ),
    (
        "xiaodian-project",
        "county-project",
        "140105",
        "小店区禁毒社工项目部",
    ),
    (
        "xiaodian-police",
        "police",
        "140105",
        "小店区公安分局禁毒大队",
    ),
    ("taiyuan-police", "police", "140100", "太原市公安局禁毒支队"),
    ("shanxi-office", "oversight", "140000", "山西省禁毒办"),
];

/// Writes the CA and a server certificate for `hosts` into `dir`. The
/// server certificate is made first: a host it cannot name then leaves no
/// CA behind that a second try would refuse to overwrite.
///
/// # Errors
/// When a host is not a valid name or address, the CA already exists or a
/// file cannot be written.
pub fn init_ca(dir: &Path, hosts: &[&str]) -> Result<CertificateAuthority, PkiError> {
    let ca = CertificateAuthority::generate("handover-gateway CA")?;
    let server = ca.issue_server(hosts)?;
    ca.save(dir)?;
    server.write(dir, "server")?;
    Ok(ca)
}

/// Writes a new server certificate for `hosts` into `dir`, signed by the
/// CA there (a renewal, or a replica's host name added). Gateways reading
/// `dir` put it in force at their next reload.
///
/// # Errors
/// When the CA cannot be loaded, a host is not a valid name or address,
/// or a file cannot be written.
pub fn renew_server(dir: &Path, hosts: &[&str]) -> Result<(), PkiError> {
    let ca = CertificateAuthority::load(dir)?;
    ca.issue_server(hosts)?.write(dir, "server")
}

/// Issues an agency certificate into `dir` and registers the agency.
///
/// # Errors
/// When the certificate cannot be written or the registry cannot be updated,
/// or when it would move a county project that runs open cases to another
/// county or kind.
pub async fn issue_agency(
    ca: &CertificateAuthority,
    storage: &dyn Storage,
    dir: &Path,
    agency: AgencyRef,
    name: &str,
) -> anyhow::Result<()> {
    keeps_its_county(storage, &agency).await?;
    ca.issue_agency(&agency, name)?
        .write(dir, agency.id.as_str())?;
    storage
        .register_agency(&Agency {
            agency,
            name: name.to_owned(),
            enabled: true,
        })
        .await?;
    Ok(())
}

/// A county project stays in its county while it is responsible for open
/// cases there: its caseload is read in its county, and every case it runs
/// executes there.
async fn keeps_its_county(storage: &dyn Storage, agency: &AgencyRef) -> anyhow::Result<()> {
    let Some(registered) = storage.agency(&agency.id).await? else {
        return Ok(());
    };
    let was = registered.agency;
    if was.kind != AgencyKind::CountyProject
        || (was.kind, was.region) == (agency.kind, agency.region)
    {
        return Ok(());
    }
    anyhow::ensure!(
        !storage
            .responsible_for_open_cases(&was.id, was.region)
            .await?,
        "{was} is responsible for open cases in {}: a county project keeps its kind and county \
         while it is. Register the new one under another id, and hand the cases on (a transfer \
         to its county) or close them first; nothing was changed",
        was.region
    );
    Ok(())
}

/// Makes development certificates and the example registry.
///
/// # Errors
/// As [`init_ca`] and [`issue_agency`].
pub async fn development(dir: &Path, storage: &dyn Storage) -> anyhow::Result<()> {
    let ca = init_ca(dir, &["localhost", "127.0.0.1"])?;
    for (id, kind, region, name) in EXAMPLE_AGENCIES {
        let agency = AgencyRef::new(
            kind.parse::<AgencyKind>()?,
            RegionCode::parse(region)?,
            AgencyId::parse(id)?,
        )?;
        issue_agency(&ca, storage, dir, agency, name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host the server certificate cannot name leaves no CA behind, so
    /// that `certs init` can be run again with the right one.
    #[test]
    fn a_ca_whose_server_certificate_cannot_be_made_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        assert!(init_ca(dir.path(), &[""]).is_err());
        assert!(!dir.path().join("ca.pem").exists());
        init_ca(dir.path(), &["localhost"]).unwrap();
        let first = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
        renew_server(dir.path(), &["localhost", "gw2.internal"]).unwrap();
        let renewed = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
        assert_ne!(first, renewed);
        assert!(renew_server(dir.path(), &[]).is_err(), "no host");
    }
}
