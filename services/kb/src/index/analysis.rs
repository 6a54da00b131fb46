//! Text analysis shared by indexing and querying, so both see the same terms: words split on
//! non-alphanumerics, lower-cased, folded to ASCII, common English function words dropped, then
//! Snowball-stemmed ("refunds", "refunded" → "refund"). Word pairs of the stemmed sequence are a
//! second signal: "top up" or "exchange rate" say more together than their words apart.

use std::ops::Range;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenStream,
};

/// The analyzer's name in the index's tokenizer manager.
pub const ENGLISH: &str = "helpdesk_en";
/// Whitespace-separated, pre-built word pairs.
pub const PAIRS: &str = "whitespace";

/// Function words that say nothing about what an article answers. Negations ("not", "no",
/// "can't" → "can"+"t") are deliberately absent: "card not working" and "card working" differ.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "do", "does", "for", "from", "has", "have", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "s", "so", "such", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "which", "will", "with",
    "you", "your", "am", "im", "ve", "ll", "d", "please", "can", "could", "would", "should", "get", "got",
];

pub fn english() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(STOP_WORDS.iter().map(|w| w.to_string())))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Words without stemming or stop words: what the user literally typed, for prefixes.
pub fn literal() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// A term with where it came from in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub span: Range<usize>,
}

pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(Term { text: token.text.clone(), span: token.offset_from..token.offset_to });
    }
    out
}

/// Consecutive stemmed terms joined by `_`, space-separated, for the pairs field. Terms on
/// different lines are not paired: an article's lines are often separate questions.
pub fn pairs(text: &str, terms: &[Term]) -> String {
    let mut out = String::new();
    for window in terms.windows(2) {
        if text[window[0].span.end..window[1].span.start].contains('\n') {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&window[0].text);
        out.push('_');
        out.push_str(&window[1].text);
    }
    out
}

/// Length of the character n-grams.
const GRAM: usize = 3;

/// Character n-grams of the words (function words left out), with `^`/`$` marking word edges:
/// they let "verify" meet "verification" and "topup" meet "top up" where stems differ.
pub fn grams(literal: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for term in terms(literal, text) {
        if STOP_WORDS.contains(&term.text.as_str()) {
            continue;
        }
        let word: Vec<char> = format!("^{}$", term.text).chars().collect();
        if word.len() <= GRAM {
            out.push(word.iter().collect());
        } else {
            out.extend(word.windows(GRAM).map(|w| w.iter().collect::<String>()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        terms(&mut english(), text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_are_stemmed_folded_and_function_words_dropped() {
        assert_eq!(texts("How do I get my Refunds?"), vec!["refund"]);
        assert_eq!(texts("Café cancelled transfers"), vec!["cafe", "cancel", "transfer"]);
    }

    #[test]
    fn negations_are_kept() {
        assert_eq!(texts("card not working"), vec!["card", "not", "work"]);
    }

    #[test]
    fn pairs_join_neighbours_but_not_across_lines() {
        let text = "top up failed\nexchange rate";
        let terms = terms(&mut english(), text);
        assert_eq!(pairs(text, &terms), "top_up up_fail exchang_rate");
    }

    #[test]
    fn grams_cover_each_word_with_its_edges() {
        assert_eq!(grams(&mut literal(), "my PIN"), vec!["^pi", "pin", "in$"]);
        assert_eq!(grams(&mut literal(), "a x"), vec!["^x$"]);
    }
}
