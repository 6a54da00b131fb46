//! What tickets consumes from NATS besides publishing its outbox: inbound channel messages, and
//! identity's events about groups and settings; both on kit's consumer runner. Here too: how the
//! store's [`TicketError`] becomes the runner's retry or poison.

mod contact_cache;
pub mod identity;
pub mod inbound;

pub use contact_cache::ContactCache;

use helpdesk_kit::consumer::Failure;

use crate::domain::TicketError;

impl From<TicketError> for Failure {
    /// The database's own failures follow kit's rule (refused as data: poison; anything else:
    /// retry). Every other answer of the store to a consumer — a ticket or an upload not there
    /// yet, an unexpected failure — is retried, and quarantined after the last delivery.
    fn from(error: TicketError) -> Self {
        match error {
            TicketError::Database(error) => error.into(),
            TicketError::Internal(error) => Failure::Retry(error),
            other => Failure::retry(other.to_string()),
        }
    }
}
