//! What tickets does with NATS besides its outbox: consume the inbound stream.

pub mod inbound;
