//! The tickets service: tickets and their conversation in the Postgres schema `tickets`, who may
//! see them, and the consumer that turns channel messages (`InboundMessage`) into tickets.
//!
//! - `domain`: validated inputs, the ticket model, paging cursors, the error type — no I/O;
//! - `store`: the SQL, each change committed together with its outbox event;
//! - `grpc`: the tonic handlers and the authorization rules;
//! - `events`: the durable consumer of the inbound stream;
//! - `config`: the `[tickets]` section;
//! - `app`: wiring.

mod app;
mod config;
mod domain;
mod events;
mod grpc;
mod store;

pub use app::App;
pub use config::TicketsConfig;
