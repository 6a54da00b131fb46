//! Cutting a reply into Discord messages and naming each part: a bot's message holds at most
//! 2,000 characters, so a longer text becomes several, cut at a line break when one is in the
//! second half of the window, else at a space, else at the last whole character. Length is
//! counted in UTF-16 code units — what Discord's limit counts, and never more than the characters
//! — so a cut never falls inside a multi-byte character or between the halves of a surrogate pair.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Discord's limit on a bot's message content.
pub const MAX_MESSAGE_LEN: usize = 2000;

/// Discord's limit on a nonce's length.
const MAX_NONCE_LEN: usize = 25;

/// The parts of `text`, in order, each at most `limit` UTF-16 units; no part is blank. The
/// separator a cut falls on (a line break or a space) is dropped.
pub fn split(text: &str, limit: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text.trim_end();
    while !rest.is_empty() {
        let Some(fits) = longest_prefix(rest, limit) else {
            push(&mut parts, rest);
            break;
        };
        let window = &rest[..fits];
        let preferred = |found: Option<(usize, char)>| found.filter(|(at, _)| *at >= fits / 2 && *at > 0);
        let line_break = preferred(window.char_indices().rev().find(|(_, c)| *c == '\n'));
        let space = || preferred(window.char_indices().rev().find(|(_, c)| c.is_whitespace()));
        match line_break.or_else(space) {
            Some((at, separator)) => {
                push(&mut parts, &rest[..at]);
                rest = &rest[at + separator.len_utf8()..];
            }
            None => {
                push(&mut parts, window);
                rest = &rest[fits..];
            }
        }
    }
    parts
}

fn push<'a>(parts: &mut Vec<&'a str>, part: &'a str) {
    let part = part.trim_end();
    if !part.trim_start().is_empty() {
        parts.push(part);
    }
}

/// The byte length of the longest prefix of `text` within `limit` UTF-16 units, when all of it
/// does not fit (`None`: it fits whole). Always at least one character.
fn longest_prefix(text: &str, limit: usize) -> Option<usize> {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return Some(if at == 0 { c.len_utf8() } else { at });
        }
    }
    None
}

/// The nonce of part `part` of what `source` asks to post (a ticket message, an event): the same
/// on every delivery, different for every part, at most 25 characters.
pub fn nonce(source: Uuid, part: usize) -> String {
    let digest = Sha256::new().chain_update(source.as_bytes()).chain_update(part.to_be_bytes()).finalize();
    let mut nonce: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    nonce.truncate(MAX_NONCE_LEN - 1);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(part: &str) -> usize {
        part.encode_utf16().count()
    }

    #[test]
    fn a_short_text_is_one_part() {
        assert_eq!(split("Hello there", MAX_MESSAGE_LEN), vec!["Hello there"]);
        assert!(split("  \n ", MAX_MESSAGE_LEN).is_empty());
    }

    #[test]
    fn a_long_text_is_cut_at_line_breaks_then_spaces_and_keeps_every_word_in_order() {
        let text = format!("{}\n{}", "word ".repeat(300).trim_end(), "more ".repeat(300).trim_end());
        let parts = split(&text, 2000);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[0], "word ".repeat(300).trim_end());
        let words: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());

        let spaces = "abcdefghi ".repeat(450);
        let parts = split(&spaces, 2000);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| utf16(p) <= 2000 && p.ends_with('i')), "{:?}", parts.iter().map(|p| utf16(p)).collect::<Vec<_>>());
    }

    #[test]
    fn a_cut_without_breaks_never_splits_a_character_or_a_surrogate_pair() {
        // 1,999 ASCII characters, then emoji (two UTF-16 units each, four bytes).
        let text = format!("{}{}", "a".repeat(1999), "😀".repeat(10));
        let parts = split(&text, 2000);
        assert_eq!(parts, vec!["a".repeat(1999).as_str(), "😀".repeat(10).as_str()]);
        let text = "é".repeat(4500);
        let parts = split(&text, 2000);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![2000, 2000, 500]);
        assert_eq!(parts.concat(), text);
        assert_eq!(split("😀😀", 1), vec!["😀", "😀"], "a character wider than the limit still makes progress");
    }

    #[test]
    fn nonces_are_stable_distinct_per_part_and_short_enough_for_discord() {
        let source = Uuid::now_v7();
        assert_eq!(nonce(source, 0), nonce(source, 0));
        assert_ne!(nonce(source, 0), nonce(source, 1));
        assert_ne!(nonce(source, 0), nonce(Uuid::now_v7(), 0));
        assert!(nonce(source, 7).len() <= MAX_NONCE_LEN);
    }
}
