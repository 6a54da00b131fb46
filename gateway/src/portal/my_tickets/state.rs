//! My Tickets' list state and its URL: everything the list shows — queue, scope, category,
//! filters, sort, search and page — lives in the query string (`/tickets?queue=…&sort=…`), so a
//! link, Back and reload all give the same list. [`ListState::parse`] never fails: a parameter
//! it cannot use is dropped and named in [`Parsed::ignored`], which the page shows as a notice;
//! every link the page offers is built from the state by [`ListState::href`], so it carries only
//! parameters that were understood.
//!
//! Pages are the tickets service's keyset cursors (`after`). The service only pages forward, so
//! "Previous" needs the cursors of the pages before: `back` carries them (`0` is the first page),
//! at most [`MAX_TRAIL`] of them. A page reached without that trail (a hand-made or very deep
//! link) offers "First page" but no "Previous" — never a wrong one.

use chrono::{NaiveDate, NaiveTime};
use form_urlencoded::Serializer;
use helpdesk_proto::tickets::v1 as pb;

use crate::api::tickets::{queue_named, sort_named};

/// The queues, in the order the page lists them (the first is the default).
pub const QUEUES: [&str; 3] = ["pending", "completed", "all"];
/// The sortable columns.
pub const SORTS: [&str; 4] = ["created", "updated", "due", "priority"];
/// How many earlier pages "Previous" can walk back through.
pub const MAX_TRAIL: usize = 20;
/// The first page's entry in `back`.
const FIRST: &str = "0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Mine,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    /// One of [`QUEUES`].
    pub queue: &'static str,
    pub scope: Scope,
    /// A ticket category's id; empty for every category.
    pub category: String,
    pub status: String,
    pub priority: String,
    pub created_from: Option<NaiveDate>,
    pub created_to: Option<NaiveDate>,
    pub due_from: Option<NaiveDate>,
    pub due_to: Option<NaiveDate>,
    /// One of [`SORTS`].
    pub sort: &'static str,
    pub ascending: bool,
    pub q: String,
    /// This page's cursor; empty on the first page.
    pub after: String,
    /// The cursors of the pages before this one, oldest first.
    pub back: Vec<String>,
}

impl Default for ListState {
    fn default() -> Self {
        Self {
            queue: QUEUES[0],
            scope: Scope::Mine,
            category: String::new(),
            status: String::new(),
            priority: String::new(),
            created_from: None,
            created_to: None,
            due_from: None,
            due_to: None,
            sort: SORTS[0],
            ascending: false,
            q: String::new(),
            after: String::new(),
            back: Vec::new(),
        }
    }
}

/// A parsed query string and the parameters it had to drop (by their URL names).
#[derive(Debug, Default)]
pub struct Parsed {
    pub state: ListState,
    pub ignored: Vec<&'static str>,
}

