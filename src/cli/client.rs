//! The command-line client: each role's calls, as a person would make them.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tonic::transport::{Channel, Endpoint};

use super::output;
use crate::api::pb;
use crate::api::pb::case_service_client::CaseServiceClient;
use crate::api::pb::inbox_service_client::InboxServiceClient;
use crate::api::pb::intake_service_client::IntakeServiceClient;
use crate::pki::client_tls;

/// How to reach the gateway, and as whom.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The agency to act as: uses <certs-dir>/<id>.pem and <id>-key.pem.
    #[arg(long = "as", value_name = "AGENCY_ID")]
    agency: String,
    #[arg(
        long,
        env = "HANDOVER_SERVER",
        default_value = "https://localhost:50051"
    )]
    server: String,
    #[arg(long, env = "HANDOVER_CERTS_DIR", default_value = "certs")]
    certs_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl Connection {
    pub(super) async fn channel(&self) -> anyhow::Result<Channel> {
        let read = |name: String| {
            let path = self.certs_dir.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let ca = read("ca.pem".into())?;
        let cert = read(format!("{}.pem", self.agency))?;
        let key = read(format!("{}-key.pem", self.agency))?;
        let uri: tonic::transport::Uri = self.server.parse().context("--server is not a URL")?;
        let host = uri
            .host()
            .unwrap_or("localhost")
            .trim_matches(['[', ']'])
            .to_owned();
        Endpoint::from_shared(self.server.clone())?
            .tls_config(client_tls(&ca, &cert, &key, &host))?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.server))
    }
}

#[derive(clap::Args, Debug)]
pub struct AnnounceArgs {
    #[command(flatten)]
    connection: Connection,
    /// JSON file: decision_number, person, planned_release_date, term_months.
    #[arg(long)]
    file: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct DischargeArgs {
    #[command(flatten)]
    connection: Connection,
    /// JSON file: decision_number, person, released_at, term_months.
    #[arg(long)]
    file: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    connection: Connection,
    /// Start after this position [default: after the last acknowledged one].
    #[arg(long)]
    after: Option<u64>,
    /// Acknowledge each message once it is shown.
    #[arg(long)]
    ack: bool,
    /// Stop after this many messages.
    #[arg(long)]
    limit: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct AckArgs {
    #[command(flatten)]
    connection: Connection,
    #[arg(long)]
    position: u64,
}

#[derive(clap::Args, Debug)]
pub struct CaseArgs {
    #[command(flatten)]
    connection: Connection,
    #[arg(
        long,
        conflicts_with = "id_number",
        required_unless_present = "id_number"
    )]
    case_id: Option<String>,
    #[arg(long)]
    id_number: Option<String>,
    /// Why you look; police must say.
    #[arg(long, default_value = "")]
    purpose: String,
}

/// A person as written in a JSON file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PersonFile {
    id_number: String,
    name: String,
    #[serde(default)]
    sex: Option<String>,
    household_region: String,
    #[serde(default)]
    residence_region: String,
    #[serde(default)]
    residence_consent: bool,
}

/// A submission as written in a JSON file. Without a request id, one is
/// derived from the file's content, so running the same file again is a
/// safe retry.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SubmissionFile {
    #[serde(default)]
    request_id: Option<String>,
    decision_number: String,
    person: PersonFile,
    #[serde(default)]
    planned_release_date: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    released_at: Option<time::OffsetDateTime>,
    term_months: u32,
}

fn read_submission(path: &PathBuf) -> anyhow::Result<(String, SubmissionFile)> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file: SubmissionFile = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a submission", path.display()))?;
    let request_id = file.request_id.clone().unwrap_or_else(|| {
        let digest = Sha256::digest(&text);
        format!(
            "cli-{}",
            digest
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    });
    Ok((request_id, file))
}

fn person(file: PersonFile) -> pb::Person {
    let sex = match file.sex.as_deref() {
        Some("male") => pb::Sex::Male,
        Some("female") => pb::Sex::Female,
        _ => pb::Sex::Unspecified,
    };
    pb::Person {
        id_number: file.id_number,
        name: file.name,
        sex: sex.into(),
        household_region: file.household_region,
        residence_region: file.residence_region,
        residence_consent: file.residence_consent,
    }
}

pub async fn announce(args: AnnounceArgs) -> anyhow::Result<()> {
    let (request_id, file) = read_submission(&args.file)?;
    let request = pb::AnnounceReleaseRequest {
        request_id,
        decision_number: file.decision_number,
        person: Some(person(file.person)),
        planned_release_date: file.planned_release_date,
        term_months: file.term_months,
    };
    let mut client = IntakeServiceClient::new(args.connection.channel().await?);
    let response = client
        .announce_release(request)
        .await
        .map_err(output::status)?
        .into_inner();
    output::receipt(response.receipt.as_ref(), args.connection.json)
}

pub async fn discharge(args: DischargeArgs) -> anyhow::Result<()> {
    let (request_id, file) = read_submission(&args.file)?;
    let released_at = file
        .released_at
        .context("the file needs released_at (RFC 3339)")?;
    let request = pb::SubmitDischargeRequest {
        request_id,
        decision_number: file.decision_number,
        person: Some(person(file.person)),
        released_at: Some(crate::api::timestamp(released_at)),
        term_months: file.term_months,
    };
    let mut client = IntakeServiceClient::new(args.connection.channel().await?);
    let response = client
        .submit_discharge(request)
        .await
        .map_err(output::status)?
        .into_inner();
    output::receipt(response.receipt.as_ref(), args.connection.json)
}

pub async fn watch(args: WatchArgs) -> anyhow::Result<()> {
    let mut client = InboxServiceClient::new(args.connection.channel().await?);
    let request = pb::SubscribeRequest {
        after_position: args.after,
    };
    let mut stream = client
        .subscribe(request)
        .await
        .map_err(output::status)?
        .into_inner();
    let mut shown = 0;
    while let Some(item) = stream.message().await.map_err(output::status)? {
        let Some(pb::subscribe_response::Event::Message(message)) = item.event else {
            if let Some(pb::subscribe_response::Event::Heartbeat(beat)) = item.event {
                output::heartbeat(&beat, args.connection.json)?;
            }
            continue;
        };
        output::message(&message, args.connection.json)?;
        if args.ack {
            client
                .acknowledge(pb::AcknowledgeRequest {
                    position: message.position,
                })
                .await
                .map_err(output::status)?;
        }
        shown += 1;
        if args.limit.is_some_and(|limit| shown >= limit) {
            break;
        }
    }
    Ok(())
}

pub async fn ack(args: AckArgs) -> anyhow::Result<()> {
    let mut client = InboxServiceClient::new(args.connection.channel().await?);
    let response = client
        .acknowledge(pb::AcknowledgeRequest {
            position: args.position,
        })
        .await
        .map_err(output::status)?
        .into_inner();
    output::acknowledged(&response, args.connection.json)
}

pub async fn case(args: CaseArgs) -> anyhow::Result<()> {
    use pb::get_case_request::Key;
    let key = match (args.case_id, args.id_number) {
        (Some(id), _) => Key::CaseId(id),
        (None, Some(number)) => Key::IdNumber(number),
        (None, None) => anyhow::bail!("give --case-id or --id-number"),
    };
    let mut client = CaseServiceClient::new(args.connection.channel().await?);
    let request = pb::GetCaseRequest {
        key: Some(key),
        purpose: args.purpose,
    };
    let response = client
        .get_case(request)
        .await
        .map_err(output::status)?
        .into_inner();
    output::case(response.case.as_ref(), args.connection.json)
}
