//! The ticket model and the rules on its inputs. Wire values become these types at the edge
//! (`grpc`, `events`), so the store never sees an unchecked subject, body or cursor.

use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const MAX_SUBJECT_CHARS: usize = 255;
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

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
}

fn invalid(field: &'static str, reason: impl Into<String>) -> TicketError {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Open,
    Completed,
}

impl TicketStatus {
    pub fn from_db(raw: &str) -> Self {
        if raw == "completed" { Self::Completed } else { Self::Open }
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

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub subject: String,
    pub contact_id: Uuid,
    pub channel: i16,
    pub status: TicketStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
}

/// Which tickets a list shows by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFilter {
    All,
    Pending,
    Completed,
}

/// Keyset cursor for lists ordered newest first: the last row's (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("{}|{}", self.created_at.timestamp_micros(), self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(token: &str) -> Result<Self, TicketError> {
        let bad = || invalid("page_token", "is not a token this service issued");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (micros, id) = raw.split_once('|').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

pub fn page_size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
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

    #[test]
    fn a_cursor_survives_a_round_trip_and_junk_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).expect("decodes"), cursor);
        for junk in ["", "!!!", "bm9wZQ", "MTIzfG5vdC1hLXV1aWQ"] {
            assert!(Cursor::decode(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(10_000), MAX_PAGE_SIZE);
    }
}
