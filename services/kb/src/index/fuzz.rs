//! Property tests of snippets on arbitrary Unicode: the body and the query are generated (words,
//! every kind of whitespace, emoji, combining marks, markup characters, any `char`), the query's
//! matches are found as a search finds them, and the snippet must come out whole — no panic, only
//! `<mark>` as markup, and its text a piece of the escaped body. A panic here once failed every
//! search that ranked an article with a non-breaking space in it.

use proptest::prelude::*;

use super::{analysis, query};
use crate::domain::{highlight_snippet, render::escape};

/// Pieces real articles are made of, weighted towards what has broken slicing before.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["refund", "card", "Café", "naïve", "PIN", "straße", "İstanbul", "ǅ", "ﬁle"])
            .prop_map(str::to_string),
        prop::sample::select(vec![" ", "\u{a0}", "\u{3000}", "\u{2003}", "\u{2028}", "\u{85}", "\n", "\t", "\r\n"])
            .prop_map(str::to_string),
        prop::sample::select(vec!["😀", "👩‍👩‍👧", "🇩🇪", "e\u{301}", "\u{301}", "\u{200b}", "\u{feff}", "\u{0}"])
            .prop_map(str::to_string),
        prop::sample::select(vec!["<", ">", "&", "\"", "'", "<mark>", "&amp;", "…"]).prop_map(str::to_string),
        any::<char>().prop_map(String::from),
        ".{0,12}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..80).prop_map(|pieces| pieces.concat())
}

fn check(body: &str, typed: &str, max_bytes: usize) -> Result<(), TestCaseError> {
    let (mut english, mut literal) = (analysis::english(), analysis::literal());
    for mode in [query::Mode::Search, query::Mode::Suggest] {
        let matches = query::plan(typed, mode).matches(body, &mut english, &mut literal);
        let snippet = highlight_snippet(body, &matches, max_bytes);
        prop_assert!(std::str::from_utf8(snippet.as_bytes()).is_ok());
        let text = snippet.replace("<mark>", "").replace("</mark>", "");
        prop_assert!(!text.contains('<') && !text.contains('>'), "markup besides <mark>: {snippet:?}");
        let text = text.strip_prefix('…').unwrap_or(&text);
        let text = text.strip_suffix('…').unwrap_or(text);
        prop_assert!(escape(body).contains(text), "{text:?} is not part of the escaped body");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn snippets_of_any_text_for_any_query_are_whole_and_escaped(
        body in text(),
        typed in text(),
        max_bytes in 1usize..400,
    ) {
        check(&body, &typed, max_bytes)?;
    }

    /// Queries made of the body's own words, so that there are matches to mark and windows to cut.
    #[test]
    fn snippets_around_real_matches_are_whole_and_escaped(
        body in text(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        max_bytes in 1usize..400,
    ) {
        let words: Vec<&str> = body.split_whitespace().collect();
        prop_assume!(!words.is_empty());
        let typed = picks.iter().map(|i| words[i.index(words.len())]).collect::<Vec<_>>().join(" ");
        check(&body, &typed, max_bytes)?;
    }

    /// Any matches at all, even ones the index would never produce (out of range, inside a
    /// character, overlapping): the snippet still comes out whole.
    #[test]
    fn snippets_survive_arbitrary_match_ranges(
        body in text(),
        ranges in prop::collection::vec((0usize..600, 0usize..40), 0..8),
        max_bytes in 0usize..400,
    ) {
        let matches: Vec<_> = ranges.iter().map(|&(start, len)| start..start + len).collect();
        let snippet = highlight_snippet(&body, &matches, max_bytes);
        let text = snippet.replace("<mark>", "").replace("</mark>", "");
        prop_assert!(!text.contains('<') && !text.contains('>'), "{snippet:?}");
    }
}
