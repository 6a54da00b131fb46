//! The one place a gRPC `Status` becomes an HTTP response. Messages of client errors pass through
//! (they name the bad field); internal errors stay opaque, as the services already made them.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl ApiError {
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Logs the cause and answers an opaque 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error in the gateway");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        use tonic::Code;
        let http = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::FailedPrecondition => StatusCode::CONFLICT,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Unavailable | Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if http == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(%status, "backend unavailable");
            "a backend service is unavailable; try again shortly".to_string()
        } else {
            status.message().to_string()
        };
        Self::new(http, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_http_statuses_a_client_expects() {
        let cases = [
            (tonic::Status::invalid_argument("subject: is required"), StatusCode::UNPROCESSABLE_ENTITY),
            (tonic::Status::not_found("ticket not found"), StatusCode::NOT_FOUND),
            (tonic::Status::unauthenticated("no"), StatusCode::UNAUTHORIZED),
            (tonic::Status::permission_denied("no"), StatusCode::FORBIDDEN),
            (tonic::Status::unavailable("db down"), StatusCode::SERVICE_UNAVAILABLE),
            (tonic::Status::internal("internal error (ref x)"), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (status, expected) in cases {
            assert_eq!(ApiError::from(status).status, expected);
        }
    }

    #[test]
    fn an_unavailable_backend_does_not_leak_its_error() {
        let error = ApiError::from(tonic::Status::unavailable("tcp connect error 10.0.0.3:50052"));
        assert!(!error.message.contains("10.0.0.3"));
    }
}
