//! The one place a gRPC `Status` becomes an HTTP response. Messages of client errors pass through
//! (they name the bad field); internal errors stay opaque, as the services already made them. A
//! failure of the gateway's own is logged with its whole cause chain (`{:#}`) and a reference id,
//! and answered with only the reference.

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
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Logs the cause with its whole chain (`{:#}`: an `anyhow::Error` prints every cause) and
    /// answers an opaque 500 naming only a reference id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4().to_string();
        tracing::error!(%reference, cause = format!("{cause:#}"), "internal error in the gateway");
        Self::opaque(&reference)
    }

    fn opaque(reference: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error (reference {reference})"))
    }
}

/// The reference id in a service's opaque `INTERNAL` message ("internal error (reference <id>)").
fn service_reference(message: &str) -> Option<&str> {
    let id = message.strip_prefix("internal error (reference ")?.strip_suffix(')')?;
    uuid::Uuid::parse_str(id).is_ok().then_some(id)
}

/// Client errors keep their message (it names the bad field). A backend that cannot be reached
/// is 503. Everything else — `INTERNAL`, `UNKNOWN`, a stream reset by a transport failure
/// ("h2 protocol error", surfacing as `CANCELLED` or `UNKNOWN`) — is an opaque 500 with a
/// reference id: the service's own when it gave one, so both logs meet, else a new one logged
/// here with the full status.
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
            Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if http == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(%status, "backend unavailable");
            return Self::new(http, "a backend service is unavailable; try again shortly");
        }
        if http == StatusCode::INTERNAL_SERVER_ERROR {
            if let Some(reference) = service_reference(status.message()) {
                tracing::error!(%reference, "a backend answered an internal error");
                return Self::opaque(reference);
            }
            return Self::internal(format_args!("backend call failed: {status:?}"));
        }
        Self::new(http, status.message())
    }
}

/// A header value the gateway built (a cookie, a redirect) that is not one: our bug, not the
/// caller's.
impl From<axum::http::header::InvalidHeaderValue> for ApiError {
    fn from(error: axum::http::header::InvalidHeaderValue) -> Self {
        Self::internal(format_args!("the gateway built an invalid header value: {error}"))
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
            (tonic::Status::internal("internal error (reference x)"), StatusCode::INTERNAL_SERVER_ERROR),
            (tonic::Status::unknown("h2 protocol error: http2 error"), StatusCode::INTERNAL_SERVER_ERROR),
            (tonic::Status::cancelled("h2 protocol error: http2 error"), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (status, expected) in cases {
            assert_eq!(ApiError::from(status).status, expected);
        }
    }

    #[test]
    fn internal_and_transport_failures_answer_an_opaque_reference_and_keep_the_services_one() {
        let service = "internal error (reference 0199a6c4-8f7e-7b1a-9c3d-2e5f6a7b8c9d)";
        assert_eq!(ApiError::from(tonic::Status::internal(service)).message, service);
        for leaky in [
            tonic::Status::cancelled("h2 protocol error: http2 error"),
            tonic::Status::unknown("transport error: connection reset by peer"),
            tonic::Status::internal("relation \"kb.articles\" does not exist"),
            tonic::Status::internal("internal error (reference '; DROP TABLE x)"),
            tonic::Status::data_loss("checksum mismatch at 10.0.0.3"),
        ] {
            let error = ApiError::from(leaky);
            assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
            let reference = error.message.strip_prefix("internal error (reference ").and_then(|r| r.strip_suffix(')'));
            assert!(reference.is_some_and(|r| uuid::Uuid::parse_str(r).is_ok()), "{}", error.message);
        }
    }

    #[test]
    fn the_gateways_own_failures_answer_only_a_reference() {
        let chained = anyhow::anyhow!("connection reset by 10.0.0.3").context("reading the session");
        let invalid = axum::http::HeaderValue::try_from("a\nb").expect_err("a newline is no header value");
        for error in [ApiError::internal(chained), ApiError::from(invalid)] {
            assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
            let reference = error.message.strip_prefix("internal error (reference ").and_then(|r| r.strip_suffix(')'));
            assert!(reference.is_some_and(|r| uuid::Uuid::parse_str(r).is_ok()), "{}", error.message);
        }
    }

    #[test]
    fn an_unavailable_backend_does_not_leak_its_error() {
        let error = ApiError::from(tonic::Status::unavailable("tcp connect error 10.0.0.3:50052"));
        assert!(!error.message.contains("10.0.0.3"));
    }
}
