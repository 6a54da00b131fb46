//! From what the user typed to a tantivy query. Every analyzed term scores BM25 in the title
//! (boosted), the body and the tags; neighbouring terms score again as a pair. A term no article
//! contains is taken for a typo and matched within one edit (two for long words). When suggesting,
//! a last word still being typed (no space or punctuation after it) also matches as a prefix. The
//! caller's audience is a zero-score filter, so it never changes the ranking. That word query
//! picks the candidates; the plan also holds what `rerank` scores them with afterwards: character
//! trigrams of the words (many small votes for words that are alike but stem differently) and,
//! per query term, what shows that an article contains it.

use std::{collections::HashSet, ops::Range};

use tantivy::{
    Searcher, Term,
    query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery},
    schema::{Field, IndexRecordOption},
    tokenizer::TextAnalyzer,
};

use super::analysis;
use crate::domain::Audience;

/// Weights of the signals, relative to a BM25 match in the body.
const TITLE_BOOST: f32 = 2.0;
const TAGS_BOOST: f32 = 1.5;
const PAIR_BOOST: f32 = 1.0;
/// Per shared character trigram: many small votes for words that are alike.
const GRAM_BOOST: f32 = 0.6;
/// Prefix and typo matches score a constant (no term statistics), so they stay small.
const PREFIX_SCORE: f32 = 1.0;
const TYPO_SCORE: f32 = 1.5;
/// Shorter words are too ambiguous to correct or to expand.
const MIN_TYPO_CHARS: usize = 4;
const MIN_PREFIX_CHARS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A finished query.
    Search,
    /// Typed so far: the last word may be incomplete.
    Suggest,
}

pub struct Fields {
    pub title: Field,
    pub body: Field,
    pub tags: Field,
    pub pairs: Field,
    pub grams: Field,
    pub audience: Field,
    pub meaning: Field,
}

/// The analyzed query.
#[derive(Debug, Default)]
pub struct Plan {
    terms: Vec<String>,
    pairs: Vec<String>,
    grams: Vec<String>,
    /// The last word as typed and as stemmed, when it is being typed.
    prefixes: Vec<String>,
    /// Terms no article contains, matched within this many edits (known once built).
    typos: Vec<(String, u8)>,
}

pub fn plan(text: &str, mode: Mode) -> Plan {
    let mut english = analysis::english();
    let analyzed = analysis::terms(&mut english, text);
    let mut seen = HashSet::new();
    let terms = analyzed.iter().map(|t| t.text.clone()).filter(|t| seen.insert(t.clone())).collect();
    let pairs = analysis::pairs(text, &analyzed).split(' ').filter(|p| !p.is_empty()).map(str::to_string).collect();
    let mut prefixes = Vec::new();
    let typing = mode == Mode::Suggest && text.chars().last().is_some_and(char::is_alphanumeric);
    if typing && let Some(last) = analysis::terms(&mut analysis::literal(), text).pop() {
        if last.text.chars().count() >= MIN_PREFIX_CHARS {
            prefixes.push(last.text.clone());
        }
        if let Some(stem) = analysis::terms(&mut english, &last.text).pop()
            && stem.text != last.text
            && stem.text.chars().count() >= MIN_PREFIX_CHARS
        {
            prefixes.push(stem.text);
        }
    }
    let mut seen = HashSet::new();
    let grams = analysis::grams(&mut analysis::literal(), text).into_iter().filter(|g| seen.insert(g.clone())).collect();
    Plan { terms, pairs, grams, prefixes, typos: Vec::new() }
}

fn typo_distance(term: &str) -> u8 {
    if term.chars().count() >= 8 { 2 } else { 1 }
}

fn boosted(query: Box<dyn Query>, boost: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(query, boost)))
}

