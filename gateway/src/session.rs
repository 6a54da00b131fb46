//! Browser sessions. The session id lives only in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`
//! unless turned off for plain-HTTP development); identity keeps just its hash. On every request
//! that carries the cookie and no `Authorization` header, [`session_to_bearer`] exchanges the
//! session for a short-lived caller token and passes it on as a bearer token, so every existing
//! handler works for browsers unchanged and identity sees each use (idle expiry, logout).
//!
//! CSRF: a state-changing request authenticated by the cookie must repeat the `hd_csrf` cookie's
//! value in an `X-CSRF-Token` header (double submit). Another site can make the browser send the
//! cookie but cannot read it to set the header. Bearer-authenticated requests need no token.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use helpdesk_proto::identity::v1::ExchangeSessionRequest;
use crate::{config::GatewaySettings, error::ApiError, identity::Identity};

pub const SESSION_COOKIE: &str = "hd_session";
pub const CSRF_COOKIE: &str = "hd_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Binds a single sign-on to the browser that started it (login CSRF).
pub const SSO_STATE_COOKIE: &str = "hd_sso_state";

impl GatewaySettings {
    fn attributes(&self, max_age: i64) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("Path=/; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// The session cookie (HttpOnly) and the CSRF cookie (readable by the page's script).
    pub fn session_cookies(&self, session_id: &str, csrf: &str, max_age: i64) -> [String; 2] {
        [
            format!("{SESSION_COOKIE}={session_id}; HttpOnly; {}", self.attributes(max_age)),
            format!("{CSRF_COOKIE}={csrf}; {}", self.attributes(max_age)),
        ]
    }

    /// The state of a single sign-on in flight, sent back only to the SSO endpoints.
    pub fn sso_state_cookie(&self, state: &str, max_age: i64) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("{SSO_STATE_COOKIE}={state}; HttpOnly; Path=/api/v1/sso; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    pub fn cleared_cookies(&self) -> [String; 2] {
        [
            format!("{SESSION_COOKIE}=; HttpOnly; {}", self.attributes(0)),
            format!("{CSRF_COOKIE}=; {}", self.attributes(0)),
        ]
    }
}

/// A fresh CSRF token: 128 random bits.
pub fn new_csrf_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The value of a cookie in the request, if present and plausible.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

fn csrf_ok(headers: &HeaderMap) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let Some(given) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // Constant-time over the bytes, so the time taken says nothing about a matching prefix.
    let (a, b) = (expected.as_bytes(), given.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Turns a session cookie into `Authorization: Bearer <caller token>` (see the module docs).
pub async fn session_to_bearer(State(identity): State<Identity>, mut request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let Some(session_id) = cookie(request.headers(), SESSION_COOKIE) else {
        return next.run(request).await;
    };
    let exchanged = identity
        .accounts()
        .exchange_session(ExchangeSessionRequest { session_id })
        .await;
    match exchanged {
        Ok(response) => {
            if !is_safe(request.method()) && !csrf_ok(request.headers()) {
                return ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "missing or wrong X-CSRF-Token header (repeat the hd_csrf cookie)",
                )
                .into_response();
            }
            let token = response.into_inner().token;
            match HeaderValue::try_from(format!("Bearer {token}")) {
                Ok(value) => {
                    request.headers_mut().insert(header::AUTHORIZATION, value);
                }
                Err(_) => return ApiError::internal("caller token is not a header value").into_response(),
            }
        }
        // An ended session: carry on as an anonymous caller (public pages still work).
        Err(status) if status.code() == tonic::Code::Unauthenticated => {}
        Err(status) => return ApiError::from(status).into_response(),
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        map
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; hd_session=abc ; b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
    }

    #[test]
    fn the_csrf_header_must_repeat_the_cookie() {
        assert!(csrf_ok(&headers(&[("cookie", "hd_csrf=t1"), ("x-csrf-token", "t1")])));
        assert!(!csrf_ok(&headers(&[("cookie", "hd_csrf=t1"), ("x-csrf-token", "t2")])));
        assert!(!csrf_ok(&headers(&[("cookie", "hd_csrf=t1")])));
        assert!(!csrf_ok(&headers(&[("x-csrf-token", "t1")])));
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_unless_turned_off() {
        let [session, csrf] = GatewaySettings::default().session_cookies("s", "c", 60);
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Secure"));
        assert!(!csrf.contains("HttpOnly"));
        let [plain, _] = GatewaySettings { cookie_secure: false, ..Default::default() }.session_cookies("s", "c", 60);
        assert!(!plain.contains("Secure"));
    }
}
