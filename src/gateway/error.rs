//! The closed set of ways a call can fail, in the gateway's words. The gRPC
//! adapter maps each to one status code in one place.

use crate::domain::validation::Invalid;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The caller could not be identified as a registered agency.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's role may not make this call.
    #[error("{0}")]
    PermissionDenied(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request id or the decision document was already used.
    #[error("{message}")]
    AlreadyExists {
        field: &'static str,
        message: String,
    },
    /// Unknown, or not visible to the caller: deliberately the same.
    #[error("no case visible to you matches")]
    NotFound,
    /// The gateway's registry cannot carry out the request.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A position beyond the end of the inbox.
    #[error("{field} {message}")]
    OutOfRange {
        field: &'static str,
        message: String,
    },
    /// The caller is over one of its limits for now.
    #[error("{}", .0.message)]
    Exhausted(super::Exhausted),
    /// The gateway is stopping, or its database is unreachable.
    #[error("the gateway is unavailable, retry later")]
    Unavailable(#[source] Option<StorageError>),
    /// Stored data was found damaged or tampered with; the message says
    /// where, and nothing personal.
    #[error("{0}")]
    DataLoss(String),
    /// Something that should not happen; details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl From<StorageError> for GatewayError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Corrupt(detail) => GatewayError::Internal(detail),
            other => GatewayError::Unavailable(Some(other)),
        }
    }
}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
