//! The last step before a mail's text leaves the mail part: no control characters and no more
//! than the one text limit. NUL bytes (`=00` in quoted-printable) made Postgres refuse the row
//! and the mail was retried and quarantined; a cut plus its marker once exceeded tickets' limit and
//! every long mail was quarantined. The limit is `helpdesk_kit::limits`, shared with tickets.

use std::borrow::Cow;

use helpdesk_kit::text;

/// Marks where a text was cut; the whole mail stays in the archived raw mail.
pub const CUT_MARKER: &str = "\n[… cut here: the whole mail is archived with the ticket's raw mail]";

/// `text` without C0 control characters (tab, line feed and carriage return excepted) and DEL.
pub fn without_controls(text: &str) -> Cow<'_, str> {
    text::without(text, |c| text::is_stray_control(c) || c == '\u{7f}')
}

/// Cuts `text` so that it and the marker fit in `max` bytes, on a character boundary; says
/// whether it cut.
pub fn cut_to(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let end = text::prefix_within(text, max.saturating_sub(CUT_MARKER.len())).len();
    text.truncate(end);
    text.push_str(CUT_MARKER);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_go_but_tabs_and_line_ends_stay() {
        assert_eq!(without_controls("a\0b\u{1}c\u{1b}[0m\u{7f}\td\r\ne"), "abc[0m\td\r\ne");
        assert!(matches!(without_controls("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn a_long_text_is_cut_with_its_marker_inside_the_limit_on_a_character_boundary() {
        let max = helpdesk_kit::limits::MAX_MESSAGE_TEXT_BYTES;
        let mut text = "é".repeat(max);
        assert!(cut_to(&mut text, max));
        assert!(text.len() <= max, "{}", text.len());
        assert!(text.ends_with(CUT_MARKER));
        let mut exact = "x".repeat(max);
        assert!(!cut_to(&mut exact, max));
        assert_eq!(exact.len(), max);
    }
}
