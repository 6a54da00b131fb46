//! What the router answers on its own, and the headers every answer carries.
//!
//! - Unknown routes and methods answer the documented `{"error": "…"}` (404 / 405 with `Allow`),
//!   not an empty body.
//! - Every answer sends `X-Content-Type-Options: nosniff`.
//! - Caching: answers under `/api/` carry a session's or a person's data, so they are
//!   `Cache-Control: no-store` — except public KB reads (an article or the category list, asked
//!   for without `Authorization` and without cookies, answered 2xx), which are the same for every
//!   anonymous visitor and may be kept for a minute (`public, max-age=60`, `Vary: Authorization,
//!   Cookie`), and answers that set their own policy (the static captcha solver script). KB search
//!   and suggestions stay `no-store`: the query is what a person typed.

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take this method")
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
