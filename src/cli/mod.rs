//! The command line: `serve`, `certs`, and a client for trying each role.

mod certs;
mod client;
mod output;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "handover-gateway",
    version,
    about = "Inter-agency exchange for supervising people released from compulsory detox"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway (SQLite under ./data, certificates under ./certs).
    Serve(serve::ServeArgs),
    /// Make the CA and issue agency certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Announce a release (detox center), from a JSON file.
    Announce(client::AnnounceArgs),
    /// Submit a discharge (detox center), from a JSON file.
    Discharge(client::DischargeArgs),
    /// Watch your inbox live.
    Watch(client::WatchArgs),
    /// Acknowledge your inbox up to a position.
    Ack(client::AckArgs),
    /// Show a case by id or identity number.
    Case(client::CaseArgs),
}

impl Cli {
    /// # Errors
    /// Whatever the command fails with, for the binary to print.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Certs(command) => certs::run(command).await,
            Command::Announce(args) => client::announce(args).await,
            Command::Discharge(args) => client::discharge(args).await,
            Command::Watch(args) => client::watch(args).await,
            Command::Ack(args) => client::ack(args).await,
            Command::Case(args) => client::case(args).await,
        }
    }
}
