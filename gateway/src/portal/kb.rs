//! The knowledge base: `/kb` (categories with their articles), `/kb/categories/{slug}`,
//! `/kb/articles/{slug}` with a "was this helpful?" form, and `/kb/search?q=` with highlighted
//! snippets. `view` shapes the service's messages for the templates.
//!
//! What a reader may see is the kb service's decision, made with the visitor's own token: drafts
//! and internal articles simply never come back (a slug the reader may not read is the 404 page).
//! The portal adds one rule of its own, the setting "login required to read the KB": a guest is
//! then sent to log in and back ([`readable`]), here and on the home page.
//!
//! "Yes, it helped" is recorded as the feedback API's `answered` signal (the same one the new
//! ticket page's "this answered my question" sends); the API has no "not helpful" signal, so "No"
//! only changes what the page offers next (filing a ticket).

pub mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use helpdesk_proto::kb::v1::{self as pb, kb_service_client::KbServiceClient};
use serde::Deserialize;
use tonic::transport::Channel;

use crate::portal::{
    PortalState,
    chrome::{Chrome, login_href},
    error::PageError,
    form::{Form, FormErrors},
    views::Moment,
};
use view::{ArticleLink, CategoryView, HitView};

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/kb", get(index))
        .route("/kb/search", get(search))
        .route("/kb/categories/{slug}", get(category))
        .route("/kb/articles/{slug}", get(article))
        .route("/kb/articles/{slug}/feedback", post(feedback))
}

type Kb = KbServiceClient<Channel>;

/// Articles one index or category page lists at most (200 per call, the service's page limit).
const MAX_LISTED: usize = 1000;
/// Articles shown under each category on the index page before "all N articles".
const PER_CATEGORY: usize = 6;
/// Search results per page.
const SEARCH_LIMIT: u32 = 20;

/// Guests are sent to log in while the KB requires it.
pub fn readable(chrome: &Chrome) -> Result<(), PageError> {
    if chrome.kb_readable() { Ok(()) } else { Err(PageError::LoginRequired) }
}

/// The articles the reader may see (in one category, or all), in the service's order.
pub async fn list_articles(kb: &mut Kb, chrome: &Chrome, category_id: &str) -> Result<Vec<pb::Article>, PageError> {
    let mut articles = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListArticlesRequest { category_id: category_id.into(), page_size: 200, page_token };
        let page = kb.list_articles(chrome.request(request)?).await?.into_inner();
        articles.extend(page.articles);
        if page.next_page_token.is_empty() || articles.len() >= MAX_LISTED {
            return Ok(articles);
        }
        page_token = page.next_page_token;
    }
}

