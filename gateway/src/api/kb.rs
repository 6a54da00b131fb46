//! `/api/v1/kb`: search, suggestions while a subject is typed, article pages, categories and
//! suggestion feedback. The caller's token (if any) is forwarded and the kb service decides what
//! it may read; anonymous callers see public articles only.
//!
//! While the portal setting "login required to read the KB" is on, anonymous callers get 401 from
//! every route here ([`login_gate`], which reads the setting from identity on each anonymous call,
//! so a change applies at once).

use axum::{
    Router,
    extract::{FromRef, State},
    http::StatusCode,
    routing::{get, post},
};
use helpdesk_proto::kb::v1::{self as pb, kb_service_client::KbServiceClient};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use crate::{
    api::{as_caller, rfc3339},
    auth::MaybeBearer,
    error::ApiError,
    extract::{Json, Path, Query},
};

/// The kb routes, for any router state that holds a kb client.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    KbServiceClient<Channel>: FromRef<S>,
{
    Router::new()
        .route("/api/v1/kb/search", get(search))
        .route("/api/v1/kb/suggest", get(suggest))
        .route("/api/v1/kb/articles/{slug}", get(article))
        .route("/api/v1/kb/categories", get(categories))
        .route("/api/v1/kb/feedback", post(feedback))
}

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
    /// Escaped text with the matched words in `<mark>`.
    snippet_html: String,
}

#[derive(Serialize)]
pub struct ArticleJson {
    id: String,
    slug: String,
    title: String,
    body_html: String,
    category_id: Option<String>,
    tags: Vec<String>,
    updated_at: Option<String>,
}

#[derive(Serialize)]
pub struct CategoryJson {
    id: String,
    name: String,
    slug: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKindJson {
    Impression,
    Click,
    Answered,
}

#[derive(Deserialize)]
pub struct FeedbackJson {
    article_id: String,
    kind: FeedbackKindJson,
    #[serde(default)]
    query: String,
}

fn hits(response: pb::SearchArticlesResponse) -> Json<Vec<HitJson>> {
    Json(
        response
            .hits
            .into_iter()
            .map(|h| HitJson { id: h.id, slug: h.slug, title: h.title, snippet_html: h.snippet_html })
            .collect(),
    )
}

pub async fn search(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<HitJson>>, ApiError> {
    let request = pb::SearchArticlesRequest { query: query.q, limit: query.limit.unwrap_or(0) };
    Ok(hits(kb.search_articles(as_caller(request, token.as_deref())?).await?.into_inner()))
}

/// Suggestions for a subject being typed: keep the query exactly as typed, since a trailing space
/// says the last word is complete.
pub async fn suggest(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<HitJson>>, ApiError> {
    let request = pb::SearchArticlesRequest { query: query.q, limit: query.limit.unwrap_or(5) };
    Ok(hits(kb.suggest_articles(as_caller(request, token.as_deref())?).await?.into_inner()))
}

pub async fn article(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Path(slug): Path<String>,
) -> Result<Json<ArticleJson>, ApiError> {
    let request = pb::GetArticleRequest { key: Some(pb::get_article_request::Key::Slug(slug)) };
    let article = kb.get_article(as_caller(request, token.as_deref())?).await?.into_inner();
    Ok(Json(ArticleJson {
        updated_at: rfc3339(article.updated_at.as_ref()),
        id: article.id,
        slug: article.slug,
        title: article.title,
        body_html: article.body_html,
        category_id: Some(article.category_id).filter(|c| !c.is_empty()),
        tags: article.tags,
    }))
}

pub async fn categories(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
) -> Result<Json<Vec<CategoryJson>>, ApiError> {
    let request = pb::ListCategoriesRequest {};
    let response = kb.list_categories(as_caller(request, token.as_deref())?).await?.into_inner();
    Ok(Json(
        response
            .categories
            .into_iter()
            .map(|c| CategoryJson { id: c.id, name: c.name, slug: c.slug, description: c.description })
            .collect(),
    ))
}

/// Records that a suggestion was shown, opened, or answered the question (the contact left
/// without filing). 204 on success; 404 for an article the caller may not read.
pub async fn feedback(
    State(mut kb): State<KbServiceClient<Channel>>,
    MaybeBearer(token): MaybeBearer,
    Json(body): Json<FeedbackJson>,
) -> Result<StatusCode, ApiError> {
    let kind = match body.kind {
        FeedbackKindJson::Impression => pb::FeedbackKind::Impression,
        FeedbackKindJson::Click => pb::FeedbackKind::Click,
        FeedbackKindJson::Answered => pb::FeedbackKind::Answered,
    };
    let request = pb::RecordFeedbackRequest { article_id: body.article_id, kind: kind as i32, query: body.query };
    kb.record_feedback(as_caller(request, token.as_deref())?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Anonymous callers pass only while the portal does not require a login to read the KB.
pub async fn login_gate(
    State(identity): State<crate::identity::Identity>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.headers().contains_key(axum::http::header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let settings = identity
        .settings()
        .get_portal_settings(helpdesk_proto::identity::v1::GetPortalSettingsRequest {})
        .await;
    match settings {
        Ok(settings) if settings.get_ref().login_required_for_kb => {
            ApiError::new(StatusCode::UNAUTHORIZED, "sign in to read the knowledge base").into_response()
        }
        Ok(_) => next.run(request).await,
        Err(status) => ApiError::from(status).into_response(),
    }
}
