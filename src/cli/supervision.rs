//! The commands on a case by its id: the county projects' pickup, report,
//! transfers, temporary absence, loss of contact, suspension and closure,
//! an oversight office's assignment of an unroutable case, and a detox
//! center's withdrawal of an announcement. Each prints the gateway's
//! receipt.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use super::client::Connection;
use super::output;
use crate::api::pb;
use crate::api::pb::case_service_client::CaseServiceClient;
use crate::api::pb::supervision_service_client::SupervisionServiceClient;

/// The case a command is about, and how to make the request.
#[derive(clap::Args, Debug)]
pub struct Target {
    #[command(flatten)]
    connection: Connection,
    /// The case's id (from a receipt, the inbox or `case`).
    #[arg(long = "case", value_name = "CASE_ID")]
    case_id: String,
    /// Refuse unless the case is still at this version (a receipt's or
    /// `case`'s); also makes a repeated command a new request.
    #[arg(long, value_name = "N")]
    expected_version: Option<u32>,
    /// Your id for this request [default: derived from the command, the
    /// case, the expected version and the fields, so running the same
    /// command again is a safe retry].
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

impl Target {
    /// The request id: `--request-id`, or `cli-<command>-` and the first
    /// 12 bytes, in hex, of the SHA-256 of everything the request says.
    fn request_id(&self, command: &str, fields: &Value) -> String {
        if let Some(id) = &self.request_id {
            return id.clone();
        }
        let content = json!({
            "command": command,
            "case_id": self.case_id,
            "expected_version": self.expected_version,
            "fields": fields,
        });
        let digest = Sha256::digest(content.to_string().as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("cli-{command}-{hex}")
    }

    /// A derived request id names the command, not the moment: the same
    /// command given again later (a second loss of contact, a transfer
    /// requested again after a rejection) is the same request, and the
    /// gateway answers it with the first receipt. When a receipt is not
    /// fresh, this looks whether the case has moved on since, and says so.
    async fn warn_if_stale(&self, channel: Channel, receipt: Option<&pb::Receipt>) {
        let Some(receipt) = receipt else { return };
        if self.request_id.is_some() || self.expected_version.is_some() {
            return;
        }
        let accepted = receipt.accepted_at.as_ref().map_or(0, |t| t.seconds);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if (now - accepted).abs() <= FRESH_SECONDS {
            return;
        }
        let request = pb::GetCaseRequest {
            key: Some(pb::get_case_request::Key::CaseId(self.case_id.clone())),
            purpose: String::new(),
        };
        let Ok(response) = CaseServiceClient::new(channel).get_case(request).await else {
            return;
        };
        if let Some(case) = response.into_inner().case
            && case.version > receipt.version
        {
            eprintln!(
                "warning: this is the receipt of an earlier request {} (version {}); the case \
                 has moved on to version {} ({}). To give the command again, add \
                 --expected-version {}",
                receipt.request_id,
                receipt.version,
                case.version,
                output::state_text(&case),
                case.version
            );
        }
    }
}

/// A receipt accepted this close to now is taken as the answer to this run.
const FRESH_SECONDS: i64 = 30;

/// A command with no fields of its own.
#[derive(clap::Args, Debug)]
pub struct PlainArgs {
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Subcommand, Debug)]
pub enum TransferCommand {
    /// Ask the project of another county to take over (responsible project).
    Request(ToCountyArgs),
    /// Agree to take over; the person must then report here (receiving project).
    Accept(PlainArgs),
    /// Decline; the case stays where it is (receiving project).
    Reject(ReasonArgs),
    /// Take back a request not yet answered (responsible project).
    Withdraw(OptionalReasonArgs),
    /// Confirm the person reported here: responsibility moves now (receiving project).
    Arrive(PlainArgs),
}

// A case handed to the project of another county: a transfer request, or
// an unroutable case's assignment.
#[derive(clap::Args, Debug)]
pub struct ToCountyArgs {
    #[command(flatten)]
    target: Target,
    /// Six-digit code of the county whose project takes over, e.g. 140105.
    #[arg(long, value_name = "COUNTY")]
    to: String,
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args, Debug)]
pub struct ReasonArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args, Debug)]
pub struct OptionalReasonArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value = "", hide_default_value = true)]
    reason: String,
}

#[derive(clap::Args, Debug)]
pub struct AbsenceArgs {
    #[command(flatten)]
    target: Target,
    /// Six-digit code of the county the person stays in.
    #[arg(long, value_name = "COUNTY")]
    host: String,
    /// First day away, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    from: String,
    /// Last day away, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    until: String,
    #[arg(long, default_value = "", hide_default_value = true)]
    reason: String,
}

#[derive(clap::Args, Debug)]
pub struct NoteArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value = "", hide_default_value = true)]
    note: String,
}

