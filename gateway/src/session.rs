//! Browser sessions. The session id lives only in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`
//! unless turned off for plain-HTTP development); identity keeps just its hash. On every request
//! that carries the cookie and no `Authorization` header, [`session_to_bearer`] exchanges the
//! session for a short-lived caller token and passes it on as a bearer token, so every existing
//! handler works for browsers unchanged and identity sees each use (idle expiry, logout).
//!
//! Cookie names: `__Host-hd_session` and `__Host-hd_csrf` when `Secure` (the prefix makes the
//! browser refuse them unless Secure, `Path=/` and without `Domain`, so neither a sibling
//! subdomain nor a plain-HTTP attacker can plant one); `hd_session` / `hd_csrf` only when
//! `cookie_secure = false`, where browsers would refuse the prefix.
//!
//! CSRF: a state-changing request authenticated by the cookie must send the session's CSRF token
//! in an `X-CSRF-Token` header (the portal's forms send the same token as a `csrf_token` field,
//! checked by `portal::guard`). The token is an HMAC of the session id under a key derived from
//! the service secret ([`CsrfKey`]), so it belongs to that one session: a token from another
//! session, or one an attacker planted as a cookie, is refused. The CSRF cookie only carries the
//! token to the page's script. Bearer-authenticated requests need no token.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use helpdesk_proto::identity::v1::ExchangeSessionRequest;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::{config::GatewayConfig, error::ApiError, identity::Identity};

pub const CSRF_HEADER: &str = "x-csrf-token";
/// Binds a single sign-on to the browser that started it (login CSRF).
pub const SSO_STATE_COOKIE: &str = "hd_sso_state";

/// 128 bits of the HMAC: as many as the session id has.
const CSRF_TAG_BYTES: usize = 16;

/// The key of the session-bound CSRF tokens.
pub struct CsrfKey(Hmac<Sha256>);

impl CsrfKey {
    /// Derived from the service secret (every gateway replica has it), with its own label so the
    /// key is used for nothing else.
    pub fn new(service_secret: &SecretString) -> Result<Self, ApiError> {
        let key = format!("gateway-csrf:{}", service_secret.expose_secret());
        Hmac::new_from_slice(key.as_bytes()).map(Self).map_err(ApiError::internal)
    }

    fn mac(&self, session_id: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(session_id.as_bytes());
        mac
    }

    /// The CSRF token of this session.
    pub fn token(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(&self.mac(session_id).finalize().into_bytes()[..CSRF_TAG_BYTES])
    }

    /// Whether `given` is this session's token (compared in constant time).
    pub fn verify(&self, session_id: &str, given: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(given.trim()) {
            Ok(tag) if tag.len() == CSRF_TAG_BYTES => self.mac(session_id).verify_truncated_left(&tag).is_ok(),
            _ => false,
        }
    }
}

