//! The layer every request outside `/api/` passes through (the portal's pages, its static files
//! and the HTML fallbacks):
//!
//! - **Visitor id**: a browser without one gets a random `hd_visitor` cookie; before sign-in the
//!   forms' CSRF tokens are bound to it (after sign-in, to the session, as the JSON API's are).
//! - **CSRF**: every non-GET request must carry this browser's token — in the `X-CSRF-Token`
//!   header (the pages' scripts) or in the form's `csrf_token` field (plain forms, so everything
//!   works without JavaScript). Form bodies are read here, bounded, and handed on unchanged, so
//!   no handler can forget the check. A refusal is the "form expired" page, never a silent drop.
//! - **Headers**: a strict Content-Security-Policy (only this origin's scripts and styles, no
//!   inline script, `frame-ancestors 'none'`, `form-action 'self'`), `Referrer-Policy`, and
//!   `Cache-Control: no-store` with `Vary: Cookie` on pages (they carry a person's data and a
//!   CSRF token); static files keep their own immutable policy.
//! - **Error pages**: a response carrying `error::Failure` becomes the error page in the site's
//!   look; "log in first" becomes a redirect to the login page and back.

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart, Request, State},
    http::{HeaderMap, HeaderValue, Method, Uri, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    identity::Identity,
    portal::{
        chrome::{self, Chrome},
        error::{Failure, PageError},
        form::next_target,
        views,
    },
    session::{CSRF_HEADER, cookie, is_safe},
};

/// The browser's visitor id, for the request's handlers (`Chrome` binds the CSRF token to it).
#[derive(Debug, Clone)]
pub struct VisitorId(pub String);

/// What the layer needs: identity (settings, CSRF key) and the largest form body it reads.
#[derive(Clone)]
pub struct Guard {
    pub identity: Identity,
    pub form_limit: usize,
}

/// The field plain forms carry the token in.
pub const CSRF_FIELD: &str = "csrf_token";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/healthz")
}

pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if !is_page_path(request.uri().path()) {
        return next.run(request).await;
    }
    let settings = &guard.identity.settings;
    let existing = cookie(request.headers(), settings.visitor_cookie());
    let fresh = existing.is_none();
    let visitor = existing.unwrap_or_else(new_visitor_id);
    let (method, uri, headers) = (request.method().clone(), request.uri().clone(), request.headers().clone());
    let mut request = request;
    request.extensions_mut().insert(VisitorId(visitor.clone()));

    let mut response = if is_safe(&method) {
        next.run(request).await
    } else {
        match checked(&guard, request, &visitor).await {
            Ok(request) => next.run(request).await,
            Err(error) => error.into_response(),
        }
    };
    if let Some(Failure(error)) = response.extensions_mut().remove::<Failure>() {
        response = render_failure(&guard.identity, error, &method, &uri, &headers, &visitor).await;
    }
    let out = response.headers_mut();
    out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    out.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !out.contains_key(header::CACHE_CONTROL) {
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        out.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
    if fresh && let Ok(value) = HeaderValue::try_from(settings.visitor_cookie_header(&visitor)) {
        out.append(header::SET_COOKIE, value);
    }
    response
}

/// 128 random bits, base64url.
fn new_visitor_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS's generator failing is not recoverable anyway; a fixed id would be worse than none.
    if getrandom::fill(&mut bytes).is_err() {
        return uuid::Uuid::new_v4().simple().to_string();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The request, if it carries this browser's CSRF token (see the module docs).
async fn checked(guard: &Guard, request: Request, visitor: &str) -> Result<Request, PageError> {
    let identity = &guard.identity;
    let session = cookie(request.headers(), identity.settings.session_cookie());
    let valid = |given: &str| {
        session.as_deref().is_some_and(|s| identity.csrf.verify(s, given))
            || identity.csrf.verify(&chrome::visitor_binding(visitor), given)
    };
    if let Some(given) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if valid(given) { Ok(request) } else { Err(PageError::StaleForm) };
    }
    // As sent: a multipart boundary is case-sensitive (Chromium's has capitals), so only the
    // comparison below is made in lower case.
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let kind = content_type.to_ascii_lowercase();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, guard.form_limit).await.map_err(|_| PageError::TooLarge)?;
    let given = if kind.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned())
    } else if kind.starts_with("multipart/form-data") {
        multipart_token(&content_type, bytes.clone()).await
    } else {
        None
    };
    match given {
        Some(given) if valid(&given) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(PageError::StaleForm),
    }
}

