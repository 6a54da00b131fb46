//! What tickets consumes from NATS besides publishing its outbox: inbound channel messages, and
//! identity's events about groups and settings.

pub mod identity;
pub mod inbound;
