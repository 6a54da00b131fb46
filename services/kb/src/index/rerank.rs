//! The second stage of a search. The word query (see `query`) picks the best candidates; here
//! they get their character-trigram votes and then their coverage factor (the share of the
//! query's terms they contain), both read from the postings by seeking straight to those few
//! documents. Why not in the first query: trigram postings are long (a common trigram is in most
//! articles), and walking them over the whole index took about as long as everything else
//! together; re-reading and re-analysing the candidates' text for coverage took as much again.
//! Trigrams only ever add to articles that match a word, so scoring them on the word query's
//! best `CANDIDATES` finds the same articles whenever the candidates reach deep enough (with
//! every article as a candidate the results are exactly the single-query ones).

use tantivy::{
    DocAddress, Searcher,
    query::{EnableScoring, Query, Weight},
};

use super::query::{Fields, Plan};

/// How many of the word query's best candidates get trigram votes. With 10,000 articles, 200
/// gives the same first five suggestions as scoring trigrams everywhere for 98.6% of queries.
pub const CANDIDATES: usize = 200;
/// How many of those, best first after the votes, are re-ranked by coverage.
const COVERAGE_DEPTH: usize = 30;
/// A candidate containing every query term scores this much more (relatively) than one with none.
const COVERAGE_WEIGHT: f32 = 0.5;

/// The best `limit` of `candidates` (score, address), re-scored, best first.
pub fn rerank(
    searcher: &Searcher,
    plan: &Plan,
    fields: &Fields,
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
    sort(&mut candidates);
    candidates.truncate(limit);
    Ok(candidates)
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