/// The `csrf_token` field of a multipart body (forms put it first, so this reads little).
async fn multipart_token(content_type: &str, bytes: Bytes) -> Option<String> {
    let request = Request::builder().header(header::CONTENT_TYPE, content_type).body(Body::from(bytes)).ok()?;
    let mut multipart = Multipart::from_request(request, &()).await.ok()?;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(CSRF_FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

/// The page for a failure; "log in first" redirects to the login page and back.
async fn render_failure(
    identity: &Identity,
    error: PageError,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    visitor: &str,
) -> Response {
    if let PageError::LoginRequired = error {
        return Redirect::to(&chrome::login_href(&come_back_to(method, uri, headers))).into_response();
    }
    let chrome = match Chrome::load(identity, headers, uri, Some(visitor)).await {
        Ok(chrome) => chrome,
        Err(_) => Chrome::fallback(identity, headers, uri, Some(visitor)),
    };
    let status = error.status();
    (status, views::ErrorPage::new(chrome, error)).into_response()
}

/// Where to return after logging in: this page for a GET; for a form sent with an expired
/// session, the page the form was on (its same-site `Referer`), else home.
fn come_back_to(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    if method == Method::GET {
        return uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = ["http://", "https://"]
        .iter()
        .find_map(|scheme| referer.strip_prefix(scheme)?.strip_prefix(host))
        .filter(|_| !host.is_empty());
    next_target(path)
}

#[cfg(test)]
mod tests {
    use axum::{Router, middleware, routing::get};
    use secrecy::SecretString;
    use tower::ServiceExt;

    use super::*;
    use crate::{config::GatewayConfig, edge};

    /// A router with the portal's layer around a panicking page, with identity unreachable (the
    /// error page then falls back to an anonymous header).
    fn router() -> Router {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let identity = Identity::new(channel, SecretString::from("test secret"), GatewayConfig::default()).expect("identity");
        async fn boom() -> String {
            let parts: Vec<&str> = Vec::new();
            parts[3].to_string()
        }
        Router::new()
            .route("/boom", get(boom))
            .route("/api/v1/boom", get(boom))
            .layer(edge::catch_panics())
            .layer(middleware::from_fn_with_state(Guard { identity, form_limit: 1024 }, guard))
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn a_failing_page_shows_the_500_page_with_a_reference_and_no_internals() {
        let response = router().oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers()[header::CONTENT_TYPE].to_str().expect("type").starts_with("text/html"));
        assert!(response.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("csp").contains("frame-ancestors 'none'"));
        let html = body(response).await;
        assert!(html.contains("Something went wrong"), "{html}");
        let reference = html
            .split("<code class=\"reference\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .expect("a reference id");
        assert!(uuid::Uuid::parse_str(reference).is_ok(), "{reference}");
        for internal in ["index out of bounds", "panicked", "guard.rs", "len is 0"] {
            assert!(!html.contains(internal), "leaks {internal}: {html}");
        }
    }

    #[tokio::test]
    async fn the_api_keeps_its_json_500() {
        let response = router().oneshot(Request::get("/api/v1/boom").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn after_login_a_form_comes_back_to_the_page_it_was_on_and_only_on_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("help.example"));
        let uri: Uri = "/tickets/1/reply".parse().expect("uri");
        headers.insert(header::REFERER, HeaderValue::from_static("https://help.example/tickets/1"));
        assert_eq!(come_back_to(&Method::POST, &uri, &headers), "/tickets/1");
        headers.insert(header::REFERER, HeaderValue::from_static("https://evil.example/tickets/1"));
        assert_eq!(come_back_to(&Method::POST, &uri, &headers), "/");
        headers.insert(header::REFERER, HeaderValue::from_static("https://help.example//evil.example"));
        assert_eq!(come_back_to(&Method::POST, &uri, &headers), "/");
        let get: Uri = "/tickets?queue=all".parse().expect("uri");
        assert_eq!(come_back_to(&Method::GET, &get, &headers), "/tickets?queue=all");
    }
}
