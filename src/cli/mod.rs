//! The command line: `serve`, `certs`, and a client for trying each role.

mod audit;
mod bench;
mod cases;
mod certs;
mod client;
mod history;
mod output;
mod receipt;
mod serve;
mod supervision;

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
    /// Check the tamper-evident audit log offline, or show its entries.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Make the CA, issue agency certificates and revoke them.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Announce a release (detox center), from a JSON file.
    Announce(client::AnnounceArgs),
    /// Submit a discharge (detox center), from a JSON file.
    Discharge(client::DischargeArgs),
    /// Withdraw a release you announced, before its discharge: the release
    /// will not take place under this decision (detox center).
    WithdrawAnnouncement(supervision::ReasonArgs),
    /// Watch your inbox live.
    Watch(client::WatchArgs),
    /// Acknowledge your inbox up to a position.
    Ack(client::AckArgs),
    /// Show a case by id or identity number.
    Case(client::CaseArgs),
    /// List cases: in your jurisdiction (police, oversight), your caseload
    /// (county project) or your releases (detox center).
    Cases(cases::CasesArgs),
    /// Confirm the person was picked up at the gate (responsible project).
    Pickup(supervision::PlainArgs),
    /// Confirm the person reported and signed the agreement; the term starts
    /// (responsible project).
    Report(supervision::PlainArgs),
    /// Move the case to another county: request, accept, reject, withdraw,
    /// arrive.
    #[command(subcommand)]
    Transfer(supervision::TransferCommand),
    /// Notify a stay of the person in another county (responsible project).
    Absence(supervision::AbsenceArgs),
    /// Report that the person lost contact (responsible project).
    LostContact(supervision::NoteArgs),
    /// Report that contact is restored (responsible project).
    ContactRestored(supervision::NoteArgs),
    /// Suspend the case: the person is detained or arrested (responsible
    /// project).
    Suspend(supervision::ReasonArgs),
    /// Resume a suspended case (responsible project).
    Resume(supervision::PlainArgs),
    /// Close the case (responsible project).
    Close(supervision::CloseArgs),
    /// Hand an unroutable case to the project of a county in your
    /// jurisdiction (oversight office).
    Assign(supervision::ToCountyArgs),
    /// Check a signed receipt offline, or print the key that checks them.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Measure a gateway over mutual TLS against a bare echo (BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

impl Cli {
    /// # Errors
    /// Whatever the command fails with, for the binary to print.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Audit(command) => audit::run(command).await,
            Command::Certs(command) => certs::run(command).await,
            Command::Announce(args) => client::announce(args).await,
            Command::Discharge(args) => client::discharge(args).await,
            Command::WithdrawAnnouncement(args) => supervision::withdraw_announcement(args).await,
            Command::Watch(args) => client::watch(args).await,
            Command::Ack(args) => client::ack(args).await,
            Command::Case(args) => client::case(args).await,
            Command::Cases(args) => cases::list(args).await,
            Command::Pickup(args) => supervision::pickup(args).await,
            Command::Report(args) => supervision::report(args).await,
            Command::Transfer(command) => supervision::transfer(command).await,
            Command::Absence(args) => supervision::absence(args).await,
            Command::LostContact(args) => supervision::lost_contact(args).await,
            Command::ContactRestored(args) => supervision::contact_restored(args).await,
            Command::Suspend(args) => supervision::suspend(args).await,
            Command::Resume(args) => supervision::resume(args).await,
            Command::Close(args) => supervision::close(args).await,
            Command::Assign(args) => supervision::assign(args).await,
            Command::Receipt(command) => receipt::run(command),
            Command::Bench(args) => bench::run(args).await,
        }
    }
}
