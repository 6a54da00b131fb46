//! Sign-up, activation (set your password), login (password and SSO buttons, the prove-your-email step), password reset, the account page and logout.

use axum::Router;

use crate::portal::PortalState;

pub fn routes() -> Router<PortalState> {
    Router::new()
}