/// A keyset cursor as the tickets service writes them (URL-safe base64), or the first page's
/// marker: anything else never reaches the service.
fn is_cursor(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 256 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An id as the services write them (UUIDs, slugs such as `in_progress`): short, plain characters.
fn is_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn one_of(names: &[&'static str], raw: &str) -> Option<&'static str> {
    names.iter().copied().find(|n| *n == raw)
}

impl ListState {
    /// Reads `/tickets?…`; the last value of a repeated parameter wins, empty values mean "not set".
    pub fn parse(query: Option<&str>) -> Parsed {
        let mut parsed = Parsed::default();
        let (state, ignored) = (&mut parsed.state, &mut parsed.ignored);
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.trim();
            let Some(name) = PARAMS.iter().copied().find(|p| *p == key) else { continue };
            ignored.retain(|i| *i != name);
            if value.is_empty() && name != "q" {
                continue;
            }
            let understood = match name {
                "queue" => one_of(&QUEUES, value).map(|q| state.queue = q).is_some(),
                "scope" => match value {
                    "mine" => Some(Scope::Mine),
                    "group" => Some(Scope::Group),
                    _ => None,
                }
                .map(|s| state.scope = s)
                .is_some(),
                "category" => is_id(value) && set(&mut state.category, value),
                "status" => is_id(value) && set(&mut state.status, value),
                "priority" => is_id(value) && set(&mut state.priority, value),
                "created_from" => date(value).map(|d| state.created_from = Some(d)).is_some(),
                "created_to" => date(value).map(|d| state.created_to = Some(d)).is_some(),
                "due_from" => date(value).map(|d| state.due_from = Some(d)).is_some(),
                "due_to" => date(value).map(|d| state.due_to = Some(d)).is_some(),
                "sort" => one_of(&SORTS, value).map(|s| state.sort = s).is_some(),
                "dir" => match value {
                    "asc" => Some(true),
                    "desc" => Some(false),
                    _ => None,
                }
                .map(|a| state.ascending = a)
                .is_some(),
                "q" => !value.chars().any(helpdesk_kit::text::is_stray_control) && set(&mut state.q, value),
                "after" => is_cursor(value) && set(&mut state.after, value),
                "back" => {
                    let trail: Vec<String> = value.split('.').map(str::to_string).collect();
                    let fine = trail.len() <= MAX_TRAIL && trail.iter().all(|c| c == FIRST || is_cursor(c));
                    if fine {
                        state.back = trail;
                    }
                    fine
                }
                _ => true,
            };
            if !understood {
                ignored.push(name);
            }
        }
        if state.after.is_empty() && !state.back.is_empty() {
            // A trail without a page to be on: nothing to go back from.
            state.back.clear();
        }
        parsed
    }

    /// The page's URL for this state: `/tickets?queue=pending&…`, without the defaults.
    pub fn href(&self) -> String {
        let mut query = Serializer::new(String::new());
        query.append_pair("queue", self.queue);
        if self.scope == Scope::Group {
            query.append_pair("scope", "group");
        }
        let texts = [("category", &self.category), ("status", &self.status), ("priority", &self.priority)];
        for (name, value) in texts {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        let dates = [
            ("created_from", self.created_from),
            ("created_to", self.created_to),
            ("due_from", self.due_from),
            ("due_to", self.due_to),
        ];
        for (name, value) in dates {
            if let Some(date) = value {
                query.append_pair(name, &date.format("%Y-%m-%d").to_string());
            }
        }
        if self.sort != SORTS[0] || self.ascending {
            query.append_pair("sort", self.sort);
            query.append_pair("dir", self.dir());
        }
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if !self.after.is_empty() {
            query.append_pair("after", &self.after);
            if !self.back.is_empty() {
                query.append_pair("back", &self.back.join("."));
            }
        }
        format!("/tickets?{}", query.finish())
    }

    pub fn dir(&self) -> &'static str {
        if self.ascending { "asc" } else { "desc" }
    }

    fn first(&self) -> Self {
        Self { after: String::new(), back: Vec::new(), ..self.clone() }
    }

    /// The same list on another queue (from its first page).
    pub fn with_queue(&self, queue: &'static str) -> String {
        Self { queue, ..self.first() }.href()
    }

    pub fn with_scope(&self, group: bool) -> String {
        Self { scope: if group { Scope::Group } else { Scope::Mine }, ..self.first() }.href()
    }

    /// The same list in one category (`""`: every category).
    pub fn with_category(&self, category: &str) -> String {
        Self { category: category.to_string(), ..self.first() }.href()
    }

    /// A column header's link: the sorted column flips its direction; another column starts in
    /// its natural one (soonest due first, otherwise newest or most urgent first).
    pub fn sorted_by(&self, sort: &'static str) -> String {
        let ascending = if self.sort == sort { !self.ascending } else { sort == "due" };
        Self { sort, ascending, ..self.first() }.href()
    }

    /// `aria-sort` for a column: `ascending`/`descending` on the sorted one, else empty.
    pub fn aria_sort(&self, sort: &str) -> &'static str {
        match (self.sort == sort, self.ascending) {
            (false, _) => "",
            (true, true) => "ascending",
            (true, false) => "descending",
        }
    }

    /// Search and filters cleared; queue, scope, category and sort kept.
    pub fn cleared(&self) -> String {
        Self { queue: self.queue, scope: self.scope, category: self.category.clone(), sort: self.sort, ascending: self.ascending, ..Self::default() }
            .href()
    }

    pub fn filtered(&self) -> bool {
        !self.q.is_empty()
            || !self.status.is_empty()
            || !self.priority.is_empty()
            || [self.created_from, self.created_to, self.due_from, self.due_to].iter().any(Option::is_some)
    }

    pub fn on_first_page(&self) -> bool {
        self.after.is_empty()
    }

    pub fn first_page(&self) -> String {
        self.first().href()
    }

    /// The page after this one, given the service's `next_page_token`.
    pub fn next_page(&self, token: &str) -> String {
        let mut back = self.back.clone();
        back.push(if self.after.is_empty() { FIRST.to_string() } else { self.after.clone() });
        let skip = back.len().saturating_sub(MAX_TRAIL);
        Self { after: token.to_string(), back: back.split_off(skip), ..self.clone() }.href()
    }

    /// The page before this one, when the trail knows it.
    pub fn previous_page(&self) -> Option<String> {
        let mut back = self.back.clone();
        let previous = back.pop()?;
        if previous == FIRST {
            return Some(self.first_page());
        }
        Some(Self { after: previous, back, ..self.clone() }.href())
    }

    /// The date fields as the form shows them (`YYYY-MM-DD`, or empty).
    pub fn date_value(&self, name: &str) -> String {
        let value = match name {
            "created_from" => self.created_from,
            "created_to" => self.created_to,
            "due_from" => self.due_from,
            "due_to" => self.due_to,
            _ => None,
        };
        value.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
    }

    /// The tickets service's request for this page. Dates are whole days in UTC (the server
    /// does not know the reader's zone): `created_to=2026-05-01` includes all of that day.
    pub fn request(&self, page_size: u32) -> pb::ListTicketsRequest {
        let filter = pb::TicketFilter {
            status_ids: non_empty(&self.status),
            priority_ids: non_empty(&self.priority),
            category_ids: non_empty(&self.category),
            created_after: self.created_from.map(start_of),
            created_before: self.created_to.and_then(|d| d.succ_opt()).map(start_of),
            due_after: self.due_from.map(start_of),
            due_before: self.due_to.and_then(|d| d.succ_opt()).map(start_of),
            ..Default::default()
        };
        pb::ListTicketsRequest {
            queue: queue_named(self.queue).unwrap_or(pb::Queue::Pending) as i32,
            scope: self.pb_scope() as i32,
            filter: Some(filter),
            sort: sort_named(self.sort).unwrap_or(pb::SortField::Created) as i32,
            ascending: self.ascending,
            query: self.q.clone(),
            page_size,
            page_token: self.after.clone(),
        }
    }

    pub fn pb_scope(&self) -> pb::Scope {
        match self.scope {
            Scope::Mine => pb::Scope::Own,
            Scope::Group => pb::Scope::Group,
        }
    }

    /// Drops a parameter the services refused or that names nothing (by its URL name).
    pub fn forget(&mut self, name: &str) {
        match name {
            "scope" => self.scope = Scope::Mine,
            "category" => self.category.clear(),
            "status" => self.status.clear(),
            "priority" => self.priority.clear(),
            "q" => self.q.clear(),
            "after" => {
                self.after.clear();
                self.back.clear();
            }
            _ => {}
        }
    }
}

/// The parameters the page reads, by their URL names.
const PARAMS: [&str; 14] = [
    "queue", "scope", "category", "status", "priority", "created_from", "created_to", "due_from", "due_to", "sort", "dir",
    "q", "after", "back",
];

fn set(field: &mut String, value: &str) -> bool {
    *field = value.to_string();
    true
}

fn date(raw: &str) -> Option<NaiveDate> {
    // Four-digit years only: `+275760-01-01` parses but is no date anyone files a ticket on.
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().filter(|_| raw.len() == 10)
}

fn start_of(day: NaiveDate) -> prost_types::Timestamp {
    helpdesk_kit::events::timestamp(day.and_time(NaiveTime::MIN).and_utc())
}

fn non_empty(raw: &str) -> Vec<String> {
    if raw.is_empty() { Vec::new() } else { vec![raw.to_string()] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Parsed {
        ListState::parse(Some(query))
    }

    #[test]
    fn an_empty_query_is_the_pending_queue_newest_first() {
        let parsed = ListState::parse(None);
        assert_eq!(parsed.state, ListState::default());
        assert!(parsed.ignored.is_empty());
        assert_eq!(parsed.state.href(), "/tickets?queue=pending");
    }

    #[test]
    fn every_parameter_survives_a_round_trip_through_the_url() {
        let query = "queue=all&scope=group&category=6f1c&status=waiting&priority=high&created_from=2026-01-02\
                     &created_to=2026-02-03&due_from=2026-03-04&due_to=2026-04-05&sort=due&dir=asc&q=a+b%26c&after=abc_-1&back=0.xyz";
        let parsed = parse(query);
        assert!(parsed.ignored.is_empty(), "{:?}", parsed.ignored);
        let again = parse(parsed.state.href().trim_start_matches("/tickets?"));
        assert_eq!(again.state, parsed.state);
        assert_eq!(again.state.q, "a b&c");
        assert_eq!(again.state.back, ["0", "xyz"]);
    }

    #[test]
    fn parameters_that_mean_nothing_are_dropped_and_named() {
        let parsed = parse("queue=closed&sort=colour&dir=up&created_from=2026-13-01&due_to=yesterday&after=%3Cscript%3E&status=a%20b&scope=all");
        assert_eq!(parsed.state.queue, "pending");
        assert_eq!(parsed.state.sort, "created");
        assert!(parsed.state.after.is_empty() && parsed.state.created_from.is_none() && parsed.state.status.is_empty());
        assert_eq!(parsed.ignored, ["queue", "sort", "dir", "created_from", "due_to", "after", "status", "scope"]);
        assert_eq!(parsed.state.href(), "/tickets?queue=pending");
        // Empty values are "not set", not mistakes; a later good value replaces an earlier bad one.
        let parsed = parse("status=&created_from=&sort=x&sort=due&unknown=1");
        assert!(parsed.ignored.is_empty(), "{:?}", parsed.ignored);
        assert_eq!(parsed.state.sort, "due");
        assert!(parse("created_from=+275760-01-01").ignored == ["created_from"]);
        assert!(parse("q=a%00b").ignored == ["q"]);
    }

    #[test]
    fn header_links_flip_the_sorted_column_and_start_others_in_their_natural_direction() {
        let state = parse("queue=all&after=abc&back=0").state;
        assert_eq!(state.aria_sort("created"), "descending");
        assert_eq!(state.aria_sort("due"), "");
        assert_eq!(state.sorted_by("created"), "/tickets?queue=all&sort=created&dir=asc");
        assert_eq!(state.sorted_by("due"), "/tickets?queue=all&sort=due&dir=asc");
        assert_eq!(state.sorted_by("priority"), "/tickets?queue=all&sort=priority&dir=desc");
        let ascending = parse("sort=created&dir=asc").state;
        assert_eq!(ascending.aria_sort("created"), "ascending");
        assert_eq!(ascending.sorted_by("created"), "/tickets?queue=pending");
    }

    #[test]
    fn navigation_links_change_one_thing_and_start_from_the_first_page() {
        let state = parse("queue=completed&category=c1&q=vpn&sort=updated&dir=desc&after=abc&back=0").state;
        assert_eq!(state.with_queue("all"), "/tickets?queue=all&category=c1&sort=updated&dir=desc&q=vpn");
        assert_eq!(state.with_category(""), "/tickets?queue=completed&sort=updated&dir=desc&q=vpn");
        assert_eq!(state.with_scope(true), "/tickets?queue=completed&scope=group&category=c1&sort=updated&dir=desc&q=vpn");
        assert_eq!(state.cleared(), "/tickets?queue=completed&category=c1&sort=updated&dir=desc");
        assert!(state.filtered() && !parse("category=c1").state.filtered());
    }

    #[test]
    fn pages_walk_forward_and_back_through_the_trail() {
        let first = ListState::default();
        assert!(first.on_first_page() && first.previous_page().is_none());
        let second = parse(first.next_page("t1").trim_start_matches("/tickets?")).state;
        assert_eq!((second.after.as_str(), second.back.clone()), ("t1", vec!["0".to_string()]));
        assert_eq!(second.previous_page().as_deref(), Some("/tickets?queue=pending"));
        let third = parse(second.next_page("t2").trim_start_matches("/tickets?")).state;
        assert_eq!(third.back, ["0", "t1"]);
        assert_eq!(third.previous_page().as_deref(), Some("/tickets?queue=pending&after=t1&back=0"));
        assert_eq!(third.first_page(), "/tickets?queue=pending");
        // A page reached without its trail offers no Previous (it could only guess).
        assert!(parse("after=t9").state.previous_page().is_none());
        // The trail is bounded: the oldest pages fall off.
        let mut deep = ListState { after: "t".into(), back: (0..MAX_TRAIL).map(|i| format!("c{i}")).collect(), ..first };
        deep = parse(deep.next_page("u").trim_start_matches("/tickets?")).state;
        assert_eq!(deep.back.len(), MAX_TRAIL);
        assert_eq!(deep.back.last().map(String::as_str), Some("t"));
        assert!(parse("back=0").state.back.is_empty(), "a trail without a page is dropped");
    }

    #[test]
    fn dates_are_whole_utc_days_in_the_request() {
        let state = parse("created_from=2026-05-01&created_to=2026-05-01&due_to=2026-12-31&status=open&sort=priority&dir=asc").state;
        let request = state.request(25);
        let filter = request.filter.expect("filter");
        let day = 86_400;
        let from = filter.created_after.expect("from").seconds;
        assert_eq!(filter.created_before.expect("to").seconds - from, day, "the whole of the last day is in");
        assert_eq!(from % day, 0, "midnight UTC");
        assert_eq!(filter.status_ids, ["open"]);
        assert!(filter.priority_ids.is_empty() && filter.due_after.is_none());
        assert_eq!(request.sort, pb::SortField::Priority as i32);
        assert!(request.ascending);
        assert_eq!(request.queue, pb::Queue::Pending as i32);
    }
}
