//! Ticket details: properties, the public conversation, reply with attachments, mark as complete, and live updates (an SSE changed-signal and the conversation fragment).

use axum::Router;

use crate::portal::PortalState;

pub fn routes() -> Router<PortalState> {
    Router::new()
}
