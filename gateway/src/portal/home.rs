//! The support center's home (`/`): the site's name, a knowledge-base search box, recent articles
//! and categories (when the KB is readable), and the ways to file and follow tickets.

use askama::Template;
use askama_web::WebTemplate;
use axum::{Router, extract::State, routing::get};
use helpdesk_proto::kb::v1::{self as pb, kb_service_client::KbServiceClient};
use tonic::transport::Channel;

use crate::portal::{
    PortalState,
    chrome::{Chrome, login_href},
    error::PageError,
};

pub fn routes() -> Router<PortalState> {
    Router::new().route("/", get(home))
}

/// An article or category as a link.
pub struct Link {
    pub slug: String,
    pub title: String,
}

pub struct CategoryLink {
    pub slug: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/home.html")]
struct Home {
    chrome: Chrome,
    articles: Vec<Link>,
    categories: Vec<CategoryLink>,
    login_new_ticket: String,
}

async fn home(State(mut kb): State<KbServiceClient<Channel>>, chrome: Chrome) -> Result<Home, PageError> {
    let (mut articles, mut categories) = (Vec::new(), Vec::new());
    if chrome.kb_readable() {
        let mut kb2 = kb.clone();
        let listed = kb.list_articles(chrome.request(pb::ListArticlesRequest { page_size: 6, ..Default::default() })?);
        let cats = kb2.list_categories(chrome.request(pb::ListCategoriesRequest {})?);
        let (listed, cats) = tokio::join!(listed, cats);
        articles = listed?.into_inner().articles.into_iter().map(|a| Link { slug: a.slug, title: a.title }).collect();
        categories = cats?.into_inner().categories.into_iter().map(|c| CategoryLink { slug: c.slug, name: c.name }).collect();
    }
    Ok(Home { login_new_ticket: login_href("/tickets/new"), chrome, articles, categories })
}
