//! `/api/v1/kb`: search and read articles; anonymous callers see public articles only (the kb
//! service decides).

use axum::{
    Json,
    extract::{Path, Query, State},
};
use helpdesk_proto::kb::v1::{self as pb, kb_service_client::KbServiceClient};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use crate::{
    api::{as_caller, rfc3339},
    auth::MaybeBearer,
    error::ApiError,
};

#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct HitJson {
    id: String,
    slug: String,
    title: String,
    snippet_html: String,
}

#[derive(Serialize)]
pub struct ArticleJson {
    id: String,
    slug: String,
    title: String,
    body_html: String,
    tags: Vec<String>,
    updated_at: Option<String>,
}

pub async fn search(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<HitJson>>, ApiError> {
    let request = pb::SearchArticlesRequest {
        query: query.q,
        limit: query.limit.unwrap_or(0),
    };
    let hits = kb.search_articles(as_caller(request, token.as_deref())?).await?.into_inner().hits;
    Ok(Json(
        hits.into_iter()
            .map(|h| HitJson { id: h.id, slug: h.slug, title: h.title, snippet_html: h.snippet_html })
            .collect(),
    ))
}

pub async fn article(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Path(slug): Path<String>,
) -> Result<Json<ArticleJson>, ApiError> {
    let request = pb::GetArticleRequest {
        key: Some(pb::get_article_request::Key::Slug(slug)),
    };
    let article = kb.get_article(as_caller(request, token.as_deref())?).await?.into_inner();
    Ok(Json(ArticleJson {
        updated_at: rfc3339(article.updated_at.as_ref()),
        id: article.id,
        slug: article.slug,
        title: article.title,
        body_html: article.body_html,
        tags: article.tags,
    }))
}
