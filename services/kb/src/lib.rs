//! The knowledge-base service: categories and articles in the Postgres schema `kb`, Markdown
//! rendered to sanitized HTML, search, and who may read what.
//!
//! - `domain`: article rules, visibility, slugs, rendering — no I/O;
//! - `store`: the SQL;
//! - `grpc`: the tonic handlers;
//! - `app`: wiring.

mod app;
mod domain;
mod grpc;
mod store;

pub use app::App;
