//! The new ticket form: subject, message, category with its custom fields, due date, priority, attachments, guests; knowledge-base suggestions while the subject is typed.

use axum::Router;

use crate::portal::PortalState;

pub fn routes() -> Router<PortalState> {
    Router::new()
}