/// The query for `plan`, or `None` when nothing in it can match. Records the typos it corrects.
pub fn build(plan: &mut Plan, searcher: &Searcher, f: &Fields, audience: Audience) -> tantivy::Result<Option<BooleanQuery>> {
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let term_query = |field, text: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs))
    };
    for text in &plan.terms {
        let in_title = searcher.doc_freq(&Term::from_field_text(f.title, text))?;
        let in_body = searcher.doc_freq(&Term::from_field_text(f.body, text))?;
        let in_tags = searcher.doc_freq(&Term::from_field_text(f.tags, text))?;
        if in_title + in_body + in_tags > 0 {
            should.push(boosted(term_query(f.title, text), TITLE_BOOST));
            should.push(boosted(term_query(f.body, text), 1.0));
            should.push(boosted(term_query(f.tags, text), TAGS_BOOST));
        } else if text.chars().count() >= MIN_TYPO_CHARS && !plan.prefixes.contains(text) {
            let distance = typo_distance(text);
            for (field, weight) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
                let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, text), distance, true);
                should.push(boosted(Box::new(fuzzy), TYPO_SCORE * weight));
            }
            plan.typos.push((text.clone(), distance));
        }
    }
    for pair in &plan.pairs {
        should.push(boosted(term_query(f.pairs, pair), PAIR_BOOST));
    }
    for prefix in &plan.prefixes {
        for (field, weight) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
            let fuzzy = FuzzyTermQuery::new_prefix(Term::from_field_text(field, prefix), 0, true);
            should.push(boosted(Box::new(fuzzy), PREFIX_SCORE * weight));
        }
    }
    if should.is_empty() {
        return Ok(None);
    }
    let audience = TermQuery::new(Term::from_field_text(f.audience, audience.token()), IndexRecordOption::Basic);
    Ok(Some(BooleanQuery::new(vec![
        (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(audience), 0.0))),
        (Occur::Must, Box::new(BooleanQuery::new(should))),
    ])))
}

impl Plan {
    /// The trigram queries with their boosts. Trigrams only add to articles that match a word:
    /// on their own they match nearly anything.
    pub fn gram_queries(&self, f: &Fields) -> Vec<(TermQuery, f32)> {
        let query = |gram: &String| TermQuery::new(Term::from_field_text(f.grams, gram), IndexRecordOption::WithFreqs);
        self.grams.iter().map(|gram| (query(gram), GRAM_BOOST)).collect()
    }

    /// For each query term, the queries any of which shows that an article contains it: the term
    /// in its title or body or, for a corrected typo, a word there within its edits. Complete
    /// once the plan is built (that is when typos are known).
    pub fn presence_queries(&self, f: &Fields) -> Vec<Vec<Box<dyn Query>>> {
        let typo = |text: &String| self.typos.iter().find(|(typo, _)| typo == text).map(|(_, distance)| *distance);
        self.terms
            .iter()
            .map(|text| {
                let mut queries: Vec<Box<dyn Query>> = Vec::new();
                for field in [f.title, f.body] {
                    let term = Term::from_field_text(field, text);
                    queries.push(Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)));
                    if let Some(distance) = typo(text) {
                        queries.push(Box::new(FuzzyTermQuery::new(term, distance, true)));
                    }
                }
                queries
            })
            .collect()
    }

    /// Byte ranges of the words in `text` that this query matched, sorted and disjoint.
    pub fn matches(&self, text: &str, english: &mut TextAnalyzer, literal: &mut TextAnalyzer) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = analysis::terms(english, text)
            .into_iter()
            .filter(|t| {
                self.terms.contains(&t.text)
                    || self.prefixes.iter().any(|p| t.text.starts_with(p.as_str()))
                    || self.typos.iter().any(|(typo, d)| within(typo, &t.text, *d))
            })
            .map(|t| t.span)
            .collect();
        if !self.prefixes.is_empty() {
            ranges.extend(
                analysis::terms(literal, text)
                    .into_iter()
                    .filter(|t| self.prefixes.iter().any(|p| t.text.starts_with(p.as_str())))
                    .map(|t| t.span),
            );
        }
        ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut disjoint: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match disjoint.last_mut() {
                Some(last) if range.start < last.end => last.end = last.end.max(range.end),
                _ => disjoint.push(range),
            }
        }
        disjoint
    }
}

/// Whether `a` and `b` are within `max` edits (Levenshtein, with a transposition counting one).
fn within(a: &str, b: &str, max: u8) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let max = usize::from(max);
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    // Optimal string alignment distance, three rows.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()] <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_a_transposition_once() {
        assert!(within("recieve", "receive", 1));
        assert!(within("card", "cart", 1));
        assert!(!within("card", "cash", 1));
        assert!(within("transfer", "tranfser", 2));
    }

    #[test]
    fn only_a_word_being_typed_is_a_prefix() {
        assert_eq!(plan("refund my transf", Mode::Suggest).prefixes, vec!["transf"]);
        assert!(plan("refund my transf ", Mode::Suggest).prefixes.is_empty());
        assert!(plan("refund my transf?", Mode::Suggest).prefixes.is_empty());
        assert!(plan("refund my transf", Mode::Search).prefixes.is_empty());
    }

    #[test]
    fn a_prefix_is_tried_as_typed_and_as_stemmed() {
        assert_eq!(plan("cancellations", Mode::Suggest).prefixes, vec!["cancellations", "cancel"]);
    }
}
