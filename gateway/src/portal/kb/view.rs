//! What the knowledge-base pages show, shaped from the kb service's messages: article links with
//! their date, categories with the articles filed under them, and search hits whose snippets are
//! trusted as markup only after a check.
//!
//! The kb service promises that `snippet_html` is escaped text with only `<mark>` around matched
//! words (and that `body_html` went through ammonia). The snippet is still checked here before the
//! template marks it safe: a regression in the service would otherwise become script on a page,
//! and the check costs one scan of ~200 bytes. A snippet that fails is shown as plain text.

use helpdesk_proto::kb::v1 as pb;

use crate::portal::views::Moment;

/// An article as a link in a list.
pub struct ArticleLink {
    pub slug: String,
    pub title: String,
    pub updated: Option<Moment>,
}

impl From<&pb::Article> for ArticleLink {
    fn from(a: &pb::Article) -> Self {
        Self { slug: a.slug.clone(), title: a.title.clone(), updated: Moment::from_timestamp(a.updated_at.as_ref()) }
    }
}

/// A category with (some of) its articles, for the index page and the home page.
pub struct CategoryView {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// How many articles the reader may see in it.
    pub count: usize,
    pub articles: Vec<ArticleLink>,
}

/// The categories in their order, each with its first `per_category` articles, dropping
/// categories the reader has nothing to read in; articles without a category come back apart.
pub fn by_category(
    categories: &[pb::KbCategory],
    articles: &[pb::Article],
    per_category: usize,
) -> (Vec<CategoryView>, Vec<ArticleLink>) {
    let views = categories
        .iter()
        .map(|c| {
            let mine: Vec<&pb::Article> = articles.iter().filter(|a| a.category_id == c.id).collect();
            CategoryView {
                slug: c.slug.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                count: mine.len(),
                articles: mine.into_iter().take(per_category).map(ArticleLink::from).collect(),
            }
        })
        .filter(|c| c.count > 0)
        .collect();
    let known = |a: &&pb::Article| categories.iter().any(|c| c.id == a.category_id);
    let loose = articles.iter().filter(|a| !known(a)).map(ArticleLink::from).collect();
    (views, loose)
}

/// The `limit` most recently updated articles, newest first.
pub fn recent(articles: &[pb::Article], limit: usize) -> Vec<ArticleLink> {
    let mut sorted: Vec<&pb::Article> = articles.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.updated_at.as_ref().map(|t| (t.seconds, t.nanos))));
    sorted.into_iter().take(limit).map(ArticleLink::from).collect()
}

/// A search result. `marked` says the snippet passed [`is_marked_text`] and may be shown as
/// markup; otherwise the template escapes it.
pub struct HitView {
    pub slug: String,
    pub title: String,
    pub snippet: String,
    pub marked: bool,
}

impl From<pb::ArticleHit> for HitView {
    fn from(hit: pb::ArticleHit) -> Self {
        Self { marked: is_marked_text(&hit.snippet_html), slug: hit.slug, title: hit.title, snippet: hit.snippet_html }
    }
}

/// Escaped text whose only markup is `<mark>…</mark>`: with those tags removed no `<`, `>` or
/// quote is left, and every `&` starts an entity.
pub fn is_marked_text(snippet: &str) -> bool {
    let text = snippet.replace("<mark>", "").replace("</mark>", "");
    if text.contains(['<', '>', '"']) {
        return false;
    }
    text.match_indices('&').all(|(i, _)| {
        let rest = &text[i + 1..];
        rest.find(';').is_some_and(|end| {
            let name = &rest[..end];
            !name.is_empty() && name.len() <= 8 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '#')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, category: &str, updated: i64) -> pb::Article {
        pb::Article {
            id: id.into(),
            slug: id.into(),
            title: id.to_uppercase(),
            category_id: category.into(),
            updated_at: Some(prost_types::Timestamp { seconds: updated, nanos: 0 }),
            ..Default::default()
        }
    }

    #[test]
    fn snippets_with_only_marks_and_entities_are_trusted_and_anything_else_is_not() {
        assert!(is_marked_text("Use &lt;b&gt;your&lt;/b&gt; card &amp; <mark>refunds</mark>&#39;s…"));
        assert!(is_marked_text("plain text"));
        for hostile in [
            "<script>alert(1)</script>",
            "<mark onclick=\"x\">a</mark>",
            "<img src=x onerror=alert(1)>",
            "a & b",
            "&lt",
            "<mark>a</mark><b>",
            "\" onmouseover=\"x",
        ] {
            assert!(!is_marked_text(hostile), "{hostile}");
        }
    }

    #[test]
    fn categories_list_their_articles_and_empty_ones_are_left_out() {
        let categories = vec![
            pb::KbCategory { id: "c1".into(), name: "One".into(), slug: "one".into(), ..Default::default() },
            pb::KbCategory { id: "c2".into(), name: "Empty".into(), slug: "empty".into(), ..Default::default() },
        ];
        let articles = vec![article("a", "c1", 1), article("b", "c1", 2), article("c", "", 3), article("d", "c1", 4)];
        let (views, loose) = by_category(&categories, &articles, 2);
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].count, 3);
        assert_eq!(views[0].articles.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(loose.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["c"]);
    }

    #[test]
    fn recent_articles_are_the_latest_updated_first() {
        let articles = vec![article("a", "", 5), article("b", "", 9), article("c", "", 1)];
        assert_eq!(recent(&articles, 2).iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    }
}
