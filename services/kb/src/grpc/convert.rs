//! Store and index values → proto messages.

use helpdesk_kit::events::timestamp;
use helpdesk_proto::kb::v1 as pb;

use crate::{
    index::IndexHit,
    store::{Article, Category, Deflection},
};

pub fn article(article: Article) -> pb::Article {
    pb::Article {
        id: article.id.to_string(),
        slug: article.slug,
        title: article.title,
        body_markdown: article.body_markdown,
        body_html: article.body_html,
        category_id: article.category_id.map(|id| id.to_string()).unwrap_or_default(),
        tags: article.tags,
        status: article.status as i32,
        visibility: article.visibility as i32,
        created_at: Some(timestamp(article.created_at)),
        updated_at: Some(timestamp(article.updated_at)),
    }
}

pub fn category(category: Category) -> pb::KbCategory {
    pb::KbCategory {
        id: category.id.to_string(),
        name: category.name,
        slug: category.slug,
        description: category.description,
        position: u32::try_from(category.position).unwrap_or(0),
    }
}

pub fn hit(hit: IndexHit) -> pb::ArticleHit {
    pb::ArticleHit { id: hit.id.to_string(), slug: hit.slug, title: hit.title, snippet_html: hit.snippet_html, score: hit.score }
}

pub fn deflection(row: Deflection) -> pb::ArticleDeflection {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    pb::ArticleDeflection {
        article_id: row.article_id.to_string(),
        title: row.title,
        impressions: count(row.impressions),
        clicks: count(row.clicks),
        answered: count(row.answered),
    }
}
