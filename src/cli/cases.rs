//! `cases`: the list of cases in the caller's jurisdiction, for police and
//! oversight offices, a project's caseload or a detox center's releases,
//! one line per case.

use serde_json::json;

use super::client::Connection;
use super::output::{self, case_json, mask, print_json, state_text};
use crate::api::pb;
use crate::api::pb::case_service_client::CaseServiceClient;

#[derive(clap::Args, Debug)]
pub struct CasesArgs {
    #[command(flatten)]
    connection: Connection,
    /// Only cases in this state: announced, awaiting-pickup, picked-up,
    /// under-supervision, transfer-pending, lost-contact, suspended, closed.
    #[arg(long, value_parser = case_state)]
    state: Option<pb::CaseState>,
    /// Only cases with a deadline passed unmet.
    #[arg(long)]
    overdue: bool,
    /// Only discharges no county project could take.
    #[arg(long)]
    unroutable: bool,
    /// Only open cases whose person has another open case (a relapse never
    /// recorded, or one identity number for two people); police and
    /// offices.
    #[arg(long)]
    open_elsewhere: bool,
    /// Instead of your caseload, the cases being transferred to you,
    /// requested or accepted and not yet arrived; county projects.
    #[arg(long)]
    incoming: bool,
    /// Only cases executing in this county (six digits; police and
    /// offices: within your jurisdiction).
    #[arg(long, value_name = "COUNTY")]
    county: Option<String>,
    /// At most this many cases [default: 50; at most 500].
    #[arg(long, value_name = "N")]
    page_size: Option<u32>,
    /// From the previous page's last line.
    #[arg(long, value_name = "TOKEN")]
    page_token: Option<String>,
}

fn case_state(text: &str) -> Result<pb::CaseState, String> {
    let wire = format!("CASE_STATE_{}", text.to_ascii_uppercase().replace('-', "_"));
    match pb::CaseState::from_str_name(&wire) {
        Some(pb::CaseState::Unspecified) | None => Err("one of announced, awaiting-pickup, \
             picked-up, under-supervision, transfer-pending, lost-contact, suspended, closed"
            .into()),
        Some(state) => Ok(state),
    }
}

/// One case in a line: id, state, county, responsible project, person,
/// and what needs attention.
fn line(case: &pb::Case) -> String {
    let person = case.person.clone().unwrap_or_default();
    let project = if !case.responsible_project_id.is_empty() {
        &case.responsible_project_id
    } else if case.state() == pb::CaseState::Announced {
        "none before discharge"
    } else {
        "no project"
    };
    let mut line = format!(
        "{} {} county {} ({project}) {} {}",
        case.case_id,
        state_text(case),
        case.executing_region,
        person.name,
        mask(&person.id_number)
    );
    if case.unroutable {
        line.push_str(" UNROUTABLE");
    }
    if case.overdue {
        line.push_str(" OVERDUE");
    }
    line
}

pub async fn list(args: CasesArgs) -> anyhow::Result<()> {
    let request = pb::ListCasesRequest {
        state: args.state.unwrap_or_default().into(),
        overdue: args.overdue,
        unroutable: args.unroutable,
        open_elsewhere: args.open_elsewhere,
        incoming_transfers: args.incoming,
        county: args.county.unwrap_or_default(),
        page_size: args.page_size.unwrap_or_default(),
        page_token: args.page_token.unwrap_or_default(),
    };
    let mut client = CaseServiceClient::new(args.connection.channel().await?);
    let response = client
        .list_cases(request)
        .await
        .map_err(output::status)?
        .into_inner();
    if args.connection.json {
        return print_json(&json!({
            "cases": response.cases.iter().map(case_json).collect::<Vec<_>>(),
            "next_page_token": response.next_page_token,
        }));
    }
    for case in &response.cases {
        println!("{}", line(case));
    }
    if response.cases.is_empty() {
        println!("no cases");
    }
    if response.next_page_token.is_empty() {
        println!("(end of list)");
    } else {
        println!("next page: --page-token {}", response.next_page_token);
    }
    Ok(())
}
