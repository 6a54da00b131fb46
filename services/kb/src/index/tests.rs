use super::*;

fn article(title: &str, text: &str, status: Status, visibility: Visibility) -> IndexedArticle {
    IndexedArticle {
        id: Uuid::now_v7(),
        slug: crate::domain::slugify(title),
        title: title.into(),
        text: text.into(),
        tags: Vec::new(),
        status,
        visibility,
    }
}

fn public(title: &str, text: &str) -> IndexedArticle {
    article(title, text, Status::Published, Visibility::Public)
}

fn titles(index: &SearchIndex, query: &str, mode: Mode, audience: Audience) -> Vec<String> {
    index.search(query, mode, audience, 10).expect("search").into_iter().map(|h| h.title).collect()
}

fn sample() -> SearchIndex {
    let index = SearchIndex::new().expect("index");
    index
        .replace_all([
            public("Refund a card payment", "Ask for your money back when a card payment was wrong."),
            public("Transfer money abroad", "International transfers take up to two days."),
            public("Change your PIN", "Set a new PIN at any cash machine."),
        ])
        .expect("replace");
    index
}

#[test]
fn the_title_outranks_a_mention_in_the_body() {
    let index = SearchIndex::new().expect("index");
    index
        .replace_all([
            public("Opening hours", "We answer refunds questions in the morning."),
            public("Refunds", "How long they take."),
        ])
        .expect("replace");
    assert_eq!(titles(&index, "refunds", Mode::Search, Audience::Anonymous)[0], "Refunds");
}

#[test]
fn stemming_matches_other_forms_of_a_word() {
    assert_eq!(titles(&sample(), "refunded", Mode::Search, Audience::Anonymous), vec!["Refund a card payment"]);
}

#[test]
fn a_typo_still_finds_the_article() {
    assert_eq!(titles(&sample(), "internatonal tranfser", Mode::Search, Audience::Anonymous), vec!["Transfer money abroad"]);
}

#[test]
fn the_last_word_being_typed_matches_as_a_prefix_when_suggesting() {
    let index = sample();
    assert_eq!(titles(&index, "how do I transf", Mode::Suggest, Audience::Anonymous), vec!["Transfer money abroad"]);
    assert!(titles(&index, "how do I transf", Mode::Search, Audience::Anonymous).is_empty());
}

#[test]
fn each_audience_finds_only_what_it_may_read() {
    let index = SearchIndex::new().expect("index");
    index
        .replace_all([
            public("Refund public", "refund"),
            article("Refund members", "refund", Status::Published, Visibility::SignedIn),
            article("Refund internal", "refund", Status::Published, Visibility::Internal),
            article("Refund draft", "refund", Status::Draft, Visibility::Public),
        ])
        .expect("replace");
    let found = |audience| {
        let mut t = titles(&index, "refund", Mode::Search, audience);
        t.sort();
        t
    };
    assert_eq!(found(Audience::Anonymous), vec!["Refund public"]);
    assert_eq!(found(Audience::Contact), vec!["Refund members", "Refund public"]);
    assert_eq!(found(Audience::Staff).len(), 4);
}

#[test]
fn changes_replace_and_remove_articles() {
    let index = sample();
    let mut changed = public("Change your PIN", "Set a new PIN in the app.");
    let first = index.search("pin", Mode::Search, Audience::Staff, 1).expect("search");
    changed.id = first[0].id;
    changed.title = "Change your secret number (PIN)".into();
    index.apply(&[Change::Upsert(changed.clone())]).expect("apply");
    index.apply(&[Change::Upsert(changed.clone())]).expect("applying twice is harmless");
    assert_eq!(titles(&index, "pin", Mode::Search, Audience::Staff), vec!["Change your secret number (PIN)"]);
    assert_eq!(index.len(), 3);
    index.apply(&[Change::Remove(changed.id)]).expect("apply");
    assert!(titles(&index, "pin", Mode::Search, Audience::Staff).is_empty());
    assert_eq!(index.len(), 2);
}

#[test]
fn snippets_mark_matches_and_escape_the_rest() {
    let index = SearchIndex::new().expect("index");
    index.replace_all([public("Cards", "Use <b>your</b> card & refunds.")]).expect("replace");
    let hit = &index.search("refund", Mode::Search, Audience::Anonymous, 1).expect("search")[0];
    assert_eq!(hit.snippet_html, "Use &lt;b&gt;your&lt;/b&gt; card &amp; <mark>refunds</mark>.");
}

