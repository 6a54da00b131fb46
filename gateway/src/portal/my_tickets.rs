//! My Tickets: Pending / Completed / All with counts, categories with counts, filters, sort, search, keyset pages, the group view and the group's support-time alert.

use axum::Router;

use crate::portal::PortalState;

pub fn routes() -> Router<PortalState> {
    Router::new()
}
