//! The ticket model and the rules on its inputs. Wire values become these types at the edge
//! (`grpc`, `events`), so the store never sees an unchecked subject, body, field value or cursor.
//!
//! - `attachments`: upload limits, file names and the sniffed content type;
//! - `fields`: custom-field definitions and value validation;
//! - `query`: what a ticket list asks for (scope, queue, filters, sort, search) and its cursor;
//! - `time`: the group support-time ledger's arithmetic and alert states.
//! - `threading`: email threading rules that need no database (ticket numbers in subjects).

pub mod attachments;
pub mod fields;
pub mod query;
pub mod threading;
pub mod time;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const MAX_SUBJECT_CHARS: usize = 255;
pub const MAX_BODY_BYTES: usize = helpdesk_kit::limits::MAX_MESSAGE_TEXT_BYTES;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("ticket not found")]
    NotFound,
    #[error("this call needs a caller token")]
    Unauthenticated,
    #[error("the caller may not do this")]
    PermissionDenied,
    #[error("{0}")]
    FailedPrecondition(String),
    /// A store or peer failure: logged in full, returned opaque.
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> TicketError {
    TicketError::Invalid { field, reason: reason.into() }
}

/// Where a ticket came from; stored as the `tickets.v1.Channel` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Portal = 1,
    Email = 2,
    Chat = 3,
    Api = 4,
}

impl Channel {
    pub fn from_i32(raw: i32) -> Option<Self> {
        match raw {
            1 => Some(Self::Portal),
            2 => Some(Self::Email),
            3 => Some(Self::Chat),
            4 => Some(Self::Api),
            _ => None,
        }
    }
}

/// A ticket subject: trimmed, control characters removed, 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub fn parse(raw: &str) -> Result<Self, TicketError> {
        let cleaned: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() {
            return Err(invalid("subject", "is required"));
        }
        if cleaned.chars().count() > MAX_SUBJECT_CHARS {
            return Err(invalid("subject", format!("is longer than {MAX_SUBJECT_CHARS} characters")));
        }
        Ok(Self(cleaned.to_string()))
    }

    /// For channel messages, whose subject we do not control: an empty one gets a placeholder and
    /// a long one is cut, rather than losing the message.
    pub fn lenient(raw: &str) -> Self {
        Self::parse(raw).unwrap_or_else(|_| {
            let cut: String = raw
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .chars()
                .take(MAX_SUBJECT_CHARS)
                .collect();
            Self(if cut.trim().is_empty() { "(no subject)".into() } else { cut.trim().to_string() })
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message body in plain text: required, at most 256 KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    pub fn parse(raw: &str) -> Result<Self, TicketError> {
        if raw.trim().is_empty() {
            return Err(invalid("text", "is required"));
        }
        if raw.len() > MAX_BODY_BYTES {
            return Err(invalid("text", format!("is larger than {MAX_BODY_BYTES} bytes")));
        }
        Ok(Self(raw.to_string()))
    }

    /// For channel messages: an empty body is allowed (a mail with only a subject).
    pub fn lenient(raw: &str) -> Result<Self, TicketError> {
        if raw.len() > MAX_BODY_BYTES {
            return Err(invalid("text", format!("is larger than {MAX_BODY_BYTES} bytes")));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket as read back, with its status and priority resolved.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub subject: String,
    pub contact_id: Uuid,
    pub group_id: Option<Uuid>,
    pub channel: i16,
    pub status: String,
    pub status_name: String,
    pub status_kind: i16,
    pub priority: String,
    pub priority_name: String,
    pub priority_rank: i16,
    pub category_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
    pub custom_fields: std::collections::BTreeMap<String, fields::FieldValue>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
    /// A guest's ticket in an existing contact's name, not confirmed yet: staff only.
    pub unverified: bool,
}

/// `tickets.v1.StatusKind` numbers as stored.
pub const PENDING: i16 = 1;
pub const COMPLETED: i16 = 2;

/// An admin-defined id (status, priority): 1-40 lower-case letters, digits or `_`.
pub fn parse_slug_id(field: &'static str, raw: &str) -> Result<String, TicketError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 40 || !raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid(field, "must be 1-40 lower-case letters, digits or _"));
    }
    Ok(raw.to_string())
}

/// Display names of statuses, priorities and categories: 1-100 characters.
pub fn parse_name(field: &'static str, raw: &str) -> Result<String, TicketError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(field, "must be 1-100 characters"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_trimmed_and_bounded() {
        assert_eq!(Subject::parse("  Printer on fire \n").expect("valid").as_str(), "Printer on fire");
        assert!(Subject::parse("   ").is_err());
        assert!(Subject::parse(&"x".repeat(256)).is_err());
        assert!(Subject::parse(&"é".repeat(255)).is_ok());
    }

    #[test]
    fn channel_subjects_never_fail_but_are_bounded() {
        assert_eq!(Subject::lenient("").as_str(), "(no subject)");
        assert_eq!(Subject::lenient(&"y".repeat(1000)).as_str().len(), 255);
    }

    #[test]
    fn bodies_are_required_and_bounded() {
        assert!(Body::parse(" \n").is_err());
        assert!(Body::parse(&"z".repeat(MAX_BODY_BYTES + 1)).is_err());
        assert!(Body::lenient("").is_ok());
        assert!(Body::lenient(&"z".repeat(MAX_BODY_BYTES + 1)).is_err());
    }

}
