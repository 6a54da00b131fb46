//! The second stage of a search. The word query (see `query`) picks the best candidates; here
//! they get their character-trigram votes and then their coverage factor (the share of the
//! query's terms they contain), both read from the postings by seeking straight to those few
//! documents. Why not in the first query: trigram postings are long (a common trigram is in most
//! articles), and walking them over the whole index took about as long as everything else
//! together; re-reading and re-analysing the candidates' text for coverage took as much again.
//! Trigrams only ever add to articles that match a word, so scoring them on the word query's
//! best `CANDIDATES` finds the same articles whenever the candidates reach deep enough (with
//! every article as a candidate the results are exactly the single-query ones).
//!
//! With word vectors, the last `COVERAGE_DEPTH` candidates are then blended with their meaning
//! (`semantic`): each signal is standardized over the candidates (mean 0, deviation 1, so that
//! their scales do not matter) and added with its weight. Only those few are scored: the
//! paragraph signal is the dearest step of a search.

use tantivy::{
    DocAddress, Searcher,
    query::{EnableScoring, Query, Weight},
};

use super::{
    query::{Fields, Plan},
    semantic::{ArticleMeaning, QueryMeaning},
};

/// How many of the word query's best candidates get trigram votes. With 10,000 articles, 200
/// gives the same first five suggestions as scoring trigrams everywhere for 98.6% of queries.
pub const CANDIDATES: usize = 200;
/// How many of those, best first after the votes, are re-ranked by coverage.
const COVERAGE_DEPTH: usize = 30;
/// A candidate containing every query term scores this much more (relatively) than one with none.
const COVERAGE_WEIGHT: f32 = 0.5;
/// Weights of the meaning signals next to the (standardized) word score, which weighs 1.
const CLOSENESS_WEIGHT: f32 = 0.8;
const PARAGRAPH_WEIGHT: f32 = 0.4;

/// The best `limit` of `candidates` (score, address), re-scored, best first.
pub fn rerank(
    searcher: &Searcher,
    plan: &Plan,
    fields: &Fields,
    meaning: Option<&QueryMeaning>,
    mut candidates: Vec<(f32, DocAddress)>,
    limit: usize,
) -> tantivy::Result<Vec<(f32, DocAddress)>> {
    let scoring = EnableScoring::enabled_from_searcher(searcher);
    let in_order = InDocOrder::new(&candidates);
    for (gram, boost) in plan.gram_queries(fields) {
        let weight = gram.weight(scoring)?;
        in_order.for_each_match(searcher, weight.as_ref(), boost, |i, score| candidates[i].0 += score)?;
    }
    sort(&mut candidates);
    candidates.truncate(COVERAGE_DEPTH.max(limit));

    let terms = plan.presence_queries(fields);
    if !terms.is_empty() {
        let in_order = InDocOrder::new(&candidates);
        let unscored = EnableScoring::disabled_from_searcher(searcher);
        let mut found = vec![0usize; candidates.len()];
        for queries in &terms {
            let mut present = vec![false; candidates.len()];
            for query in queries {
                let weight = query.weight(unscored)?;
                in_order.for_each_match(searcher, weight.as_ref(), 1.0, |i, _| present[i] = true)?;
            }
            found.iter_mut().zip(present).for_each(|(n, p)| *n += usize::from(p));
        }
        for (candidate, n) in candidates.iter_mut().zip(found) {
            candidate.0 *= 1.0 + COVERAGE_WEIGHT * n as f32 / terms.len() as f32;
        }
    }
    if let Some(meaning) = meaning {
        blend_meaning(searcher, fields, meaning, &mut candidates)?;
    }
    sort(&mut candidates);
    candidates.truncate(limit);
    Ok(candidates)
}

/// Replaces each candidate's score by its standardized word score plus its standardized meaning
/// signals, weighted. An article indexed without a meaning counts as unrelated.
fn blend_meaning(
    searcher: &Searcher,
    fields: &Fields,
    meaning: &QueryMeaning,
    candidates: &mut [(f32, DocAddress)],
) -> tantivy::Result<()> {
    if candidates.len() < 2 {
        return Ok(());
    }
    let name = searcher.schema().get_field_name(fields.meaning);
    let mut columns = Vec::new();
    for segment in searcher.segment_readers() {
        columns.push(segment.fast_fields().bytes(name)?);
    }
    let mut bytes = Vec::new();
    let (mut closeness, mut paragraph) = (Vec::with_capacity(candidates.len()), Vec::with_capacity(candidates.len()));
    for (_, address) in candidates.iter() {
        bytes.clear();
        let stored = match &columns[address.segment_ord as usize] {
            Some(column) => match column.term_ords(address.doc_id).next() {
                Some(ord) => column.ord_to_bytes(ord, &mut bytes)?,
                None => false,
            },
            None => false,
        };
        let article = if stored { ArticleMeaning::decode(&bytes) } else { None };
        closeness.push(article.as_ref().map_or(0.0, |a| meaning.closeness(a)));
        paragraph.push(article.as_ref().map_or(0.0, |a| meaning.best_paragraph(a)));
    }
    let words = standardized(candidates.iter().map(|c| c.0));
    let closeness = standardized(closeness);
    let paragraph = standardized(paragraph);
    for (i, candidate) in candidates.iter_mut().enumerate() {
        candidate.0 = words[i] + CLOSENESS_WEIGHT * closeness[i] + PARAGRAPH_WEIGHT * paragraph[i];
    }
    Ok(())
}

/// `values` shifted to mean 0 and scaled to deviation 1 (all 0 when they are all equal).
fn standardized(values: impl IntoIterator<Item = f32>) -> Vec<f32> {
    let values: Vec<f32> = values.into_iter().collect();
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let deviation = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    values.iter().map(|v| if deviation > f32::EPSILON { (v - mean) / deviation } else { 0.0 }).collect()
}

/// Best first; equal scores in index order, so results do not move between runs.
fn sort(candidates: &mut [(f32, DocAddress)]) {
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
}

/// The candidates' addresses in index order, each with its position in the candidate list.
struct InDocOrder(Vec<(DocAddress, usize)>);

impl InDocOrder {
    fn new(candidates: &[(f32, DocAddress)]) -> Self {
        let mut order: Vec<(DocAddress, usize)> = candidates.iter().enumerate().map(|(i, c)| (c.1, i)).collect();
        order.sort_unstable();
        Self(order)
    }

    /// Calls `found(i, score)` for each candidate `i` that `weight` matches, seeking its scorer
    /// in each segment to just the candidates there.
    fn for_each_match(
        &self,
        searcher: &Searcher,
        weight: &dyn Weight,
        boost: f32,
        mut found: impl FnMut(usize, f32),
    ) -> tantivy::Result<()> {
        for segment in self.0.chunk_by(|a, b| a.0.segment_ord == b.0.segment_ord) {
            let mut scorer = weight.scorer(searcher.segment_reader(segment[0].0.segment_ord), boost)?;
            for &(address, i) in segment {
                // A scorer only moves forward; one already past this document does not match it.
                if scorer.doc() <= address.doc_id && scorer.seek(address.doc_id) == address.doc_id {
                    found(i, scorer.score());
                }
            }
        }
        Ok(())
    }
}
