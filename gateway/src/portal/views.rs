//! Helpers every page's view uses — [`Moment`] (a time as the page shows it: machine-readable
//! for `<time datetime>`, which `portal.js` rewrites in the reader's time zone, and a UTC text
//! for readers without JavaScript) — and the error page, which `guard` renders for every failure.

use askama::Template;
use askama_web::WebTemplate;

use crate::portal::{chrome::Chrome, error::PageError};

/// A point in time for a template: `<time datetime="{{ m.iso }}">{{ m.text }}</time>`.
#[derive(Debug, Clone)]
pub struct Moment {
    pub iso: String,
    pub text: String,
}

impl Moment {
    pub fn from_timestamp(at: Option<&prost_types::Timestamp>) -> Option<Self> {
        let at = at?;
        let at = chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))?;
        Some(Self { iso: at.to_rfc3339(), text: at.format("%Y-%m-%d %H:%M UTC").to_string() })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    /// `not_found`, `forbidden`, `stale_form`, … : the template words each one.
    pub kind: &'static str,
    pub message: String,
    pub reference: String,
}

impl ErrorPage {
    pub fn new(chrome: Chrome, error: PageError) -> Self {
        let (kind, message, reference) = match error {
            PageError::NotFound => ("not_found", String::new(), String::new()),
            PageError::Forbidden => ("forbidden", String::new(), String::new()),
            PageError::LoginRequired => ("login_required", String::new(), String::new()),
            PageError::BadRequest(message) => ("bad_request", message, String::new()),
            PageError::StaleForm => ("stale_form", String::new(), String::new()),
            PageError::TooLarge => ("too_large", String::new(), String::new()),
            PageError::MethodNotAllowed => ("method_not_allowed", String::new(), String::new()),
            PageError::TooManyRequests => ("too_many_requests", String::new(), String::new()),
            PageError::Unavailable => ("unavailable", String::new(), String::new()),
            PageError::Internal(reference) => ("internal", String::new(), reference),
        };
        Self { chrome, kind, message, reference }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_keep_the_instant_and_say_utc() {
        let at = prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 };
        let m = Moment::from_timestamp(Some(&at)).expect("moment");
        assert!(m.iso.starts_with("2026-05-28T"), "{}", m.iso);
        assert!(m.text.ends_with(" UTC"), "{}", m.text);
        assert!(Moment::from_timestamp(None).is_none());
    }
}
