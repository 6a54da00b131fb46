//! The support center's home (`/`): the site's name, a knowledge-base search box, the most
//! recently updated articles and the categories (only while the KB is readable to this visitor),
//! and calls to action that follow the portal settings (file a ticket or log in first, request an
//! account while sign-up is open, log in to read the KB when it requires a login).
//!
//! "Recent", not "popular": the only popularity figures the kb service keeps (the feedback counts
//! of the deflection report) are for staff, and the home page calls with the visitor's token.

use askama::Template;
use askama_web::WebTemplate;
use axum::{Router, extract::State, routing::get};
use helpdesk_proto::kb::v1::kb_service_client::KbServiceClient;
use tonic::transport::Channel;

use crate::portal::{
    PortalState,
    chrome::{Chrome, login_href},
    error::PageError,
    kb::{
        list_articles, list_categories,
        view::{self, ArticleLink, CategoryView},
    },
};

pub fn routes() -> Router<PortalState> {
    Router::new().route("/", get(home))
}

/// Recent articles the home page lists.
const RECENT: usize = 6;

#[derive(Template, WebTemplate)]
#[template(path = "portal/home.html")]
struct Home {
    chrome: Chrome,
    articles: Vec<ArticleLink>,
    categories: Vec<CategoryView>,
    login_new_ticket: String,
    login_kb: String,
}

async fn home(State(mut kb): State<KbServiceClient<Channel>>, chrome: Chrome) -> Result<Home, PageError> {
    let (mut articles, mut categories) = (Vec::new(), Vec::new());
    if chrome.kb_readable() {
        let mut kb2 = kb.clone();
        let (listed, cats) = tokio::join!(list_articles(&mut kb, &chrome, ""), list_categories(&mut kb2, &chrome));
        let listed = listed?;
        articles = view::recent(&listed, RECENT);
        categories = view::by_category(&cats?, &listed, 0).0;
    }
    Ok(Home { login_new_ticket: login_href("/tickets/new"), login_kb: login_href("/kb"), chrome, articles, categories })
}
