//! The account pages: who a contact is to the help desk and how they prove it.
//!
//! - `signup`: request a new account (`/signup`: name, email, the proof-of-work captcha);
//! - `links`: the pages the mailed links open — set your password (`/activate`), choose a new
//!   password (`/password/reset`), confirm an address for single sign-on (`/sso/verify-email`);
//!   each shows a form on GET (mail scanners follow links; only the contact's POST redeems it);
//! - `link_identity`: `/link-identity`, the mailed link that links a Discord account to the
//!   address (GET asks, POST links; identity merges the contacts where the address had one);
//! - `login`: `/login` (password) and `/password/forgot`;
//! - `sso`: `/sso/{provider}` begins a sign-on, the API's callback lands a browser back on the
//!   portal, `/sso/confirm-email` is the "prove your email" step;
//! - `profile`: `/account` (name, password) and `POST /logout`.
//!
//! Every answer that might tell whether an address is known — sign-up, forgotten password, a
//! failed login — is the same for every address (identity decides what to mail). Sessions open
//! through the JSON API's own cookie function (`api::account::set_session_cookies`).

mod link_identity;
mod links;
mod login;
mod profile;
mod signup;
pub mod sso;

use axum::{
    Router,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use helpdesk_proto::identity::v1 as pb;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{
    api::account::set_session_cookies,
    identity::Identity,
    portal::{PortalState, error::PageError, form::next_target},
};

pub fn routes(state: &PortalState) -> Router<PortalState> {
    Router::new()
        .merge(signup::routes(state))
        .merge(links::routes())
        .merge(link_identity::routes())
        .merge(login::routes())
        .merge(sso::routes())
        .merge(profile::routes())
}

/// Where a contact goes after signing in: `next` when it is a path on this site, My Tickets when
/// none was given (a hostile one falls back to the home page, as `next_target` says).
fn landing(next: Option<&str>) -> String {
    match next.map(str::trim) {
        None | Some("") => "/tickets".into(),
        given => next_target(given),
    }
}

/// POST-redirect-GET.
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// The redirect to `to` that opens `session` in this browser.
fn open_session(identity: &Identity, session: &pb::SessionResponse, to: &str) -> Result<Response, PageError> {
    let mut response = see_other(to);
    set_session_cookies(identity, session, &mut response)?;
    Ok(response)
}

/// `?next=<target>` for a link, or "" when there is nowhere particular to go back to.
fn next_query(prefix: char, next: &str) -> String {
    if next.is_empty() {
        return String::new();
    }
    format!("{prefix}next={}", utf8_percent_encode(next, NON_ALPHANUMERIC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_land_on_my_tickets_or_a_path_of_this_site() {
        assert_eq!(landing(None), "/tickets");
        assert_eq!(landing(Some("")), "/tickets");
        assert_eq!(landing(Some("/kb/articles/x?a=1")), "/kb/articles/x?a=1");
        assert_eq!(landing(Some("//evil.example")), "/");
        assert_eq!(landing(Some("https://evil.example")), "/");
        assert_eq!(next_query('?', ""), "");
        assert_eq!(next_query('&', "/tickets?q=a b"), "&next=%2Ftickets%3Fq%3Da%20b");
    }
}
