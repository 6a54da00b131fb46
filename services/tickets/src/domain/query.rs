//! What a ticket list asks for — scope, queue, filters, sort, full-text search — and the keyset
//! cursor that pages through it. A cursor remembers the sort it was made for, so a page token
//! cannot be replayed against another ordering.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{TicketError, fields::FieldValue, invalid};

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;
pub const MAX_SEARCH_CHARS: usize = 200;
/// Far-future stand-in for "no due date", so tickets without one sort last and page stably.
pub const NO_DUE_DATE_MICROS: i64 = 253_402_214_400_000_000; // 9999-12-31

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    All,
    Pending,
    Completed,
    /// Agents: assigned to the caller.
    Mine,
    /// Agents: pending with no assignee.
    Unassigned,
}

/// For contacts: their own tickets, or their sharing groups' tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Own,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created = 1,
    Updated = 2,
    Due = 3,
    Priority = 4,
}

impl Sort {
    fn from_u8(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(Self::Created),
            2 => Some(Self::Updated),
            3 => Some(Self::Due),
            4 => Some(Self::Priority),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub statuses: Vec<String>,
    pub priorities: Vec<String>,
    pub categories: Vec<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub due_before: Option<DateTime<Utc>>,
    pub custom_fields: BTreeMap<String, FieldValue>,
    pub assignee: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub queue: Queue,
    pub scope: Scope,
    pub filter: Filter,
    pub sort: Sort,
    pub ascending: bool,
    pub search: Option<String>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// The last row of a page: its sort value (micros for times, the rank for priority) and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub ascending: bool,
    pub value: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("v1|{}|{}|{}|{}", self.sort as u8, u8::from(self.ascending), self.value, self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a token made for exactly this sort and direction.
    pub fn decode(token: &str, sort: Sort, ascending: bool) -> Result<Self, TicketError> {
        let bad = || invalid("page_token", "is not a token this service issued for this sort");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let parts: Vec<&str> = raw.split('|').collect();
        let [version, s, asc, value, id] = parts.as_slice() else {
            return Err(bad());
        };
        let cursor = Self {
            sort: s.parse::<u8>().ok().and_then(Sort::from_u8).ok_or_else(bad)?,
            ascending: *asc == "1",
            value: value.parse().map_err(|_| bad())?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        };
        if *version != "v1" || cursor.sort != sort || cursor.ascending != ascending {
            return Err(bad());
        }
        Ok(cursor)
    }
}

pub fn page_size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// A search string: trimmed, bounded; empty means no search.
pub fn parse_search(raw: &str) -> Result<Option<String>, TicketError> {
    let query = raw.trim();
    if query.chars().count() > MAX_SEARCH_CHARS {
        return Err(invalid("query", format!("is longer than {MAX_SEARCH_CHARS} characters")));
    }
    Ok(Some(query.to_string()).filter(|q| !q.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_for_its_own_sort_and_direction() {
        let cursor = Cursor { sort: Sort::Due, ascending: true, value: NO_DUE_DATE_MICROS, id: Uuid::new_v4() };
        let token = cursor.encode();
        assert_eq!(Cursor::decode(&token, Sort::Due, true).expect("same sort"), cursor);
        assert!(Cursor::decode(&token, Sort::Created, true).is_err());
        assert!(Cursor::decode(&token, Sort::Due, false).is_err());
        for junk in ["", "!!!", "bm9wZQ", "djF8MXwwfHh8eQ"] {
            assert!(Cursor::decode(junk, Sort::Created, false).is_err(), "{junk}");
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(10_000), MAX_PAGE_SIZE);
    }

    #[test]
    fn searches_are_trimmed_and_bounded() {
        assert_eq!(parse_search("  card  ").expect("ok"), Some("card".into()));
        assert_eq!(parse_search("   ").expect("ok"), None);
        assert!(parse_search(&"q".repeat(201)).is_err());
    }
}
