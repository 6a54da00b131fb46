//! Meaning, next to the words: the last step of a search when word vectors are configured.
//! Words alone cannot tell that "My card was topped this morning but I can't see the funds" asks
//! about a *pending top up*; vectors of the words can. Two signals, both from pretrained vectors
//! (`vectors`), neither learned from the articles:
//! - closeness: the cosine of the query's and the article's sentence vectors (rarity-weighted
//!   average of the word vectors, common direction removed — Arora et al., "SIF", 2017);
//! - best paragraph: the fuzzy-set similarity of the query's words and each paragraph's words
//!   (the title is a paragraph too), the best paragraph counting — DynaMax-Jaccard (Zhelezniak
//!   et al., 2019): every word of either text is a fuzzy-set element; how much each text holds of
//!   it is its best dot product with that text's words; similarity = Σ min / Σ max.
//!
//! What an article contributes is computed when it is indexed and kept in the index beside it
//! (a bytes fast field, see `encode`), so replicas agree and nothing else has to be kept in step.
//! The query's side is computed once per search; the paragraph signal costs a few thousand small
//! dot products per candidate, which is why `rerank` asks for it only on its last few candidates.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::{
    analysis,
    vectors::{Reader, WordVectors, dot},
};

/// Bounds on what one article keeps: its first paragraphs and their first words.
const MAX_PARAGRAPHS: usize = 32;
const MAX_PARAGRAPH_WORDS: usize = 48;
/// Words of a whole article that its sentence vector averages.
const MAX_ARTICLE_WORDS: usize = 4096;

/// A text's words that have vectors, in order (repeats kept: they weigh more).
fn word_ids(vectors: &WordVectors, text: &str, limit: usize) -> Vec<u32> {
    analysis::terms(&mut analysis::literal(), text).iter().filter_map(|t| vectors.id(&t.text)).take(limit).collect()
}

/// One paragraph's words with, for each, its best dot product with the paragraph's words
/// (itself included) — the paragraph's own half of DynaMax, which does not depend on the query.
#[derive(Debug, PartialEq)]
struct Paragraph {
    ids: Vec<u32>,
    self_best: Vec<f32>,
}

impl Paragraph {
    fn new(vectors: &WordVectors, ids: Vec<u32>) -> Self {
        let rows: Vec<Vec<f32>> = ids.iter().map(|&id| vectors.vector(id)).collect();
        let self_best = ids.iter().map(|&id| rows.iter().map(|row| vectors.dot_word(id, row)).fold(f32::MIN, f32::max)).collect();
        Self { ids, self_best }
    }
}

/// What an article means, as kept in the index.
#[derive(Debug, PartialEq)]
pub struct ArticleMeaning {
    whole: Option<Vec<f32>>,
    paragraphs: Vec<Paragraph>,
}

impl ArticleMeaning {
    pub fn of(vectors: &WordVectors, title: &str, text: &str) -> Self {
        let whole = vectors.sentence(word_ids(vectors, &format!("{title}\n{text}"), MAX_ARTICLE_WORDS));
        let paragraphs = std::iter::once(title)
            .chain(text.lines())
            .map(|line| word_ids(vectors, line, MAX_PARAGRAPH_WORDS))
            .filter(|ids| !ids.is_empty())
            .take(MAX_PARAGRAPHS)
            .map(|ids| Paragraph::new(vectors, ids))
            .collect();
        Self { whole, paragraphs }
    }

    /// Little-endian: u16 n, f32[n] the sentence vector (n = 0 without one); u16 paragraphs, each
    /// u16 words, u32[words] ids, f32[words] their best dot products.
    pub fn encode(&self) -> Vec<u8> {
        let whole = self.whole.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(4 + 4 * whole.len() + self.paragraphs.iter().map(|p| 2 + 8 * p.ids.len()).sum::<usize>());
        out.extend((whole.len() as u16).to_le_bytes());
        out.extend(whole.iter().flat_map(|x| x.to_le_bytes()));
        out.extend((self.paragraphs.len() as u16).to_le_bytes());
        for paragraph in &self.paragraphs {
            out.extend((paragraph.ids.len() as u16).to_le_bytes());
            out.extend(paragraph.ids.iter().flat_map(|id| id.to_le_bytes()));
            out.extend(paragraph.self_best.iter().flat_map(|x| x.to_le_bytes()));
        }
        out
    }

    /// `None` for bytes `encode` did not make.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader { bytes };
        let n = usize::from(r.u16()?);
        let whole = r.f32s(n)?;
        let mut paragraphs = Vec::new();
        for _ in 0..r.u16()? {
            let n = usize::from(r.u16()?);
            let ids = r.u32s(n)?;
            let self_best = r.f32s(n)?;
            paragraphs.push(Paragraph { ids, self_best });
        }
        r.bytes.is_empty().then_some(Self { whole: (n > 0).then_some(whole), paragraphs })
    }
}

