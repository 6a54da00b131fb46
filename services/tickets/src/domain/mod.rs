//! The ticket model and the rules on its inputs. Wire values become these types at the edge
//! (`grpc`, `events`), so the store never sees an unchecked subject, body, field value or cursor.
//!
//! - `attachments`: upload limits, file names and the sniffed content type;
//! - `fields`: custom-field definitions and value validation;
//! - `inbound`: what a channel message becomes before it is stored (controls, limits, hashes);
//! - `query`: what a ticket list asks for (scope, queue, filters, sort, search) and its cursor;
//! - `time`: the group support-time ledger's arithmetic and alert states.
//! - `threading`: email threading rules that need no database (ticket numbers in subjects).

pub mod attachments;
pub mod fields;
pub mod inbound;
pub mod query;
pub mod threading;
pub mod time;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const MAX_SUBJECT_CHARS: usize = 255;
pub const MAX_BODY_BYTES: usize = helpdesk_kit::limits::MAX_MESSAGE_TEXT_BYTES;
/// Ends a channel message's text that was cut at [`MAX_BODY_BYTES`].
pub const CUT_MARKER: &str = "\n\n[… text cut at 256 KiB; the whole message is in the raw original]";

#[derive(Debug, thiserror::Error)]
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
    /// An unexpected database failure: logged with its cause and a reference id, answered opaque.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Any other unexpected failure, with its cause chain: logged, answered opaque.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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

/// Characters that change how text is shown without showing themselves: bidirectional embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069), zero-width spaces, joiners and marks
/// (U+200B–U+200F), the word joiner (U+2060) and the byte-order mark (U+FEFF). In a subject or a
/// file name they only serve to disguise it: `invoice\u{202E}gnp.exe` shows as `invoiceexe.png`.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}')
}

/// A ticket subject: trimmed, control characters turned into spaces, invisible formatting
/// characters ([`is_invisible_format`]) removed, 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    fn cleaned(raw: &str) -> String {
        raw.chars()
            .filter(|c| !is_invisible_format(*c))
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    pub fn parse(raw: &str) -> Result<Self, TicketError> {
        let cleaned = Self::cleaned(raw);
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
            let cut: String = Self::cleaned(raw)
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

    /// For channel messages, which are stored whatever they hold: NUL and the other C0 controls
    /// removed (Postgres refuses NUL), empty allowed (a mail with only a subject), and a text over
    /// the one limit cut on a character boundary with [`CUT_MARKER`], the marker within the limit.
    /// Also returns whether it was cut; the whole message stays in the channel's raw original.
    pub fn lenient(raw: &str) -> (Self, bool) {
        let text = inbound::without_controls(raw);
        if text.len() <= MAX_BODY_BYTES {
            return (Self(text.into_owned()), false);
        }
        let kept = helpdesk_kit::text::prefix_within(&text, MAX_BODY_BYTES - CUT_MARKER.len());
        (Self(format!("{kept}{CUT_MARKER}")), true)
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
    fn bidirectional_overrides_and_zero_width_characters_are_removed_from_subjects() {
        assert_eq!(Subject::parse("invoice\u{202E}gnp.exe").expect("valid").as_str(), "invoicegnp.exe");
        let disguised = "\u{FEFF}Pass\u{200B}word\u{2060} re\u{200D}set \u{2066}now\u{2069}\u{200E}";
        assert_eq!(Subject::parse(disguised).expect("valid").as_str(), "Password reset now");
        assert_eq!(Subject::lenient("\u{202A}\u{202B}\u{202C}\u{202D}").as_str(), "(no subject)");
        assert!(Subject::parse("\u{200B}\u{200C}").is_err(), "nothing visible is no subject");
        // Right-to-left text itself stays; only the invisible controls go.
        assert_eq!(Subject::parse("שלום \u{202B}עולם\u{202C}").expect("valid").as_str(), "שלום עולם");
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
    }

    #[test]
    fn channel_bodies_are_never_refused_but_cut_to_the_one_limit_marker_included() {
        assert_eq!(Body::lenient(""), (Body(String::new()), false));
        assert_eq!(Body::lenient("a\0b\x01c\n").0.as_str(), "abc\n");
        let exact = "z".repeat(MAX_BODY_BYTES);
        assert_eq!(Body::lenient(&exact), (Body(exact.clone()), false));
        // Multi-byte characters across the cut: the text stays valid UTF-8 and within the limit.
        let (body, cut) = Body::lenient(&"é".repeat(MAX_BODY_BYTES));
        assert!(cut);
        assert!(body.as_str().len() <= MAX_BODY_BYTES && body.as_str().ends_with(CUT_MARKER));
        assert!(body.as_str().trim_end_matches(CUT_MARKER).chars().all(|c| c == 'é'));
    }

}