impl GatewayConfig {
    pub fn session_cookie(&self) -> &'static str {
        if self.cookie_secure { "__Host-hd_session" } else { "hd_session" }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        if self.cookie_secure { "__Host-hd_csrf" } else { "hd_csrf" }
    }

    /// A browser's id before it signs in: what the portal's forms' CSRF tokens are bound to then.
    pub fn visitor_cookie(&self) -> &'static str {
        if self.cookie_secure { "__Host-hd_visitor" } else { "hd_visitor" }
    }

    /// The visitor cookie (HttpOnly, ends with the browser session).
    pub fn visitor_cookie_header(&self, visitor: &str) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("{}={visitor}; HttpOnly; Path=/; SameSite=Lax{secure}", self.visitor_cookie())
    }

    /// `Path=/` and no `Domain`, as the `__Host-` prefix requires.
    fn attributes(&self, max_age: i64) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("Path=/; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// The session cookie (HttpOnly) and the CSRF cookie (readable by the page's script).
    pub fn session_cookies(&self, session_id: &str, csrf: &str, max_age: i64) -> [String; 2] {
        [
            format!("{}={session_id}; HttpOnly; {}", self.session_cookie(), self.attributes(max_age)),
            format!("{}={csrf}; {}", self.csrf_cookie(), self.attributes(max_age)),
        ]
    }

    /// The state of a single sign-on in flight, sent back only to the SSO endpoints.
    pub fn sso_state_cookie(&self, state: &str, max_age: i64) -> String {
        self.flow_cookie(SSO_STATE_COOKIE, state, "/api/v1/sso", max_age)
    }

    /// A short-lived HttpOnly cookie that carries one step of a flow to the one path that reads
    /// it (the SSO state, the portal's `next` and email-verification ticket of a sign-on).
    pub fn flow_cookie(&self, name: &str, value: &str, path: &str, max_age: i64) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!("{name}={value}; HttpOnly; Path={path}; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    pub fn cleared_cookies(&self) -> [String; 2] {
        [
            format!("{}=; HttpOnly; {}", self.session_cookie(), self.attributes(0)),
            format!("{}=; {}", self.csrf_cookie(), self.attributes(0)),
        ]
    }
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

/// The header carries this session's token (the CSRF cookie's value is not consulted: it may
/// have been planted).
pub fn csrf_ok(key: &CsrfKey, headers: &HeaderMap, session_id: &str) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| key.verify(session_id, given))
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Turns a session cookie into `Authorization: Bearer <caller token>` (see the module docs).
pub async fn session_to_bearer(State(identity): State<Identity>, mut request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let Some(session_id) = cookie(request.headers(), identity.settings.session_cookie()) else {
        return next.run(request).await;
    };
    let exchanged = identity
        .accounts()
        .exchange_session(ExchangeSessionRequest { session_id: session_id.clone() })
        .await;
    match exchanged {
        Ok(response) => {
            // The portal's pages (every path outside the API) check their forms' tokens themselves
            // (`portal::guard`), from a header or the form's `csrf_token` field.
            let api = request.uri().path().starts_with("/api/");
            if api && !is_safe(request.method()) && !csrf_ok(&identity.csrf, request.headers(), &session_id) {
                let message = format!(
                    "missing or wrong X-CSRF-Token header (send this session's csrf_token, also in the {} cookie)",
                    identity.settings.csrf_cookie()
                );
                return ApiError::new(axum::http::StatusCode::FORBIDDEN, message).into_response();
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
        let h = headers(&[("cookie", "a=1; __Host-hd_session=abc ; b=2")]);
        assert_eq!(cookie(&h, "__Host-hd_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "hd_session"), None);
    }

    fn key(secret: &str) -> CsrfKey {
        CsrfKey::new(&SecretString::from(secret)).expect("key")
    }

    #[test]
    fn the_csrf_header_must_carry_the_token_of_this_very_session() {
        let key = key("s3cret");
        let token = key.token("session-a");
        assert_eq!(token.len(), 22, "128 bits, base64url");
        assert!(csrf_ok(&key, &headers(&[("x-csrf-token", &token)]), "session-a"));
        assert!(!csrf_ok(&key, &headers(&[("x-csrf-token", &token)]), "session-b"), "another session's token");
        assert!(!csrf_ok(&key, &headers(&[("cookie", &format!("__Host-hd_csrf={token}"))]), "session-a"), "no header");
        assert!(!csrf_ok(&key, &headers(&[("x-csrf-token", &token[..4])]), "session-a"), "a prefix of it");
        assert!(!csrf_ok(&key, &headers(&[("x-csrf-token", "not base64 !")]), "session-a"));
        assert!(!csrf_ok(&self::key("other secret"), &headers(&[("x-csrf-token", &token)]), "session-a"));
    }

    #[test]
    fn secure_cookies_carry_the_host_prefix_and_plain_ones_do_not() {
        let [session, csrf] = GatewayConfig::default().session_cookies("s", "c", 60);
        assert!(session.starts_with("__Host-hd_session=s;"), "{session}");
        assert!(csrf.starts_with("__Host-hd_csrf=c;"), "{csrf}");
        for cookie in [&session, &csrf] {
            assert!(cookie.contains("Path=/;") && cookie.contains("Secure") && !cookie.contains("Domain"), "{cookie}");
        }
        let plain = GatewayConfig { cookie_secure: false, ..Default::default() };
        let [session, csrf] = plain.session_cookies("s", "c", 60);
        assert!(session.starts_with("hd_session=s;") && csrf.starts_with("hd_csrf=c;"));
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_unless_turned_off() {
        let [session, csrf] = GatewayConfig::default().session_cookies("s", "c", 60);
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Secure"));
        assert!(!csrf.contains("HttpOnly"));
        let [plain, _] = GatewayConfig { cookie_secure: false, ..Default::default() }.session_cookies("s", "c", 60);
        assert!(!plain.contains("Secure"));
    }
}
