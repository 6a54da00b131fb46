//! The identity service: contacts, staff, portal accounts and sessions, single sign-on, contact
//! groups and portal settings, in the Postgres schema `identity`, and the signer of every caller
//! token the other parts verify. Mail it needs sent (activation, reset, verification) leaves as
//! `AccountMailRequested` events through the outbox; the mail part sends it.
//!
//! - `config`: identity's own settings (sessions, links, throttling, SSO providers);
//! - `domain`: addresses, names, passwords, secrets, throttling, settings, captcha, groups,
//!   staff, SSO rules, the error type — no I/O;
//! - `store`: the SQL;
//! - `grpc`: the tonic handlers and proto conversions;
//! - `sso`: the HTTP client of OpenID Connect and OAuth 2.0 providers;
//! - `app`: wiring: keys, pool, NATS, relay, server.

mod app;
mod config;
mod domain;
mod grpc;
mod sso;
mod store;

pub use app::App;
pub use config::IdentityConfig;
pub use domain::sso::{SsoKind, SsoProviderConfig};
