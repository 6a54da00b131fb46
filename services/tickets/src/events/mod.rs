//! What tickets consumes from NATS besides publishing its outbox: inbound channel messages, and
//! identity's events about groups and settings.

mod contact_cache;
pub mod identity;
pub mod inbound;

pub use contact_cache::ContactCache;
