//! `handover-gateway certs init | issue | revoke | crl`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use time::OffsetDateTime;

use crate::bootstrap;
use crate::domain::agency::{Agency, AgencyId, AgencyKind, AgencyRef};
use crate::domain::region::RegionCode;
use crate::pki::{CRL_FILE, CertificateAuthority, RevocationList, Serial, ca_fingerprint, revoke};
use crate::storage::{Backend, CrlFloor, Database, Storage};

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Write a new CA (ca.pem, ca-key.pem), an empty revocation list (ca.crl)
    /// and a server certificate.
    Init {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Names and addresses the server certificate is valid for.
        #[arg(long = "host", default_values = ["localhost", "127.0.0.1"])]
        hosts: Vec<String>,
    },
    /// Issue a new server certificate (server.pem, server-key.pem) from the
    /// CA: before the old one expires, or for another host name.
    Server {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Names and addresses the server certificate is valid for.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
    /// Issue an agency certificate (<id>.pem, <id>-key.pem) and register the agency.
    Issue {
        #[arg(long)]
        kind: AgencyKind,
        /// Six-digit region code (GB/T 2260).
        #[arg(long, value_parser = RegionCode::parse)]
        region: RegionCode,
        /// Stable id: lowercase letters, digits and '-'.
        #[arg(long, value_parser = AgencyId::parse)]
        id: AgencyId,
        /// Display name [default: the id].
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// The gateway's database (SQLite file or postgres:// URL), whose
        /// registry gets the agency.
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
    },
    /// Revoke an agency's certificate (<id>.pem) in the revocation list
    /// (ca.crl) and disable the agency in the registry.
    Revoke {
        #[arg(long, value_parser = AgencyId::parse)]
        id: AgencyId,
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// The gateway's database (SQLite file or postgres:// URL), whose
        /// registry disables the agency.
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
    },
    /// Show the revocation list (ca.crl), writing an empty one if there is none.
    Crl {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
}

pub async fn run(command: CertsCommand) -> anyhow::Result<()> {
    match command {
        CertsCommand::Init { dir, hosts } => {
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            bootstrap::init_ca(&dir, &hosts)?;
            println!(
                "wrote {0}/ca.pem, {0}/ca-key.pem, {0}/ca.crl, {0}/server.pem, {0}/server-key.pem",
                dir.display()
            );
            println!(
                "keep ca-key.pem offline in production: it can issue any agency's certificate"
            );
        }
        CertsCommand::Server { dir, hosts } => {
            let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
            bootstrap::renew_server(&dir, &names).context("issuing the server certificate")?;
            println!(
                "wrote {0}/server.pem and {0}/server-key.pem for {1}; a gateway reading {0} puts \
                 it in force at its next reload (tls_reload, or SIGHUP)",
                dir.display(),
                hosts.join(", ")
            );
        }
        CertsCommand::Issue {
            kind,
            region,
            id,
            name,
            dir,
            database,
        } => {
            let agency = AgencyRef::new(kind, region, id)?;
            let ca = CertificateAuthority::load(&dir)
                .context("loading the CA (run `certs init` first)")?;
            let backend = Backend::open(&Database::from_setting(&database)).await?;
            let storage = backend.storage();
            let name = name.unwrap_or_else(|| agency.id.to_string());
            bootstrap::issue_agency(&ca, storage, &dir, agency.clone(), &name).await?;
            storage.close().await;
            println!(
                "wrote {0}/{1}.pem and {0}/{1}-key.pem; registered {agency}",
                dir.display(),
                agency.id
            );
        }
        CertsCommand::Revoke { id, dir, database } => revoke_agency(&id, &dir, &database).await?,
        CertsCommand::Crl { dir } => show_crl(&dir)?,
    }
    Ok(())
}

/// Prints the list, after writing an empty one if there is none.
fn show_crl(dir: &Path) -> anyhow::Result<()> {
    let ca = load_ca(dir)?;
    revoke(&ca, dir, &[], OffsetDateTime::now_utc())?;
    let path = dir.join(CRL_FILE);
    let pem =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let list = RevocationList::from_pem(&pem, ca.cert_pem())?;
    println!(
        "{}: list {}, signed {}, {} revoked",
        path.display(),
        list.number,
        rfc3339(list.this_update),
        list.revoked.len()
    );
    for (serial, at) in &list.revoked {
        println!("  {serial}  revoked {}", rfc3339(*at));
    }
    Ok(())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn load_ca(dir: &Path) -> anyhow::Result<CertificateAuthority> {
    CertificateAuthority::load(dir).context("loading the CA (run `certs init` first)")
}

/// Revokes every certificate in `<id>.pem`, then disables the agency in the
/// registry. The list comes first: it is what shuts the agency out of a
/// running gateway, and it must not wait on a database that fails.
async fn revoke_agency(id: &AgencyId, dir: &Path, database: &Path) -> anyhow::Result<()> {
    let ca = load_ca(dir)?;
    let cert_path = dir.join(format!("{id}.pem"));
    let pem = std::fs::read_to_string(&cert_path)
        .with_context(|| format!("reading {}, the certificate to revoke", cert_path.display()))?;
    let serials = Serial::of_pem(&pem)?;
    // Opening creates a missing SQLite file: a wrong path must not leave an
    // empty one behind.
    let database = Database::from_setting(database);
    let present = match &database {
        Database::Sqlite(path) => path.exists(),
        Database::Postgres(_) => true,
    };
    let lacking = if present {
        ensure_list_is_current(&ca, dir, &database).await?
    } else {
        Vec::new()
    };
    if !lacking.is_empty() {
        println!(
            "{}/{CRL_FILE} lacks {} certificates another list of this CA revoked: the new list revokes them too",
            dir.display(),
            lacking.len()
        );
    }
    let all: Vec<Serial> = serials.iter().chain(&lacking).cloned().collect();
    let done = revoke(&ca, dir, &all, OffsetDateTime::now_utc())?;
    for serial in done.added.iter().filter(|s| serials.contains(s)) {
        println!(
            "revoked {id} certificate {serial} in {}/{CRL_FILE}",
            dir.display()
        );
    }
    for serial in &done.already {
        println!("{id} certificate {serial} was revoked already");
    }
    if !present {
        println!("no database at {database}: the registry is unchanged");
        warn_unchecked(&format!("no database at {database}"));
        return Ok(());
    }
    let disabled = disable(id, &database).await.with_context(|| {
        format!("the certificate is revoked, but the registry in {database} could not be updated")
    })?;
    match disabled {
        Some((agency, runs_open_cases)) => {
            println!("disabled {agency} in the registry");
            let remedy = "issue it a new certificate (certs issue enables it again), or have the \
                          oversight office over its county assign them to another project";
            match runs_open_cases {
                Ok(false) => {}
                Ok(true) => eprintln!(
                    "warning: {} is responsible for open cases in {}, and nobody can act on them \
                     while it is disabled: {remedy}",
                    agency.id, agency.region
                ),
                Err(error) => eprintln!(
                    "warning: whether {} is responsible for open cases could not be read \
                     ({error:#}); if it is, nobody can act on them while it is disabled: {remedy}",
                    agency.id
                ),
            }
        }
        None => println!("{id} is not in the registry in {database}"),
    }
    Ok(())
}

/// Refuses to sign from a list behind the one a gateway put in force on
/// `database` (a CA folder put back from a backup): it lacks the
/// revocations made since, and signing it above the one in force would
/// take them back. Returns the serials other lists of the CA revoked that
/// this one lacks, for the new list to revoke too. A database that does
/// not answer holds nothing up: the list is what shuts a certificate out.
async fn ensure_list_is_current(
    ca: &CertificateAuthority,
    dir: &Path,
    database: &Database,
) -> anyhow::Result<Vec<Serial>> {
    let path = dir.join(CRL_FILE);
    let (number, revoked) = match std::fs::read_to_string(&path) {
        Ok(pem) => {
            let list = RevocationList::from_pem(&pem, ca.cert_pem())
                .with_context(|| format!("reading {}", path.display()))?;
            (list.number, list.serials())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => (0, BTreeSet::new()),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let floor = tokio::time::timeout(Duration::from_secs(10), crl_floor(ca, database)).await;
    let floor = match floor {
        Ok(Ok(floor)) => floor,
        Ok(Err(error)) => {
            warn_unchecked(&format!("{database}: {error:#}"));
            return Ok(Vec::new());
        }
        Err(_) => {
            warn_unchecked(&format!("{database} does not answer"));
            return Ok(Vec::new());
        }
    };
    anyhow::ensure!(
        number >= floor.number,
        "{} is list {number}, behind list {} put in force on {database}: it lacks the \
         revocations made since. Copy ca.crl from a gateway's certificate folder into {} and \
         run this again; nothing was changed",
        path.display(),
        floor.number,
        dir.display()
    );
    // Serials other lists of this CA revoked (two lists of one number,
    // one signed from an old folder): the new list revokes them too.
    let mut lacking = Vec::new();
    for text in &floor.revoked {
        let serial = Serial::from_hex(text).with_context(|| {
            format!("crl_floor on {database} holds {text:?}, which is no certificate serial")
        })?;
        if !revoked.contains(&serial) {
            lacking.push(serial);
        }
    }
    Ok(lacking)
}

/// A revocation is not held up by a database that fails, but its list is
/// then unchecked here; the gateways still refuse it if it lacks a
/// revocation of the newest list.
fn warn_unchecked(why: &str) {
    eprintln!(
        "warning: {why}; the revocation list was not compared with the one in force: if this \
         CA folder may be older than a gateway's, run `certs revoke` again once the database \
         answers before copying its ca.crl out"
    );
}

/// An agency disabled, and whether it is a county project responsible
/// for open cases, which only it may act on (or why that is not known).
type Disabled = (AgencyRef, anyhow::Result<bool>);

/// Disables `id` in the registry.
async fn disable(id: &AgencyId, database: &Database) -> anyhow::Result<Option<Disabled>> {
    let backend = Backend::open(database).await?;
    let storage = backend.storage();
    let disabled = disable_in(storage, id).await;
    storage.close().await;
    disabled
}

async fn disable_in(storage: &dyn Storage, id: &AgencyId) -> anyhow::Result<Option<Disabled>> {
    let Some(agency) = storage.agency(id).await? else {
        return Ok(None);
    };
    storage
        .register_agency(&Agency {
            enabled: false,
            ..agency.clone()
        })
        .await?;
    let agency = agency.agency;
    let runs_open_cases = if agency.kind == AgencyKind::CountyProject {
        (storage
            .responsible_for_open_cases(&agency.id, agency.region)
            .await)
            .map_err(anyhow::Error::from)
    } else {
        Ok(false)
    };
    Ok(Some((agency, runs_open_cases)))
}

/// The highest-numbered list of `ca` a gateway put in force on
/// `database`.
async fn crl_floor(ca: &CertificateAuthority, database: &Database) -> anyhow::Result<CrlFloor> {
    let issuer = ca_fingerprint(ca.cert_pem())?;
    let backend = Backend::open(database).await?;
    let floor = backend.storage().crl_floor(&issuer).await;
    backend.storage().close().await;
    Ok(floor?)
}
