//! The gRPC adapter: generated protobuf types, their conversion to and from
//! the domain, the services, and the one mapping of errors to status codes.

mod cases;
mod convert;
mod events;
mod inbox;
mod intake;
mod status;
mod supervision;

use tonic::{Request, Status};

use crate::domain::agency::AgencyRef;
use crate::gateway::Gateway;
use crate::pki::PeerIdentity;

pub use cases::CaseApi;
pub use convert::{agency_kind, case_state, recipient_role, timestamp};
pub use inbox::InboxApi;
pub use intake::IntakeApi;
pub use status::to_status;
pub use supervision::SupervisionApi;

/// The generated protobuf code of `handover.v1`.
pub mod pb {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("handover.v1");

    /// The encoded descriptors, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/handover_descriptor.bin"));
}

/// The agency behind a request: from the TLS peer certificate, checked
/// against the registry. Every handler starts here.
async fn caller<T>(gateway: &Gateway, request: &Request<T>) -> Result<AgencyRef, Status> {
    gateway
        .authenticate(request.extensions().get::<PeerIdentity>())
        .await
        .map_err(to_status)
}
