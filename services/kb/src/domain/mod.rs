//! Articles, categories and the rules on them, without I/O: the one error enum of the service,
//! bounded inputs parsed into domain values at the edge, who may read what (`access`) and how
//! Markdown becomes safe HTML and search snippets (`render`).

pub mod access;
pub mod render;

pub use access::{Audience, Status, Visibility, may_write};
pub use render::{highlight_snippet, plain_text, render_markdown};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 200 * 1024;
/// Long enough for a question pasted whole (BANKING77's longest is 368), short enough to bound the work.
pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_SEARCH_RESULTS: u32 = 50;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_CATEGORY_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_PAGE_SIZE: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value another record already holds: the caller picks another, nothing is renamed.
    #[error("{field}: {reason}")]
    Taken { field: &'static str, reason: String },
    #[error("this call needs a caller token")]
    Unauthenticated,
    #[error("the caller may not do this")]
    PermissionDenied,
    /// An unexpected database failure: logged with its cause and a reference id, answered opaque.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Any other unexpected failure (the search index, say), with its cause chain: logged,
    /// answered opaque.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub fn invalid(field: &'static str, reason: impl Into<String>) -> KbError {
    KbError::Invalid { field, reason: reason.into() }
}

/// A required one-line text of at most `max` characters, trimmed.
fn parse_line(field: &'static str, raw: &str, max: usize) -> Result<String, KbError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(invalid(field, format!("must be at most {max} characters, without control characters")));
    }
    Ok(value.to_string())
}

pub fn parse_title(raw: &str) -> Result<String, KbError> {
    parse_line("title", raw, MAX_TITLE_CHARS)
}

pub fn parse_category_name(raw: &str) -> Result<String, KbError> {
    parse_line("name", raw, MAX_CATEGORY_NAME_CHARS)
}

/// Control characters other than tab and line breaks: NUL among them, which Postgres refuses in
/// text, so it must be stopped here rather than turn into an internal error.
fn has_stray_control(text: &str) -> bool {
    text.chars().any(|c| helpdesk_kit::text::is_stray_control(c) || c == '\u{7f}')
}

pub fn parse_description(raw: &str) -> Result<String, KbError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid("description", format!("is longer than {MAX_DESCRIPTION_CHARS} characters")));
    }
    if has_stray_control(raw) {
        return Err(invalid("description", "must not contain NUL or other control characters"));
    }
    Ok(raw.trim().to_string())
}

pub fn parse_body(raw: &str) -> Result<String, KbError> {
    if raw.len() > MAX_BODY_BYTES {
        return Err(invalid("body_markdown", format!("is larger than {MAX_BODY_BYTES} bytes")));
    }
    if has_stray_control(raw) {
        return Err(invalid("body_markdown", "must not contain NUL or other control characters"));
    }
    Ok(raw.to_string())
}

/// Tags: trimmed, empty ones dropped, duplicates removed, each and their number bounded.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, KbError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if tag.chars().count() > MAX_TAG_CHARS || tag.chars().any(char::is_control) {
            return Err(invalid("tags", format!("each tag must be at most {MAX_TAG_CHARS} characters")));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(tags)
}

/// A search or suggestion query, trimmed at the start only: a trailing space tells suggestions
/// that the last word is complete. Tabs and line breaks (a pasted question) count as spaces; NUL
/// and other control characters are refused, as the gateway refuses them.
pub fn parse_query(raw: &str) -> Result<String, KbError> {
    let query = raw.trim_start();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid("query", format!("is longer than {MAX_QUERY_CHARS} characters")));
    }
    if has_stray_control(query) {
        return Err(invalid("query", "must not contain NUL or other control characters"));
    }
    Ok(query.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
}

/// How many results: 0 means the default of 10; more than the maximum is capped.
pub fn result_limit(requested: u32) -> usize {
    match requested {
        0 => 10,
        n => n.min(MAX_SEARCH_RESULTS) as usize,
    }
}

/// The id of the article a call is about. A malformed one reads as "no such article", as in
/// identity and tickets: probing with junk ids tells nothing, and one rule holds for every service.
pub fn article_id(raw: &str) -> Result<uuid::Uuid, KbError> {
    uuid::Uuid::parse_str(raw).map_err(|_| KbError::NotFound("article"))
}

/// An optional reference to something else (a category, a page token): empty means none, and a
/// malformed one is the caller's mistake in that field.
pub fn parse_optional_id(raw: &str, field: &'static str) -> Result<Option<uuid::Uuid>, KbError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(raw.trim()).map(Some).map_err(|_| invalid(field, "is not an id"))
}

pub const MAX_SLUG_CHARS: usize = 80;

