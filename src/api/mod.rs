//! The gRPC adapter: generated protobuf types, their conversion to and from
//! the domain, the services, and the one mapping of errors to status codes.

mod audit;
mod audit_head;
mod cases;
mod convert;
mod events;
mod inbox;
mod intake;
mod receipts;
mod status;
mod supervision;

pub use audit_head::{
    AuditApi, HEAD_CONTEXT, open_signed_head, shown_head, signed_audit_head, verify_audit_head,
};
pub use cases::CaseApi;
pub use convert::{agency_kind, case_state, recipient_role, timestamp};
pub use inbox::InboxApi;
pub use intake::IntakeApi;
pub use receipts::{open_signed, shown, signed_receipt, verify_receipt};
pub use status::to_status;
#[doc(hidden)]
pub use supervision::CommandRequest;
pub use supervision::SupervisionApi;

/// The generated protobuf code of `handover.v1`.
pub mod pb {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("handover.v1");

    /// The encoded descriptors, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/handover_descriptor.bin"));
}
