//! `handover-gateway certs init | issue`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::bootstrap;
use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::region::RegionCode;
use crate::pki::CertificateAuthority;
use crate::storage::SqliteStorage;

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Write a new CA (ca.pem, ca-key.pem) and a server certificate.
    Init {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Names and addresses the server certificate is valid for.
        #[arg(long = "host", default_values = ["localhost", "127.0.0.1"])]
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
        /// The gateway's database, whose registry gets the agency.
        #[arg(long, env = "HANDOVER_DATABASE", default_value = "data/gateway.db")]
        database: PathBuf,
    },
}

pub async fn run(command: CertsCommand) -> anyhow::Result<()> {
    match command {
        CertsCommand::Init { dir, hosts } => {
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            bootstrap::init_ca(&dir, &hosts)?;
            println!(
                "wrote {0}/ca.pem, {0}/ca-key.pem, {0}/server.pem, {0}/server-key.pem",
                dir.display()
            );
            println!(
                "keep ca-key.pem offline in production: it can issue any agency's certificate"
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
            let storage = SqliteStorage::open(&database).await?;
            let name = name.unwrap_or_else(|| agency.id.to_string());
            bootstrap::issue_agency(&ca, &storage, &dir, agency.clone(), &name).await?;
            storage.close().await;
            println!(
                "wrote {0}/{1}.pem and {0}/{1}-key.pem; registered {agency}",
                dir.display(),
                agency.id
            );
        }
    }
    Ok(())
}
