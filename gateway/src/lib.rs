//! The HTTP gateway: the contact portal's pages at `/` and the JSON API under `/api/v1`. It owns no data: every request becomes gRPC calls to identity, tickets and kb,
//! made with the caller's own token so those services decide what the caller may see.
//!
//! - `app`: binding, the router and its middleware (body limit, tracing), graceful shutdown;
//! - `portal`: the contact portal, server-rendered pages (its own `//!` says what lives where);
//! - `api`: the JSON handlers, one module per resource;
//! - `error`: the one mapping from gRPC `Status` to an HTTP response;
//! - `extract`: the `Json`/`Query`/`Path`/`Multipart` extractors every handler uses: JSON errors
//!   naming the field, and `clean`'s rule (no control characters) on every piece of input text;
//! - `edge`: JSON 404/405 for unknown routes and methods; `nosniff` and `Cache-Control` on answers;
//! - `auth`: the bearer token extractor;
//! - `config`: the `[gateway]` section (listen address, body limit, site name, cookies, trusted
//!   proxies, rate limits);
//! - `client_ip`: the client's address (behind trusted proxies, from `X-Forwarded-For`);
//! - `rate_limit`: per-client limits on guests' tickets and sign-ups (429 with `Retry-After`);
//! - `session`: session cookies, their exchange for caller tokens, CSRF;
//! - `identity`: the client of identity's account, settings, group and contact services.

mod api;
mod app;
mod auth;
mod clean;
mod client_ip;
mod config;
mod edge;
mod error;
mod extract;
mod identity;
mod portal;
mod rate_limit;
mod session;

pub use app::App;
pub use config::GatewayConfig;
pub use rate_limit::{Rate, RateLimitSettings};
