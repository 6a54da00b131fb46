//! The one rule on text that reaches the gateway: no C0 control characters except tab, line feed
//! and carriage return, in any JSON string (keys included), query value, path parameter or
//! multipart text field. A NUL once went all the way to Postgres, which refuses it, and came back
//! as a 500; other controls have no business in a help desk's text either. The rule refuses (422
//! naming the field) rather than strips, so nobody's words are changed behind their back.
//!
//! The extractors in `extract` call this before any handler sees the input, so no handler has to
//! remember it.

use axum::http::StatusCode;
use helpdesk_kit::text::is_stray_control;
use serde_json::Value;

use crate::error::ApiError;

/// 422 naming `field` when `text` holds a refused character.
pub fn check(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().any(is_stray_control) {
        let field = if field.is_empty() { "body" } else { field };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field}: must not contain control characters"),
        ));
    }
    Ok(())
}

/// [`check`] on every string of a JSON document; the field is named the way serde's path names
/// it (`message`, `custom_fields.product`, `attachments[0]`).
pub fn check_json(path: &str, value: &Value) -> Result<(), ApiError> {
    match value {
        Value::String(text) => check(path, text),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_json(&format!("{path}[{i}]"), item)),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            // A bad key is named by where it sits: echoing the key would echo the control.
            check(path, key)?;
            check_json(&field, item)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message_of(result: Result<(), ApiError>) -> String {
        result.err().map(|e| e.message().to_string()).unwrap_or_default()
    }

    #[test]
    fn nul_and_other_c0_controls_are_refused_naming_the_field() {
        assert_eq!(message_of(check("message", "a\0b")), "message: must not contain control characters");
        assert!(check("q", "bell\u{7}").is_err());
        assert!(check("q", "escape\u{1b}[31m").is_err());
    }

    #[test]
    fn tabs_line_breaks_and_ordinary_unicode_pass() {
        assert!(check("message", "line one\r\n\tline two").is_ok());
        assert!(check("message", "Grüße, 你好, emoji 🎉, delete \u{7f}").is_ok());
    }

    #[test]
    fn json_strings_are_checked_wherever_they_are_with_their_path() {
        let body = json!({ "subject": "fine", "custom_fields": { "product": "x\u{0}" } });
        assert_eq!(message_of(check_json("", &body)), "custom_fields.product: must not contain control characters");
        let body = json!({ "attachments": ["ok", "bad\u{1}"] });
        assert_eq!(message_of(check_json("", &body)), "attachments[1]: must not contain control characters");
        assert_eq!(message_of(check_json("", &json!({ "k\u{0}": 1 }))), "body: must not contain control characters");
        let body = json!({ "custom_fields": { "k\u{0}": 1 } });
        assert_eq!(message_of(check_json("", &body)), "custom_fields: must not contain control characters");
        assert!(check_json("", &json!({ "n": 1, "b": true, "z": null, "s": "tab\there" })).is_ok());
    }
}
