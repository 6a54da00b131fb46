//! The contact portal: server-rendered pages at `/` (DESIGN.md §7). Every page is plain links and
//! forms that work without JavaScript; small scripts (`gateway/static/`) add suggestions, live
//! updates and the captcha solver. Pages call the services over gRPC with the signed-in contact's
//! own token ([`chrome::Chrome::token`]), exactly like the JSON API, so authorization stays there.
//!
//! - `guard`: the layer around every page: visitor cookie, CSRF on every form, security headers,
//!   error pages;
//! - `chrome`: who is asking and what the portal settings offer them (every template's `chrome`);
//! - `form`: the form extractor, field errors for re-rendered forms, the `next=` rule;
//! - `error`: [`error::PageError`], how a handler fails;
//! - `views`: view helpers (times) and the error page;
//! - `assets`: the embedded CSS/JS under content-hashed, immutable URLs;
//! - one module per page group: `home`, `account` (sign-up, activation, login, SSO, password
//!   reset, account), `new_ticket`, `ticket` (details, reply, complete, live updates),
//!   `my_tickets`, `kb`.
//!
//! Templates live in `gateway/templates/portal/` (`base.html` is the layout; `macros.html` the
//! error summary and field messages), styles in `gateway/static/css/`.

pub mod account;
pub mod assets;
pub mod chrome;
pub mod error;
pub mod form;
pub mod guard;
pub mod home;
pub mod kb;
pub mod my_tickets;
pub mod new_ticket;
pub mod ticket;
pub mod views;

use axum::{Router, extract::FromRef, routing::get};
use helpdesk_proto::kb::v1::kb_service_client::KbServiceClient;
use tonic::transport::Channel;

use crate::{api::tickets::TicketClients, identity::Identity};

/// Files one form may attach (the new ticket and reply forms say so next to the field).
pub const MAX_FILES_PER_FORM: usize = 5;

/// The largest form body the portal reads: its files at their limit plus the text fields.
pub fn form_limit(attachment_max_bytes: usize) -> usize {
    MAX_FILES_PER_FORM * attachment_max_bytes + 1024 * 1024
}

/// The clients pages use (each handler takes the ones it needs through `FromRef`).
#[derive(Clone)]
pub struct PortalState {
    pub identity: Identity,
    pub kb: KbServiceClient<Channel>,
    pub tickets: TicketClients,
}

impl FromRef<PortalState> for Identity {
    fn from_ref(state: &PortalState) -> Self {
        state.identity.clone()
    }
}

impl FromRef<PortalState> for KbServiceClient<Channel> {
    fn from_ref(state: &PortalState) -> Self {
        state.kb.clone()
    }
}

impl FromRef<PortalState> for TicketClients {
    fn from_ref(state: &PortalState) -> Self {
        state.tickets.clone()
    }
}

/// Every page route. The router's fallback (`edge::not_found`) answers unknown paths with the
/// 404 page.
pub fn routes(state: PortalState) -> Router {
    Router::new()
        .route("/static/{file}", get(assets::serve))
        .merge(home::routes())
        .merge(account::routes())
        .merge(new_ticket::routes())
        .merge(ticket::routes())
        .merge(my_tickets::routes())
        .merge(kb::routes())
        .with_state(state)
}
