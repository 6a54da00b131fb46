//! The knowledge base: categories, articles with was-this-helpful feedback, and search results with highlighted snippets.

use axum::Router;

use crate::portal::PortalState;

pub fn routes() -> Router<PortalState> {
    Router::new()
}
