//! The one place where gateway errors become gRPC statuses. Internal causes
//! go to the log, never to the client.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::gateway::GatewayError;

pub fn to_status(error: GatewayError) -> Status {
    match error {
        GatewayError::Unauthenticated(message) => Status::unauthenticated(message),
        GatewayError::PermissionDenied(message) => Status::permission_denied(message),
        GatewayError::Invalid(invalid) => {
            let message = invalid
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; ");
            let violations: Vec<FieldViolation> = invalid
                .violations
                .into_iter()
                .map(|v| FieldViolation::new(v.field, v.description))
                .collect();
            Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request(violations),
            )
        }
        GatewayError::AlreadyExists { field, message } => Status::with_error_details(
            Code::AlreadyExists,
            format!("{field}: {message}"),
            ErrorDetails::with_bad_request_violation(field, message),
        ),
        GatewayError::FailedPrecondition(message) => Status::failed_precondition(message),
        GatewayError::NotFound => Status::not_found(GatewayError::NotFound.to_string()),
        GatewayError::OutOfRange { field, message } => Status::with_error_details(
            Code::OutOfRange,
            format!("{field}: {message}"),
            ErrorDetails::with_bad_request_violation(field, message),
        ),
        GatewayError::Exhausted(exhausted) => {
            let mut details = ErrorDetails::with_retry_info(Some(exhausted.retry_after));
            details.add_quota_failure_violation(exhausted.subject, exhausted.message.clone());
            Status::with_error_details(Code::ResourceExhausted, exhausted.message, details)
        }
        GatewayError::Unavailable(cause) => {
            if let Some(cause) = &cause {
                tracing::error!(error = %cause, "storage unavailable");
            }
            Status::unavailable(GatewayError::Unavailable(None).to_string())
        }
        GatewayError::DataLoss(message) => {
            tracing::error!(%message, "stored data damaged");
            Status::data_loss(message)
        }
        GatewayError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            Status::internal("internal error")
        }
    }
}
