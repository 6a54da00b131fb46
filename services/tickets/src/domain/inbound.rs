//! What a channel message must become before it is stored, with no database in sight: text with
//! the control characters Postgres refuses (NUL) or nobody can read removed, HTML cut to the one
//! limit and sanitized, a plain text derived from the HTML when a channel sent none, normalized
//! thread references, and the content hash that tells a second copy of a mail from another mail
//! reusing its Message-ID. Nothing here refuses input: a channel message is the customer's words
//! and is stored, cut if it must be, never lost (the whole original stays in the raw archive).

use std::borrow::Cow;

use helpdesk_kit::{
    limits::MAX_MESSAGE_HTML_BYTES,
    text::{self, prefix_within},
};
use sha2::{Digest, Sha256};

/// How many thread references are looked at: a real thread rarely has more, a hostile one could.
pub const MAX_THREAD_REFS: usize = 50;

/// Removes NUL and the other C0 control characters except tab, LF and CR. Postgres refuses NUL in
/// `text`, and the others are never meant to be shown; the rest of the text is kept as it is.
pub fn without_controls(raw: &str) -> Cow<'_, str> {
    text::without(raw, text::is_stray_control)
}

/// A channel's HTML as stored: controls removed, cut to the limit, sanitized (channels sanitize
/// already; cleaning again costs little and trusts nobody). Sanitizing can lengthen a cut text (it
/// closes the tags the cut left open), so it is cut and cleaned again until it fits. Also returns
/// whether anything was cut.
pub fn fit_html(raw: &str) -> (String, bool) {
    let raw = without_controls(raw);
    let mut cut = raw.len() > MAX_MESSAGE_HTML_BYTES;
    let mut html = ammonia::clean(prefix_within(&raw, MAX_MESSAGE_HTML_BYTES));
    for _ in 0..8 {
        if html.len() <= MAX_MESSAGE_HTML_BYTES {
            return (html, cut);
        }
        cut = true;
        let over = html.len() - MAX_MESSAGE_HTML_BYTES;
        html = ammonia::clean(prefix_within(&html, MAX_MESSAGE_HTML_BYTES.saturating_sub(over + 4096)));
    }
    // Pathological nesting: the text carries the words, the HTML is only their formatting.
    (String::new(), true)
}

/// The words of an HTML body as plain text, for a message that came with HTML only: a stored
/// message must never be empty when the mail had text.
pub fn text_of_html(html: &str) -> String {
    let mut spaced = html.to_string();
    for tag in ["<br", "<BR", "</p", "</P", "</div", "</DIV", "</li", "</LI", "</tr", "</TR", "</h", "</H"] {
        spaced = spaced.replace(tag, &format!("\n{tag}"));
    }
    let text = ammonia::Builder::empty().clean(&spaced).to_string();
    let text = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

/// The thread references as looked up and stored: no angle brackets or controls, no empties,
/// no repeats, at most [`MAX_THREAD_REFS`], in the channel's order of preference.
pub fn normalized_refs(refs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for reference in refs {
        let reference = normalized_id(reference);
        if !reference.is_empty() && !out.contains(&reference) {
            out.push(reference);
            if out.len() == MAX_THREAD_REFS {
                break;
            }
        }
    }
    out
}

/// A message id as compared with references: trimmed, without `<…>` or control characters.
pub fn normalized_id(id: &str) -> String {
    without_controls(id).trim().trim_matches(['<', '>']).trim().to_string()
}

/// What makes two messages with one external id the same message: who sent it, its subject and
/// its text. The same mail read twice, or from two mailboxes, hashes alike; another mail that
/// reuses the Message-ID (a careless mailer, a spammer) does not.
pub fn content_hash(sender: &str, subject: &str, text: &str) -> String {
    let mut hash = Sha256::new();
    for part in [sender.trim().to_lowercase().as_str(), subject.trim(), text.trim()] {
        hash.update(without_controls(part).as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_c0_controls_go_but_tab_and_line_breaks_stay() {
        assert_eq!(without_controls("a\0b\x07c\td\r\ne\x1b"), "abc\td\r\ne");
        assert!(matches!(without_controls("plain text, é"), Cow::Borrowed(_)));
    }

    #[test]
    fn over_long_html_is_cut_sanitized_and_fits() {
        let raw = format!("<div><p>{}</p><script>x</script>\0", "<b>word</b> ".repeat(40_000));
        let (html, cut) = fit_html(&raw);
        assert!(cut);
        assert!(html.len() <= MAX_MESSAGE_HTML_BYTES && html.starts_with("<div><p><b>word</b>"));
        assert!(!html.contains('\0') && !html.contains("script"));
        assert_eq!(fit_html("<p>short</p>"), ("<p>short</p>".to_string(), false));
    }

    #[test]
    fn html_only_messages_get_their_words_as_text() {
        let text = text_of_html("<html><style>p{}</style><p>Hello&nbsp;there,</p><p>the printer &amp; the fax<br>are down</p></html>");
        assert_eq!(text, "Hello there,\nthe printer & the fax\nare down");
        assert_eq!(text_of_html("<img src=x>"), "");
    }

    #[test]
    fn references_are_normalized_in_order_without_repeats() {
        let refs = ["<b@x>".to_string(), " a@x ".into(), "<>".into(), "b@x".into(), "c\0@x".into()];
        assert_eq!(normalized_refs(&refs), vec!["b@x", "a@x", "c@x"]);
    }

    #[test]
    fn the_same_mail_hashes_alike_and_another_does_not() {
        let one = content_hash("Ann@Example.org", "Printer", "It is on fire");
        assert_eq!(one, content_hash("ann@example.org ", "Printer", "It is on fire\n"));
        assert_ne!(one, content_hash("mallory@example.org", "Printer", "It is on fire"));
        assert_ne!(one, content_hash("ann@example.org", "Printer", "Buy pills"));
        assert_eq!(one.len(), 32);
    }
}