pub async fn list_categories(kb: &mut Kb, chrome: &Chrome) -> Result<Vec<pb::KbCategory>, PageError> {
    Ok(kb.list_categories(chrome.request(pb::ListCategoriesRequest {})?).await?.into_inner().categories)
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/kb/index.html")]
struct IndexPage {
    chrome: Chrome,
    categories: Vec<CategoryView>,
    loose: Vec<ArticleLink>,
}

async fn index(State(mut kb): State<Kb>, chrome: Chrome) -> Result<IndexPage, PageError> {
    readable(&chrome)?;
    let mut kb2 = kb.clone();
    let (categories, articles) = tokio::join!(list_categories(&mut kb, &chrome), list_articles(&mut kb2, &chrome, ""));
    let (categories, loose) = view::by_category(&categories?, &articles?, PER_CATEGORY);
    Ok(IndexPage { chrome, categories, loose })
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/kb/category.html")]
struct CategoryPage {
    chrome: Chrome,
    name: String,
    description: String,
    articles: Vec<ArticleLink>,
}

async fn category(State(mut kb): State<Kb>, chrome: Chrome, Path(slug): Path<String>) -> Result<CategoryPage, PageError> {
    readable(&chrome)?;
    let found = list_categories(&mut kb, &chrome).await?.into_iter().find(|c| c.slug == slug).ok_or(PageError::NotFound)?;
    let articles = list_articles(&mut kb, &chrome, &found.id).await?;
    Ok(CategoryPage {
        chrome,
        name: found.name,
        description: found.description,
        articles: articles.iter().map(ArticleLink::from).collect(),
    })
}

#[derive(Deserialize)]
struct ArticleQuery {
    /// `yes` or `no` after the feedback form was sent (POST-redirect-GET).
    feedback: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/kb/article.html")]
struct ArticlePage {
    chrome: Chrome,
    slug: String,
    title: String,
    /// Rendered from Markdown and cleaned by ammonia in the kb service.
    body_html: String,
    updated: Option<Moment>,
    category: Option<pb::KbCategory>,
    /// "" before feedback, else `yes` or `no`: the template thanks and offers what fits.
    feedback: &'static str,
    new_ticket_href: String,
}

async fn article(
    State(mut kb): State<Kb>,
    chrome: Chrome,
    Path(slug): Path<String>,
    Query(query): Query<ArticleQuery>,
) -> Result<ArticlePage, PageError> {
    readable(&chrome)?;
    let mut kb2 = kb.clone();
    let (found, categories) = tokio::join!(get_article(&mut kb, &chrome, slug), list_categories(&mut kb2, &chrome));
    let found = found?;
    let category = categories?.into_iter().find(|c| c.id == found.category_id && !found.category_id.is_empty());
    let feedback = match query.feedback.as_deref() {
        Some("yes") => "yes",
        Some("no") => "no",
        _ => "",
    };
    Ok(ArticlePage {
        new_ticket_href: new_ticket_href(&chrome),
        updated: Moment::from_timestamp(found.updated_at.as_ref()),
        slug: found.slug,
        title: found.title,
        body_html: found.body_html,
        category,
        feedback,
        chrome,
    })
}

/// The article the reader may read, else the 404 page (the service answers `NOT_FOUND`).
async fn get_article(kb: &mut Kb, chrome: &Chrome, slug: String) -> Result<pb::Article, PageError> {
    let request = pb::GetArticleRequest { key: Some(pb::get_article_request::Key::Slug(slug)) };
    Ok(kb.get_article(chrome.request(request)?).await?.into_inner())
}

/// Where "New ticket" goes: the form, or logging in first when guests may not file.
fn new_ticket_href(chrome: &Chrome) -> String {
    if chrome.may_submit() { "/tickets/new".into() } else { login_href("/tickets/new") }
}

#[derive(Deserialize)]
struct FeedbackForm {
    helpful: Option<String>,
}

/// Records "yes, it helped" and comes back to the article, which then thanks the reader.
async fn feedback(
    State(mut kb): State<Kb>,
    chrome: Chrome,
    Path(slug): Path<String>,
    Form(form): Form<FeedbackForm>,
) -> Result<Response, PageError> {
    readable(&chrome)?;
    let found = get_article(&mut kb, &chrome, slug).await?;
    let answer = match form.helpful.as_deref() {
        Some("yes") => {
            let request = pb::RecordFeedbackRequest {
                article_id: found.id,
                kind: pb::FeedbackKind::Answered as i32,
                query: String::new(),
            };
            kb.record_feedback(chrome.request(request)?).await?;
            "yes"
        }
        Some("no") => "no",
        _ => return Err(PageError::bad_request("choose Yes or No")),
    };
    Ok(Redirect::to(&format!("/kb/articles/{}?feedback={answer}#feedback", found.slug)).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/kb/search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    /// Whether a search ran (an empty query shows only the form).
    searched: bool,
    hits: Vec<HitView>,
    errors: FormErrors,
    new_ticket_href: String,
}

async fn search(State(mut kb): State<Kb>, chrome: Chrome, Query(query): Query<SearchQuery>) -> Result<Response, PageError> {
    readable(&chrome)?;
    let mut page = SearchPage {
        new_ticket_href: new_ticket_href(&chrome),
        q: query.q,
        searched: false,
        hits: Vec::new(),
        errors: FormErrors::default(),
        chrome,
    };
    if page.q.trim().is_empty() {
        return Ok(page.into_response());
    }
    let request = pb::SearchArticlesRequest { query: page.q.clone(), limit: SEARCH_LIMIT };
    match kb.search_articles(page.chrome.request(request)?).await {
        Ok(found) => {
            page.searched = true;
            page.hits = found.into_inner().hits.into_iter().map(HitView::from).collect();
            Ok(page.into_response())
        }
        // A query the service refuses (too long, say): the form again, with the reason.
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            page.errors = FormErrors::from_service(status.message(), &["query"], "query");
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(status) => Err(status.into()),
    }
}