/// Whether `slug` follows the slug rule: lower-case ASCII letters and digits in words joined by
/// single hyphens, at most 80 characters — what [`slugify`] makes of a title.
pub fn is_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug.split('-').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A slug the caller chose, exactly as given or refused: a slug is part of a link, so it is never
/// changed behind the caller's back.
pub fn parse_slug(raw: &str) -> Result<String, KbError> {
    if is_slug(raw) {
        Ok(raw.to_string())
    } else {
        Err(invalid(
            "slug",
            format!("must be lower-case letters and digits in words joined by single hyphens (like reset-your-pin), at most {MAX_SLUG_CHARS} characters"),
        ))
    }
}

/// The slug rule applied to any text: lower-case ASCII words joined by `-`, at most 80
/// characters; `article` when nothing is left.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 80 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "article".into() } else { slug.to_string() }
}

/// Suggestion feedback kinds (`kb.v1.FeedbackKind` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    Impression = 1,
    Click = 2,
    Answered = 3,
}

impl FeedbackKind {
    pub fn from_number(n: i32) -> Result<Self, KbError> {
        match n {
            1 => Ok(Self::Impression),
            2 => Ok(Self::Click),
            3 => Ok(Self::Answered),
            _ => Err(invalid("kind", "must be impression, click or answered")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_and_bounded() {
        assert_eq!(slugify("How do I reset my PIN?"), "how-do-i-reset-my-pin");
        assert_eq!(slugify("¿¿??"), "article");
        assert!(slugify(&"word ".repeat(100)).len() <= 80);
    }

    #[test]
    fn slugs_are_taken_as_given_or_refused_and_slugify_makes_valid_ones() {
        assert_eq!(parse_slug("reset-your-pin-2").expect("a valid slug"), "reset-your-pin-2");
        for bad in ["", "reset-pin-", "-reset", "reset--pin", "Reset-PIN", "reset pin", "reset\0pin", "réset", &"a".repeat(81)] {
            assert!(matches!(parse_slug(bad), Err(KbError::Invalid { field: "slug", .. })), "{bad:?}");
        }
        for title in ["How do I reset my PIN?", "¿¿??", "trailing-", &"word ".repeat(100), "Ünïcödé — ok"] {
            assert!(is_slug(&slugify(title)), "{title:?} → {:?}", slugify(title));
        }
    }

    #[test]
    fn malformed_article_ids_read_as_absent_and_malformed_references_name_their_field() {
        assert!(matches!(article_id("nope"), Err(KbError::NotFound("article"))));
        assert!(matches!(article_id("\0"), Err(KbError::NotFound("article"))));
        assert!(matches!(parse_optional_id("nope", "category_id"), Err(KbError::Invalid { field: "category_id", .. })));
        assert!(matches!(parse_optional_id(" ", "category_id"), Ok(None)));
    }

    #[test]
    fn nul_and_control_characters_are_refused_before_they_reach_the_database() {
        assert!(matches!(parse_query("reset\0pin"), Err(KbError::Invalid { field: "query", .. })));
        assert!(matches!(parse_query("reset\u{1b}pin"), Err(KbError::Invalid { field: "query", .. })));
        assert_eq!(parse_query("reset\tmy\npin").expect("tabs and newlines are spaces"), "reset my pin");
        assert!(matches!(parse_body("a\0b"), Err(KbError::Invalid { field: "body_markdown", .. })));
        assert!(parse_body("line\r\n\tindented").is_ok());
        assert!(matches!(parse_description("a\0b"), Err(KbError::Invalid { field: "description", .. })));
    }

    #[test]
    fn titles_and_queries_are_bounded() {
        assert!(parse_title(" ").is_err());
        assert!(parse_title(&"t".repeat(201)).is_err());
        assert!(parse_query(&"q".repeat(501)).is_err());
        assert!(parse_query(&"q".repeat(500)).is_ok());
        assert_eq!(parse_query("  card  ").expect("valid"), "card  ");
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        let tags = parse_tags(&[" card ".into(), "".into(), "card".into(), "pin".into()]).expect("valid");
        assert_eq!(tags, vec!["card", "pin"]);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many).is_err());
        assert!(parse_tags(&["t".repeat(51)]).is_err());
    }

    #[test]
    fn result_limits_default_and_cap() {
        assert_eq!(result_limit(0), 10);
        assert_eq!(result_limit(3), 3);
        assert_eq!(result_limit(10_000), MAX_SEARCH_RESULTS as usize);
    }

    #[test]
    fn feedback_kinds_come_from_their_numbers_only() {
        assert!(matches!(FeedbackKind::from_number(3), Ok(FeedbackKind::Answered)));
        assert!(FeedbackKind::from_number(0).is_err());
        assert!(FeedbackKind::from_number(9).is_err());
    }
}
