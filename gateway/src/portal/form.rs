//! What every portal form shares: the urlencoded [`Form`] extractor (the JSON API's rule for
//! input text applies: no control characters), [`FormErrors`] — the messages a re-rendered form
//! shows in its error summary and beside each field — and [`next_target`], the one check on a
//! `next=` redirect target.
//!
//! A form that fails re-renders with what the contact typed (handlers keep the submitted struct
//! and pass it back to the template), never a blank form: losing a long message to a typo in the
//! email field is the failure this module exists to prevent.

use axum::{
    extract::{FromRequest, Request},
    http::StatusCode,
};
use serde::de::DeserializeOwned;
use std::borrow::Cow;

use crate::{clean, portal::error::PageError};

/// A urlencoded form body, with the control-character rule applied to every value.
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| PageError::bad_request(e.body_text()))?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        for (key, value) in &pairs {
            clean::check(key, value)?;
        }
        let encoded = serde_urlencoded::to_string(&pairs).map_err(PageError::internal)?;
        serde_urlencoded::from_str(&encoded)
            .map(Form)
            .map_err(|e| PageError::bad_request(format!("the form could not be read: {e}")))
    }
}

/// One message tied to one field (`field` is the input's `id`, which the summary links to and
/// the message's `id="<field>-error"` is referenced from the input's `aria-describedby`). Most
/// ids are fixed; a category's custom fields have ids made from their keys, hence `Cow`.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub message: String,
}

impl FieldError {
    /// The field's id as a plain string (for templates that match on it).
    pub fn id(&self) -> &str {
        &self.field
    }
}

/// The errors of one submission, in the order of the fields on the page.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    pub fn add(&mut self, field: impl Into<Cow<'static, str>>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, for the template to show beside it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// The status a re-rendered form answers with.
    pub fn status(&self) -> StatusCode {
        if self.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }
    }

    /// A service's `INVALID_ARGUMENT` message ("subject: is required") tied to the field it names
    /// when it names one of `fields`, else to `fallback`.
    pub fn from_service(message: &str, fields: &[&'static str], fallback: &'static str) -> Self {
        let mut errors = Self::default();
        let named = message
            .split_once(':')
            .and_then(|(name, _)| fields.iter().copied().find(|f| *f == name.trim()));
        match named {
            Some(field) => errors.add(field, message.split_once(':').map_or(message, |(_, m)| m).trim()),
            None => errors.add(fallback, message),
        }
        errors
    }
}

/// `next` when it is a path on this site, else `/`. Only a single leading slash followed by a
/// path character is accepted: `//evil.example`, `/\evil.example` (browsers read both as another
/// host), `https://…`, and anything with control characters or whitespace fall back.
pub fn next_target(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".into() };
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if safe { next.to_string() } else { "/".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_site() {
        assert_eq!(next_target(Some("/tickets?queue=all")), "/tickets?queue=all");
        assert_eq!(next_target(Some("/")), "/");
        assert_eq!(next_target(None), "/");
        for hostile in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/tickets\r\nSet-Cookie: x=1",
            "/\tevil",
            "/a\\b",
            "",
        ] {
            assert_eq!(next_target(Some(hostile)), "/", "{hostile:?}");
        }
    }

    #[test]
    fn a_service_message_naming_a_field_is_tied_to_that_field() {
        let errors = FormErrors::from_service("subject: is required", &["subject", "message"], "form");
        assert_eq!(errors.get("subject"), Some("is required"));
        let other = FormErrors::from_service("the category does not exist", &["subject"], "category");
        assert_eq!(other.get("category"), Some("the category does not exist"));
        assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(FormErrors::default().status(), StatusCode::OK);
    }
}
