//! Articles and the rules on them: what each caller may read, how a title becomes a slug, and how
//! Markdown becomes HTML that is safe to show (rendered by pulldown-cmark, then cleaned by ammonia,
//! so raw HTML, `<script>` and `javascript:` links in an article never reach a browser).

use helpdesk_kit::auth::Caller;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 200 * 1024;
pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_SEARCH_RESULTS: u32 = 50;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KbError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("article not found")]
    NotFound,
    #[error("this call needs a caller token")]
    Unauthenticated,
    #[error("the caller may not do this")]
    PermissionDenied,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> KbError {
    KbError::Invalid { field, reason: reason.into() }
}

/// `kb.v1.ArticleStatus` numbers.
pub const DRAFT: i16 = 1;
pub const PUBLISHED: i16 = 2;
/// `kb.v1.Visibility` numbers.
pub const PUBLIC: i16 = 1;
pub const SIGNED_IN: i16 = 2;
pub const INTERNAL: i16 = 3;

/// The statuses and visibilities a caller may read: anonymous callers published public articles,
/// contacts also signed-in ones, staff and services everything including drafts.
pub fn readable_by(caller: &Caller) -> (Vec<i16>, Vec<i16>) {
    match caller {
        Caller::Anonymous => (vec![PUBLISHED], vec![PUBLIC]),
        Caller::Contact { .. } => (vec![PUBLISHED], vec![PUBLIC, SIGNED_IN]),
        Caller::Staff { .. } | Caller::Service { .. } => (vec![DRAFT, PUBLISHED], vec![PUBLIC, SIGNED_IN, INTERNAL]),
    }
}

pub fn may_write(caller: &Caller) -> Result<(), KbError> {
    match caller {
        Caller::Anonymous => Err(KbError::Unauthenticated),
        Caller::Contact { .. } => Err(KbError::PermissionDenied),
        Caller::Staff { .. } | Caller::Service { .. } => Ok(()),
    }
}

pub fn parse_title(raw: &str) -> Result<String, KbError> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(invalid("title", "is required"));
    }
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(invalid("title", format!("must be at most {MAX_TITLE_CHARS} characters, without control characters")));
    }
    Ok(title.to_string())
}

pub fn parse_body(raw: &str) -> Result<String, KbError> {
    if raw.len() > MAX_BODY_BYTES {
        return Err(invalid("body_markdown", format!("is larger than {MAX_BODY_BYTES} bytes")));
    }
    Ok(raw.to_string())
}

pub fn parse_query(raw: &str) -> Result<String, KbError> {
    let query = raw.trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid("query", format!("is longer than {MAX_QUERY_CHARS} characters")));
    }
    Ok(query.to_string())
}

/// Lower-case ASCII words joined by `-`, at most 80 characters; `article` when nothing is left.
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

/// Markdown → sanitized HTML.
pub fn render_markdown(markdown: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::clean(&html)
}

/// A search snippet from Postgres' `ts_headline` run with `\u{1}`/`\u{2}` as match markers:
/// everything is HTML-escaped, then the markers become `<mark>` tags.
pub fn snippet_html(marked: &str) -> String {
    let mut out = String::with_capacity(marked.len() + 16);
    for c in marked.chars() {
        match c {
            '\u{1}' => out.push_str("<mark>"),
            '\u{2}' => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn markdown_renders_but_scripts_and_javascript_links_do_not_survive() {
        let html = render_markdown("# Reset\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) **bold**");
        assert!(html.contains("<h1>Reset</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn snippets_escape_everything_but_the_match_marks() {
        assert_eq!(
            snippet_html("a <b> \u{1}card\u{2} & \"x\""),
            "a &lt;b&gt; <mark>card</mark> &amp; &quot;x&quot;"
        );
    }

    #[test]
    fn slugs_are_plain_and_bounded() {
        assert_eq!(slugify("How do I reset my PIN?"), "how-do-i-reset-my-pin");
        assert_eq!(slugify("¿¿??"), "article");
        assert!(slugify(&"word ".repeat(100)).len() <= 80);
    }

    #[test]
    fn each_caller_reads_only_what_its_kind_may() {
        let (statuses, visibilities) = readable_by(&Caller::Anonymous);
        assert_eq!((statuses, visibilities), (vec![PUBLISHED], vec![PUBLIC]));
        let (statuses, visibilities) = readable_by(&Caller::Contact { id: Uuid::new_v4() });
        assert_eq!((statuses, visibilities), (vec![PUBLISHED], vec![PUBLIC, SIGNED_IN]));
        let (statuses, visibilities) = readable_by(&Caller::Service { name: "cli".into() });
        assert!(statuses.contains(&DRAFT) && visibilities.contains(&INTERNAL));
    }

    #[test]
    fn only_staff_and_services_write() {
        assert_eq!(may_write(&Caller::Anonymous), Err(KbError::Unauthenticated));
        assert_eq!(may_write(&Caller::Contact { id: Uuid::new_v4() }), Err(KbError::PermissionDenied));
        assert!(may_write(&Caller::Service { name: "cli".into() }).is_ok());
    }

    #[test]
    fn titles_and_queries_are_bounded() {
        assert!(parse_title(" ").is_err());
        assert!(parse_title(&"t".repeat(201)).is_err());
        assert!(parse_query(&"q".repeat(201)).is_err());
        assert_eq!(parse_query("  card  ").expect("valid"), "card");
    }
}
