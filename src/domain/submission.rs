//! The answer to an accepted submission, kept so a retry gets it again.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::agency::AgencyId;
use super::case::{Case, CaseId, CaseState};
use super::region::RegionCode;
use super::routing::RecipientRole;

/// Where one message of a submission was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub agency: AgencyId,
    pub role: RecipientRole,
    pub position: u64,
}

/// What the gateway answered to an accepted submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionOutcome {
    pub case_id: CaseId,
    pub state: CaseState,
    pub executing_region: RegionCode,
    pub responsible: Option<AgencyId>,
    pub late_notice: bool,
    /// The case's version after the submission.
    #[serde(default)]
    pub version: u32,
    pub deliveries: Vec<Delivery>,
    #[serde(with = "time::serde::rfc3339")]
    pub accepted_at: OffsetDateTime,
}

impl SubmissionOutcome {
    /// The answer to a submission that left `case` as it is, accepted at
    /// `at`; storage fills in the deliveries as it places the messages.
    pub fn accepted(case: &Case, at: OffsetDateTime) -> Self {
        Self {
            case_id: case.id.clone(),
            state: case.state,
            executing_region: case.executing_region,
            responsible: case.responsible.clone(),
            late_notice: case.late_notice,
            version: case.version(),
            deliveries: Vec::new(),
            accepted_at: at,
        }
    }
}

/// A client's request id, scoped to the agency that chose it, with the
/// digest of what it carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    pub agency: AgencyId,
    pub request_id: String,
    pub digest: [u8; 32],
}
