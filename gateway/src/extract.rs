//! The gateway's own `Json`, `Query`, `Path` and `Multipart` extractors, used by every handler in
//! place of axum's. They do two things axum's do not:
//!
//! - every piece of text passes [`clean`]'s rule (no control characters) before a handler sees
//!   it, so the rule cannot be forgotten by one handler;
//! - every rejection is the documented `{"error": "…"}` with the field named by serde's path
//!   (`priority: invalid type: …`), never axum's `text/plain` naming Rust types.
//!
//! Statuses follow axum's: 415 for a body of the wrong type, 400 for one that is not well-formed,
//! 413 over the body limit, 422 for a well-formed body or query with a bad field.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, RawPathParams, Request, multipart},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{clean, error::ApiError};

/// A JSON body in, or a JSON answer out (as `axum::Json`).
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn content_type(headers: &HeaderMap) -> String {
    let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    raw.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn is_json(headers: &HeaderMap) -> bool {
    let kind = content_type(headers);
    kind == "application/json" || (kind.starts_with("application/") && kind.ends_with("+json"))
}

/// A body that could not be read: over the limit (413), or cut off.
fn body_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "the request body is larger than this endpoint accepts")
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "the request body could not be read")
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body (`Content-Type: application/json`)",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| body_error(e.status()))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            let at = format!("line {}, column {}", e.line(), e.column());
            ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {message} ({at})"))
        })?;
        clean::check_json("", &value)?;
        serde_path_to_error::deserialize(value).map(Json).map_err(field_error)
    }
}

/// A query string, `?a=1&b=x`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default().as_bytes();
        for (key, value) in form_urlencoded::parse(raw) {
            clean::check("query", &key)?;
            clean::check(&key, &value)?;
        }
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw));
        serde_path_to_error::deserialize(pairs).map(Query).map_err(field_error)
    }
}

/// Path parameters (`/tickets/{id}`), percent-decoded.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state).await.map_err(|rejection| {
            if rejection.status().is_server_error() {
                ApiError::internal(rejection.body_text())
            } else {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "path: must be UTF-8 text")
            }
        })?;
        for (key, value) in &raw {
            clean::check(key, value)?;
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) if rejection.status().is_server_error() => Err(ApiError::internal(rejection.body_text())),
            Err(_) => Err(ApiError::new(StatusCode::NOT_FOUND, "not found")),
        }
    }
}

/// A `multipart/form-data` body. Each part's name, file name and type pass the text rule.
pub struct Multipart(multipart::Multipart);

fn multipart_error(error: multipart::MultipartError) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => body_error(StatusCode::PAYLOAD_TOO_LARGE),
        _ => ApiError::new(StatusCode::BAD_REQUEST, "malformed multipart/form-data body"),
    }
}

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if content_type(request.headers()) != "multipart/form-data" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a `multipart/form-data` body",
            ));
        }
        multipart::Multipart::from_request(request, state)
            .await
            .map(Multipart)
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "multipart/form-data needs a boundary"))
    }
}

impl Multipart {
    pub async fn next_field(&mut self) -> Result<Option<multipart::Field<'_>>, ApiError> {
        let Some(field) = self.0.next_field().await.map_err(multipart_error)? else {
            return Ok(None);
        };
        let name = field.name().unwrap_or_default().to_string();
        clean::check("form", &name)?;
        clean::check(&format!("{name}.filename"), field.file_name().unwrap_or_default())?;
        clean::check(&format!("{name}.content_type"), field.content_type().unwrap_or_default())?;
        Ok(Some(field))
    }

    /// The bytes of a part.
    pub async fn bytes(field: multipart::Field<'_>) -> Result<Bytes, ApiError> {
        field.bytes().await.map_err(multipart_error)
    }
}

/// A deserialization error as `<field>: <what was wrong>`, in words a client can act on.
fn field_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> ApiError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let message = message.split(" at line ").next().unwrap_or_default();
    let text = match message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        Some(missing) if path == "." => format!("{missing}: is required"),
        Some(missing) => format!("{path}.{missing}: is required"),
        None => {
            let field = if path == "." { "body" } else { path.as_str() };
            format!("{field}: {}", without_rust_types(message))
        }
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, text)
}

/// serde names what it expected by the Rust type (`expected u32`, `expected struct CreateTicket`);
/// a client needs the JSON kind instead.
fn without_rust_types(message: &str) -> String {
    let Some((what, expected)) = message.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let plain = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a borrowed string" | "a string" | "a character" => "a string",
        e if e.starts_with("struct ") || e.starts_with("tuple struct ") || e == "a map" => "an object",
        e if e.starts_with("enum ") => "one of the documented values",
        e if e.starts_with("unit struct ") || e == "unit" => "null",
        e => return format!("{what}, expected {e}"),
    };
    format!("{what}, expected {plain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_json_kinds() {
        assert_eq!(without_rust_types("invalid type: string \"x\", expected u32"), "invalid type: string \"x\", expected a whole number, 0 or more");
        assert_eq!(without_rust_types("invalid type: integer `1`, expected struct CreateTicket"), "invalid type: integer `1`, expected an object");
        assert_eq!(without_rust_types("invalid type: map, expected a sequence"), "invalid type: map, expected a sequence");
        assert_eq!(
            without_rust_types("unknown variant `x`, expected one of `impression`, `click`"),
            "unknown variant `x`, expected one of `impression`, `click`"
        );
    }

    #[test]
    fn json_types_are_recognised_with_parameters_and_suffixes() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static(value));
            is_json(&headers)
        };
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
    }
}
