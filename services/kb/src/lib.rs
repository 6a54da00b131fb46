//! The knowledge-base service: categories and articles in the Postgres schema `kb`, Markdown
//! rendered to sanitized HTML, an in-memory tantivy index for search and suggestions that every
//! replica keeps current from the service's own events, and suggestion analytics.
//!
//! - `domain`: rules, visibility, rendering — no I/O;
//! - `store`: the SQL;
//! - `index`: the tantivy index and query building;
//! - `events`: rebuilding the index at start and following `ArticleChanged`;
//! - `grpc`: the tonic handlers;
//! - `config`: the `[kb]` section;
//! - `app`: wiring.

mod app;
mod config;
mod domain;
mod events;
mod grpc;
pub mod index;
mod store;

pub use app::App;
pub use config::KbConfig;
pub use domain::{Audience, Status, Visibility, plain_text};
/// The slug rule, for clients that derive slugs themselves (`helpdesk kb import` from file names).
pub use domain::slugify;
