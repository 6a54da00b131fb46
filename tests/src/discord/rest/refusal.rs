//! What Discord answers when it refuses a request: a status, its JSON error body
//! (`{"code", "message"}`, with `errors` for "Invalid Form Body") and, for a 429, the rate-limit
//! headers. A small value the route functions return as their `Err`, turned into the HTTP answer
//! (and a line of `refused_requests()`) once, at the edge.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Json,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::super::{Fault, json::error};

#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    body: Value,
    headers: Vec<(&'static str, String)>,
    /// No route matched: answered as Discord's 404 and recorded in `unhandled_requests()`.
    unrouted: bool,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: u32, message: &str) -> Self {
        Self { status, body: error(code, message), headers: Vec::new(), unrouted: false }
    }

    /// Discord's "Invalid Form Body" naming the offending field.
    pub(crate) fn form(field: &str, code: &str, message: &str) -> Self {
        let body = json!({
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": { field: { "_errors": [{ "code": code, "message": message }] } },
        });
        Self { status: StatusCode::BAD_REQUEST, body, headers: Vec::new(), unrouted: false }
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 0, "404: Not Found")
    }

    pub(crate) fn no_route() -> Self {
        Self { unrouted: true, ..Self::not_found() }
    }

    pub(crate) fn is_unrouted(&self) -> bool {
        self.unrouted
    }

    pub(crate) fn unknown_channel() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
    }

    pub(crate) fn unknown_message() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10008, "Unknown Message")
    }

    pub(crate) fn unknown_interaction() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
    }

    pub(crate) fn unknown_webhook() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
    }

    /// A 429 as Discord sends it: no `code` in the body, `retry_after` in seconds, and the
    /// `Retry-After` (whole seconds) and `X-RateLimit-*` headers.
    pub(crate) fn rate_limited(retry_after: f64, global: bool) -> Self {
        let body = json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": global });
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |now| now.as_secs_f64()) + retry_after;
        let mut headers = vec![
            ("retry-after", format!("{}", retry_after.ceil() as u64)),
            ("x-ratelimit-limit", "5".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", format!("{reset:.3}")),
            ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
            ("x-ratelimit-bucket", "fake-discord-bucket".to_owned()),
            ("x-ratelimit-scope", if global { "global" } else { "user" }.to_owned()),
        ];
        if global {
            headers.push(("x-ratelimit-global", "true".to_owned()));
        }
        Self { status: StatusCode::TOO_MANY_REQUESTS, body, headers, unrouted: false }
    }

    pub(crate) fn fault(fault: &Fault) -> Self {
        match fault {
            Fault::RateLimited { retry_after, global } => Self::rate_limited(*retry_after, *global),
            Fault::Forbidden => Self::new(StatusCode::FORBIDDEN, 50013, "Missing Permissions"),
            Fault::MissingAccess => Self::new(StatusCode::FORBIDDEN, 50001, "Missing Access"),
            Fault::UnknownChannel => Self::unknown_channel(),
            Fault::CannotDm => Self::new(StatusCode::FORBIDDEN, 50007, "Cannot send messages to this user"),
            Fault::ServerError => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error"),
        }
    }

    /// "400 50035 Invalid Form Body", for `refused_requests()`.
    pub(crate) fn summary(&self) -> String {
        let code = self.body["code"].as_u64().map(|code| format!(" {code}")).unwrap_or_default();
        let message = self.body["message"].as_str().unwrap_or_default();
        let errors = self.body.get("errors").map(|errors| format!(" {errors}")).unwrap_or_default();
        format!("{}{code} {message}{errors}", self.status.as_u16())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
