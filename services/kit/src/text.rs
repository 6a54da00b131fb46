//! The text rules every part applies to what people and channels send: which control characters
//! have no place in a help desk's text (NUL among them, which Postgres refuses in `text`), and how a
//! text is cut to a byte limit without splitting a character. One definition, so the gateway (which
//! refuses), the channels and tickets (which strip) and kb (which refuses) agree.

use std::borrow::Cow;

/// A C0 control character other than tab, line feed and carriage return (U+0000–U+001F).
pub fn is_stray_control(c: char) -> bool {
    c <= '\u{1f}' && !matches!(c, '\t' | '\n' | '\r')
}

/// `text` without the characters `unwanted` picks; borrowed when there are none.
pub fn without(text: &str, unwanted: impl Fn(char) -> bool + Copy) -> Cow<'_, str> {
    if text.contains(unwanted) { Cow::Owned(text.replace(unwanted, "")) } else { Cow::Borrowed(text) }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn prefix_within(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_c0_controls_other_than_tab_and_line_breaks_are_stray() {
        for c in ['\0', '\u{1}', '\u{7}', '\u{1b}', '\u{1f}'] {
            assert!(is_stray_control(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', ' ', 'é', '\u{7f}', '\u{a0}'] {
            assert!(!is_stray_control(c), "{c:?}");
        }
    }

    #[test]
    fn stripping_borrows_when_nothing_goes() {
        assert_eq!(without("a\0b\u{7}c\td", is_stray_control), "abc\td");
        assert!(matches!(without("plain, é", is_stray_control), Cow::Borrowed(_)));
    }

    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(prefix_within("éé", 3), "é");
        assert_eq!(prefix_within("abc", 10), "abc");
        assert_eq!(prefix_within("a€", 2), "a");
    }
}