/// The query's side, computed once per search.
pub struct QueryMeaning<'v> {
    vectors: &'v WordVectors,
    whole: Option<Vec<f32>>,
    rows: Vec<Vec<f32>>,
    self_best: Vec<f32>,
    /// An article word's dot products with each query word: candidates share most of their words,
    /// so each is computed once per search.
    dots: RefCell<FxHashMap<u32, Box<[f32]>>>,
}

impl<'v> QueryMeaning<'v> {
    /// `None` when no word of `text` has a vector.
    pub fn of(vectors: &'v WordVectors, text: &str) -> Option<Self> {
        let ids = word_ids(vectors, text, MAX_PARAGRAPH_WORDS);
        if ids.is_empty() {
            return None;
        }
        let rows: Vec<Vec<f32>> = ids.iter().map(|&id| vectors.vector(id)).collect();
        let self_best = rows.iter().map(|a| rows.iter().map(|b| dot(a, b)).fold(f32::MIN, f32::max)).collect();
        Some(Self { vectors, whole: vectors.sentence(ids), rows, self_best, dots: RefCell::default() })
    }

    /// Cosine of the two sentence vectors; 0 when either has none.
    pub fn closeness(&self, article: &ArticleMeaning) -> f32 {
        match (&self.whole, &article.whole) {
            (Some(q), Some(a)) => dot(q, a),
            _ => 0.0,
        }
    }

    /// DynaMax-Jaccard similarity with the article's best paragraph; 0 without paragraphs.
    pub fn best_paragraph(&self, article: &ArticleMeaning) -> f32 {
        let mut dots = self.dots.borrow_mut();
        article.paragraphs.iter().map(|p| self.dynamax(p, &mut dots)).fold(0.0, f32::max)
    }

    fn dynamax(&self, paragraph: &Paragraph, dots: &mut FxHashMap<u32, Box<[f32]>>) -> f32 {
        let (mut low, mut high) = (0.0, 0.0);
        let mut add = |in_query: f32, in_paragraph: f32| {
            let (a, b) = (in_query.max(0.0), in_paragraph.max(0.0));
            low += a.min(b);
            high += a.max(b);
        };
        // For each query word, its best dot product with the paragraph's words.
        let mut query_best = vec![f32::MIN; self.rows.len()];
        for (&id, &own_best) in paragraph.ids.iter().zip(&paragraph.self_best) {
            let column = dots.entry(id).or_insert_with(|| {
                let word = self.vectors.vector(id);
                self.rows.iter().map(|row| dot(&word, row)).collect()
            });
            query_best.iter_mut().zip(column.iter()).for_each(|(best, &d)| *best = best.max(d));
            // The paragraph word as an element: how much the query holds of it, how much the paragraph.
            add(column.iter().copied().fold(f32::MIN, f32::max), own_best);
        }
        for (&own_best, best) in self.self_best.iter().zip(query_best) {
            add(own_best, best);
        }
        if high > 0.0 { low / high } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::vectors::tests::{file, parse};

    fn vectors() -> WordVectors {
        parse(&file(&[
            ("disposable", vec![1.0, 0.1, 0.0]),
            ("throwaway", vec![0.9, 0.2, 0.0]),
            ("card", vec![0.0, 1.0, 0.0]),
            ("exchange", vec![0.0, 0.0, 1.0]),
            ("rate", vec![0.1, 0.0, 0.9]),
        ]))
    }

    #[test]
    fn a_meaning_survives_encoding() {
        let vectors = vectors();
        let meaning = ArticleMeaning::of(&vectors, "Disposable card", "A throwaway card.\n\nExchange rate?");
        assert_eq!(meaning.paragraphs.len(), 3);
        assert_eq!(ArticleMeaning::decode(&meaning.encode()), Some(meaning));
        assert_eq!(ArticleMeaning::decode(&[1, 0]), None);
    }

    #[test]
    fn related_words_make_an_article_close_without_a_shared_word() {
        let vectors = vectors();
        let query = QueryMeaning::of(&vectors, "throwaway").expect("known word");
        let related = ArticleMeaning::of(&vectors, "Disposable", "");
        let unrelated = ArticleMeaning::of(&vectors, "Exchange rate", "");
        assert!(query.closeness(&related) > query.closeness(&unrelated) + 0.5);
        assert!(query.best_paragraph(&related) > query.best_paragraph(&unrelated) + 0.5);
    }

    #[test]
    fn identical_texts_are_fully_similar_and_unknown_words_mean_nothing() {
        let vectors = vectors();
        let query = QueryMeaning::of(&vectors, "exchange rate").expect("known words");
        let same = ArticleMeaning::of(&vectors, "Exchange rate", "");
        assert!((query.best_paragraph(&same) - 1.0).abs() < 1e-4);
        assert!(QueryMeaning::of(&vectors, "zzz qqq").is_none());
        assert_eq!(ArticleMeaning::of(&vectors, "zzz", "qqq").encode(), vec![0, 0, 0, 0]);
    }
}