#[derive(clap::Args, Debug)]
pub struct CloseArgs {
    #[command(flatten)]
    target: Target,
    /// completed, redetained, imprisoned, deceased, moved-out-of-province
    /// or other.
    #[arg(long, value_name = "REASON", value_parser = closure_reason)]
    reason: pb::ClosureReason,
    /// What happened; required with `--reason other`.
    #[arg(long, default_value = "", hide_default_value = true)]
    note: String,
}

fn closure_reason(text: &str) -> Result<pb::ClosureReason, String> {
    let wire = format!(
        "CLOSURE_REASON_{}",
        text.to_ascii_uppercase().replace('-', "_")
    );
    match pb::ClosureReason::from_str_name(&wire) {
        Some(pb::ClosureReason::Unspecified) | None => Err(
            "one of completed, redetained, imprisoned, deceased, moved-out-of-province, other"
                .into(),
        ),
        Some(reason) => Ok(reason),
    }
}

/// Sends one command: `$method` of the supervision service with a request
/// built from the target, its command name and fields, then prints the
/// receipt.
macro_rules! send {
    ($target:expr, $method:ident, $name:literal, $request:ident { $($field:ident: $value:expr),* $(,)? }) => {{
        let target = &$target;
        #[allow(unused_mut)]
        let mut fields = serde_json::Map::new();
        $(fields.insert(stringify!($field).to_owned(), json!($value));)*
        let fields = Value::Object(fields);
        let request = pb::$request {
            request_id: target.request_id($name, &fields),
            case_id: target.case_id.clone(),
            expected_version: target.expected_version,
            $($field: $value.clone()),*
        };
        let channel = target.connection.channel().await?;
        let response = SupervisionServiceClient::new(channel.clone())
            .$method(request)
            .await
            .map_err(output::status)?
            .into_inner();
        output::command_receipt(response.receipt.as_ref(), target.connection.json)?;
        target.warn_if_stale(channel, response.receipt.as_ref()).await;
        Ok(())
    }};
}

pub async fn pickup(args: PlainArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        confirm_pickup,
        "confirm-pickup",
        ConfirmPickupRequest {}
    )
}

pub async fn report(args: PlainArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        confirm_report,
        "confirm-report",
        ConfirmReportRequest {}
    )
}

pub async fn transfer(command: TransferCommand) -> anyhow::Result<()> {
    match command {
        TransferCommand::Request(args) => send!(
            args.target,
            request_transfer,
            "request-transfer",
            RequestTransferRequest {
                to_region: args.to,
                reason: args.reason
            }
        ),
        TransferCommand::Accept(args) => send!(
            args.target,
            accept_transfer,
            "accept-transfer",
            AcceptTransferRequest {}
        ),
        TransferCommand::Reject(args) => send!(
            args.target,
            reject_transfer,
            "reject-transfer",
            RejectTransferRequest {
                reason: args.reason
            }
        ),
        TransferCommand::Withdraw(args) => send!(
            args.target,
            withdraw_transfer,
            "withdraw-transfer",
            WithdrawTransferRequest {
                reason: args.reason
            }
        ),
        TransferCommand::Arrive(args) => send!(
            args.target,
            confirm_arrival,
            "confirm-arrival",
            ConfirmArrivalRequest {}
        ),
    }
}

pub async fn absence(args: AbsenceArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        notify_absence,
        "notify-absence",
        NotifyAbsenceRequest {
            host_region: args.host,
            from: args.from,
            until: args.until,
            reason: args.reason,
        }
    )
}

pub async fn lost_contact(args: NoteArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        report_lost_contact,
        "report-lost-contact",
        ReportLostContactRequest { note: args.note }
    )
}

pub async fn contact_restored(args: NoteArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        restore_contact,
        "restore-contact",
        RestoreContactRequest { note: args.note }
    )
}

pub async fn suspend(args: ReasonArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        suspend_case,
        "suspend",
        SuspendCaseRequest {
            reason: args.reason
        }
    )
}

pub async fn resume(args: PlainArgs) -> anyhow::Result<()> {
    send!(args.target, resume_case, "resume", ResumeCaseRequest {})
}

pub async fn close(args: CloseArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        close_case,
        "close",
        CloseCaseRequest {
            reason: i32::from(args.reason),
            note: args.note
        }
    )
}

pub async fn assign(args: ToCountyArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        assign_case,
        "assign",
        AssignCaseRequest {
            to_region: args.to,
            reason: args.reason
        }
    )
}

pub async fn withdraw_announcement(args: ReasonArgs) -> anyhow::Result<()> {
    send!(
        args.target,
        withdraw_announcement,
        "withdraw-announcement",
        WithdrawAnnouncementRequest {
            reason: args.reason
        }
    )
}
