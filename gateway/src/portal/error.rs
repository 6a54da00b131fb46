//! How a portal handler fails: [`PageError`]. A handler returns it (or `?`s a gRPC `Status`, an
//! `ApiError`); its response carries only a status and a [`Failure`] marker, and the portal's
//! layer (`guard`) turns the marker into the full error page in the site's look — with the
//! visitor's header, so a 404 still shows who is signed in. Keeping rendering in one place means
//! the router's fallback, a panic and a handler's `?` all end in the same page.
//!
//! `LoginRequired` (a service said "unauthenticated": no session, or it expired) becomes a
//! redirect to the login page that comes back to where the contact was. Internal errors show the
//! reference id of the log line that holds the cause, never the cause.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// Why a page could not be shown.
#[derive(Debug, Clone)]
pub enum PageError {
    NotFound,
    Forbidden,
    /// Sign in first (and come back here).
    LoginRequired,
    /// A request the page cannot use; the message says why (it is shown to the visitor).
    BadRequest(String),
    /// A form without this browser's CSRF token: sent from another site, or open since before
    /// the session changed.
    StaleForm,
    /// A form body over the portal's limit.
    TooLarge,
    MethodNotAllowed,
    TooManyRequests,
    Unavailable,
    /// The reference id of the logged cause.
    Internal(String),
}

/// The marker the portal layer renders (see the module docs).
#[derive(Debug, Clone)]
pub struct Failure(pub PageError);

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// Logs the cause; the page shows only the reference.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::from(ApiError::internal(cause))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::LoginRequired => StatusCode::SEE_OTHER,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::StaleForm => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The HTTP status the JSON API would answer decides the page: its one mapping from gRPC stays
/// the only one.
impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error.status() {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::UNAUTHORIZED => Self::LoginRequired,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            StatusCode::INTERNAL_SERVER_ERROR => Self::Internal(reference_of(error.message())),
            _ => Self::BadRequest(error.message().to_string()),
        }
    }
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        Self::from(ApiError::from(status))
    }
}

/// The id in "internal error (reference <id>)".
fn reference_of(message: &str) -> String {
    message
        .strip_prefix("internal error (reference ")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or("unknown")
        .to_string()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(Failure(self));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_become_the_page_a_visitor_should_see() {
        assert!(matches!(PageError::from(tonic::Status::not_found("ticket")), PageError::NotFound));
        assert!(matches!(PageError::from(tonic::Status::unauthenticated("expired")), PageError::LoginRequired));
        assert!(matches!(PageError::from(tonic::Status::permission_denied("no")), PageError::Forbidden));
        assert!(matches!(PageError::from(tonic::Status::unavailable("down")), PageError::Unavailable));
        let internal = PageError::from(tonic::Status::internal("relation \"x\" does not exist"));
        let PageError::Internal(reference) = internal else { panic!("internal") };
        assert!(uuid::Uuid::parse_str(&reference).is_ok(), "{reference}");
    }
}