#[test]
fn a_query_of_only_function_words_finds_nothing_rather_than_everything() {
    assert!(titles(&sample(), "how do I", Mode::Search, Audience::Staff).is_empty());
}

#[test]
fn trigram_votes_rank_another_form_of_a_word_first() {
    // "delivery" and "deliver" stem three edits apart, so only their shared trigrams tell the two
    // "card" articles apart; the one without them is indexed first, to win a tie.
    let index = SearchIndex::new().expect("index");
    index.replace_all([public("Card colours", "Pick one."), public("Deliver a card", "Pick one.")]).expect("replace");
    assert_eq!(titles(&index, "card delivery", Mode::Search, Audience::Anonymous)[0], "Deliver a card");
}

#[test]
fn candidates_in_several_segments_score_as_in_one() {
    let articles = [
        public("Card colours", "Pick a card colour."),
        public("Deliver a card", "Cards arrive in a week."),
        public("Card delivery abroad", "Delivery abroad takes longer."),
    ];
    let whole = SearchIndex::new().expect("index");
    whole.replace_all(articles.clone()).expect("replace");
    let pieces = SearchIndex::new().expect("index");
    pieces.replace_all([articles[0].clone()]).expect("replace");
    pieces.apply(&[Change::Upsert(articles[1].clone())]).expect("apply");
    pieces.apply(&[Change::Upsert(articles[2].clone())]).expect("apply");
    let scored = |index: &SearchIndex| {
        let hits = index.search("card deliveries", Mode::Search, Audience::Anonymous, 10).expect("search");
        hits.into_iter().map(|h| (h.title, (h.score * 1000.0).round())).collect::<Vec<_>>()
    };
    assert_eq!(scored(&pieces), scored(&whole));
    assert_eq!(scored(&whole).len(), 3);
}

/// Vectors in which "throwaway" means "disposable" and neither is near "delivery".
fn meaningful_vectors() -> std::sync::Arc<WordVectors> {
    let bytes = super::vectors::tests::file(&[
        ("disposable", vec![1.0, 0.1, 0.0]),
        ("throwaway", vec![0.95, 0.15, 0.0]),
        ("card", vec![0.0, 1.0, 0.0]),
        ("delivery", vec![0.0, 0.0, 1.0]),
        ("arrive", vec![0.1, 0.0, 0.9]),
    ]);
    std::sync::Arc::new(super::vectors::tests::parse(&bytes))
}

fn cards(vectors: Option<std::sync::Arc<WordVectors>>) -> SearchIndex {
    let index = SearchIndex::with_word_vectors(vectors).expect("index");
    index
        .replace_all([
            public("Card delivery", "When will my card arrive? Card delivery takes a week."),
            public("Disposable virtual card", "A virtual card for one online purchase, then it is gone for good."),
        ])
        .expect("replace");
    index
}

#[test]
fn word_vectors_rank_by_meaning_where_words_alone_cannot() {
    let query = "throwaway card";
    // Words alone: both articles share only "card", which the shorter delivery article repeats.
    let words_only = titles(&cards(None), query, Mode::Search, Audience::Anonymous);
    assert_eq!(words_only, vec!["Card delivery", "Disposable virtual card"]);
    let with_meaning = titles(&cards(Some(meaningful_vectors())), query, Mode::Search, Audience::Anonymous);
    assert_eq!(with_meaning, vec!["Disposable virtual card", "Card delivery"]);
}

#[test]
fn meaning_only_reorders_what_the_words_found_and_respects_the_audience() {
    let index = SearchIndex::with_word_vectors(Some(meaningful_vectors())).expect("index");
    index
        .replace_all([
            public("Card delivery", "When will my card arrive?"),
            article("Disposable card", "Internal notes on disposable cards.", Status::Published, Visibility::Internal),
        ])
        .expect("replace");
    // "throwaway" matches no article's words; meaning never adds an article the words missed,
    // and an internal article stays hidden from anonymous callers however close it is.
    assert_eq!(titles(&index, "throwaway card", Mode::Search, Audience::Anonymous), vec!["Card delivery"]);
    assert!(titles(&index, "throwaway", Mode::Search, Audience::Anonymous).is_empty());
}
