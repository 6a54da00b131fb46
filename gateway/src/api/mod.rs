//! JSON handlers under `/api/v1`, one module per resource, plus the request helpers they share.

pub mod account;
pub mod groups;
pub mod kb;
pub mod settings;
pub mod sso;
pub mod staff;
pub mod tickets;

use helpdesk_kit::auth::bearer;
use tonic::Request;

use crate::error::ApiError;

/// Wraps a gRPC message with the caller's token, if any.
pub fn as_caller<T>(message: T, token: Option<&str>) -> Result<Request<T>, ApiError> {
    match token {
        Some(token) => Ok(bearer(message, token)?),
        None => Ok(Request::new(message)),
    }
}

/// RFC 3339 for a protobuf timestamp; empty when absent.
pub fn rfc3339(at: Option<&prost_types::Timestamp>) -> Option<String> {
    let at = at?;
    chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0)).map(|t| t.to_rfc3339())
}
