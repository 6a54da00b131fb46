//! What the router answers on its own, and the headers every answer carries.
//!
//! - Unknown routes and methods answer the documented `{"error": "…"}` (404 / 405 with `Allow`)
//!   under `/api/`, and the portal's error pages elsewhere, never an empty body.
//! - Every answer sends `X-Content-Type-Options: nosniff`.
//! - Caching: answers under `/api/` carry a session's or a person's data, so they are
//!   `Cache-Control: no-store` — except public KB reads (an article or the category list, asked
//!   for without `Authorization` and without cookies, answered 2xx), which are the same for every
//!   anonymous visitor and may be kept for a minute (`public, max-age=60`, `Vary: Authorization,
//!   Cookie`), and answers that set their own policy (the static captcha solver script). KB search
//!   and suggestions stay `no-store`: the query is what a person typed.
//! - A panic in a handler answers the documented opaque 500 with a reference id (logged at ERROR
//!   with the panic's message) instead of a dropped connection; the gateway goes on serving.

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::Response,
};

use std::any::Any;

use axum::response::IntoResponse;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::{
    error::ApiError,
    portal::error::{Failure, PageError},
};

/// The layer the router puts around every handler (see the module docs).
pub fn catch_panics() -> CatchPanicLayer<PanicToJson> {
    CatchPanicLayer::custom(PanicToJson)
}

#[derive(Debug, Clone, Copy)]
pub struct PanicToJson;

impl ResponseForPanic for PanicToJson {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response {
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not a string)");
        let error = ApiError::internal(format_args!("a handler panicked: {message}"));
        // Outside the API, the portal's layer renders this marker as its 500 page.
        let page = PageError::from(ApiError::new(error.status(), error.message()));
        let mut response = error.into_response();
        response.extensions_mut().insert(Failure(page));
        response
    }
}

/// The JSON 404 under `/api/`, the portal's 404 page everywhere else.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response();
    }
    PageError::NotFound.into_response()
}

pub async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take this method").into_response();
    }
    PageError::MethodNotAllowed.into_response()
}

fn public_kb_read(path: &str) -> bool {
    path == "/api/v1/kb/categories" || path.starts_with("/api/v1/kb/articles/")
}

/// Sets `nosniff` and the caching policy (see the module docs).
pub async fn headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/");
    let anonymous = !request.headers().contains_key(header::AUTHORIZATION) && !request.headers().contains_key(header::COOKIE);
    let cacheable = anonymous && request.method() == Method::GET && public_kb_read(path);
    let mut response = next.run(request).await;
    let cacheable = cacheable && response.status().is_success();
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        if cacheable {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
            headers.append(header::VARY, HeaderValue::from_static("Authorization, Cookie"));
        } else {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_the_json_500_with_a_reference_and_the_router_keeps_serving() {
        async fn boom() -> String {
            let text = "caf\u{e9}";
            // Slicing inside a character, as a careless handler might.
            let byte = text.len() - 1;
            text[byte..].to_string()
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(catch_panics());
        let answer = router.clone().oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(answer.into_body(), 10_000).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let error = json["error"].as_str().expect("error text");
        assert!(error.starts_with("internal error (reference "), "{error}");
        assert!(!error.contains("caf"), "{error}");
        let fine = router.oneshot(Request::get("/fine").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
