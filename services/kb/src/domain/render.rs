//! Markdown → HTML that is safe to show (rendered by pulldown-cmark, then cleaned by ammonia, so raw
//! HTML, `<script>` and `javascript:` links in an article never reach a browser), Markdown → plain
//! text for the search index, and search snippets: a window of plain text, escaped, with only the
//! matched words wrapped in `<mark>` — the one piece of markup a snippet may carry.

use std::ops::Range;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

pub fn render_markdown(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::clean(&html)
}

/// The words of a Markdown document without its markup; raw HTML is dropped entirely (it is not
/// shown either, after sanitizing), blocks are separated by newlines.
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableCell) => {
                text.push('\n')
            }
            Event::Start(Tag::Item) => {}
            _ => {}
        }
    }
    text.trim().to_string()
}

/// `text` as snippet text: escaped, lines joined, control characters dropped.
#[cfg(test)]
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The ranges that can be marked: non-empty, inside `text`, on character boundaries, in order and
/// disjoint. The index's matches always are; checking here keeps the snippet total on any input.
fn usable(text: &str, matches: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = matches
        .iter()
        .filter(|m| m.start < m.end && m.end <= text.len() && text.is_char_boundary(m.start) && text.is_char_boundary(m.end))
        .cloned()
        .collect();
    ranges.sort_by_key(|m| m.start);
    ranges.dedup_by(|later, kept| later.start < kept.end);
    ranges
}

/// An escaped excerpt of about `max_bytes` of `text` around the densest run of `matches` (byte
/// ranges of matched words), with those words in `<mark>`. Without matches it is the start of the
/// text. Every cut is on a character boundary: whitespace and letters may be several bytes long.
pub fn highlight_snippet(text: &str, matches: &[Range<usize>], max_bytes: usize) -> String {
    let matches = usable(text, matches);
    // The window starts at the match that has the most other matches within `max_bytes` after it.
    let best = (0..matches.len())
        .max_by_key(|&i| {
            let end = matches[i].start + max_bytes;
            (matches[i..].iter().take_while(|m| m.end <= end).count(), usize::MAX - i)
        })
        .map(|i| matches[i].start)
        .unwrap_or(0);
    // Back up a little so the first match has some context, to just after a whitespace character.
    let mut start = floor_char(text, best.saturating_sub(max_bytes / 5));
    if start > 0 {
        start = text[start..best]
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| start + i + c.len_utf8())
            .unwrap_or(best);
    }
    let mut end = floor_char(text, start + max_bytes);
    if end < text.len() {
        end = text[start..end].rfind(char::is_whitespace).map(|i| start + i).filter(|&e| e > start).unwrap_or(end);
    }
    let mut out = String::with_capacity(max_bytes + 64);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for m in matches.iter().filter(|m| m.start >= start && m.end <= end) {
        escape_into(&mut out, &text[at..m.start]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[m.start..m.end]);
        out.push_str("</mark>");
        at = m.end;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_but_scripts_and_javascript_links_do_not_survive() {
        let html = render_markdown("# Reset\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) **bold**");
        assert!(html.contains("<h1>Reset</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn plain_text_keeps_words_and_drops_markup_and_raw_html() {
        let text = plain_text("# Reset your PIN\n\nOpen **Settings** <script>x()</script> then [tap](http://a) `PIN`.");
        assert!(text.starts_with("Reset your PIN\n"), "{text}");
        assert!(text.contains("Open Settings"), "{text}");
        assert!(text.contains("then tap PIN."), "{text}");
        assert!(!text.contains("script") && !text.contains('*') && !text.contains("http"), "{text}");
    }

    #[test]
    fn snippets_escape_everything_but_the_match_marks() {
        let text = "a <b> card & \"x\"";
        assert_eq!(highlight_snippet(text, &[Range { start: 6, end: 10 }], 200), "a &lt;b&gt; <mark>card</mark> &amp; &quot;x&quot;");
    }

    #[test]
    fn snippets_centre_on_the_densest_matches_and_mark_their_ellipsis() {
        let text = format!("{} refund policy refund {}", "filler ".repeat(50), "tail ".repeat(50));
        let first = text.find("refund").expect("present");
        let second = text.rfind("refund").expect("present");
        let snippet = highlight_snippet(&text, &[first..first + 6, second..second + 6], 80);
        assert!(snippet.starts_with('…') && snippet.ends_with('…'), "{snippet}");
        assert_eq!(snippet.matches("<mark>refund</mark>").count(), 2, "{snippet}");
        assert!(snippet.len() < 140, "{snippet}");
    }

    #[test]
    fn snippets_back_up_over_multi_byte_whitespace_without_splitting_it() {
        // U+00A0, U+3000 and U+2003 are whitespace of two and three bytes: the window's start
        // moves to just after one, never into it.
        for space in ['\u{a0}', '\u{3000}', '\u{2003}'] {
            let text = format!("{}{space}refund{space}policy", "x".repeat(30));
            let at = text.find("refund").expect("present");
            let snippet = highlight_snippet(&text, &[Range { start: at, end: at + 6 }], 60);
            assert!(snippet.contains("<mark>refund</mark>"), "{snippet:?}");
        }
    }

    #[test]
    fn snippets_without_matches_are_the_start_and_never_split_a_character() {
        let text = "é".repeat(100);
        let snippet = highlight_snippet(&text, &[], 51);
        assert!(snippet.starts_with('é') && snippet.ends_with('…'), "{snippet}");
    }
}
