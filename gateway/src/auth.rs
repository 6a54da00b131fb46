//! The caller's bearer token, taken from `Authorization: Bearer …` and passed on to the services
//! unchanged: the gateway never decides on its own what a caller may see.

use axum::{extract::FromRequestParts, http::request::Parts, http::StatusCode};

use crate::error::ApiError;

/// A bearer token, required.
pub struct Bearer(pub String);

/// A bearer token if the request has one (anonymous callers may search the KB).
pub struct MaybeBearer(pub Option<String>);

fn token_from(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "expected `Authorization: Bearer <token>`"))?;
    Ok(Some(token.to_string()))
}

/// The bearer token of a request (set by the client, or by `session_to_bearer` from the session
/// cookie), if it has a usable one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .map(str::to_string)
}

/// The subject (`sub`) a token names, read without verifying it: only to ask identity about that
/// subject *with the same token*, which identity verifies and refuses for anyone else.
pub fn subject_of(token: &str) -> Option<String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let claims = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&claims).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        token_from(parts)?
            .map(Bearer)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "sign in first: this needs a bearer token"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeBearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeBearer(token_from(parts)?))
    }
}
