//! [`Chrome`]: what every portal page needs to know about the request — who is signed in (the
//! contact behind the session's caller token), the portal settings that decide what the header
//! and forms offer, the CSRF token every form carries, and where the visitor is (for `next=`).
//! Pages take it as an extractor and hand it to their template (`chrome` in `base.html`).
//!
//! Calls to services go out with [`Chrome::token`], the contact's own token: the portal never
//! uses a service token for a contact's data, so authorization stays in the services.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, Uri, request::Parts},
};
use helpdesk_proto::identity::v1 as pb;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{
    api::as_caller,
    auth,
    identity::Identity,
    portal::{assets, error::PageError, guard::VisitorId},
    session::cookie,
};

/// The signed-in contact, as the header and pages show them.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub group_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Chrome {
    pub site_name: String,
    pub contact: Option<Contact>,
    pub settings: pb::PortalSettings,
    /// This session's (or, before sign-in, this browser's) CSRF token, for every form.
    pub csrf: String,
    /// The path and query of this page, for `next=` links back to it.
    pub here: String,
    token: Option<String>,
}

impl Chrome {
    /// Reads the session's contact and the portal settings (both calls at once).
    pub async fn load(identity: &Identity, headers: &HeaderMap, uri: &Uri, visitor: Option<&str>) -> Result<Self, PageError> {
        let token = auth::bearer_token(headers);
        let mut settings_client = identity.settings();
        let settings = settings_client.get_portal_settings(pb::GetPortalSettingsRequest {});
        let contact = contact_of(identity, token.as_deref());
        let (settings, contact) = tokio::join!(settings, contact);
        let settings = settings?.into_inner();
        let contact = contact?;
        let token = token.filter(|_| contact.is_some());
        Ok(Self {
            csrf: csrf_token(identity, headers, visitor, contact.is_some()),
            site_name: identity.settings.site_name.clone(),
            here: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            contact,
            settings,
            token,
        })
    }

    /// For error pages when identity cannot be asked: an anonymous header with default settings.
    pub fn fallback(identity: &Identity, headers: &HeaderMap, uri: &Uri, visitor: Option<&str>) -> Self {
        Self {
            csrf: csrf_token(identity, headers, visitor, false),
            site_name: identity.settings.site_name.clone(),
            here: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            contact: None,
            settings: pb::PortalSettings { password_login: true, ..Default::default() },
            token: None,
        }
    }

    /// The signed-in contact's token, for calls made on their behalf.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The token, or "log in first" (which sends the visitor to log in and back here).
    pub fn require_token(&self) -> Result<&str, PageError> {
        self.token().ok_or(PageError::LoginRequired)
    }

    /// A gRPC request carrying the signed-in contact's token (none for a guest).
    pub fn request<T>(&self, message: T) -> Result<tonic::Request<T>, PageError> {
        Ok(as_caller(message, self.token())?)
    }

    pub fn signed_in(&self) -> bool {
        self.contact.is_some()
    }

    pub fn contact_name(&self) -> &str {
        self.contact.as_ref().map_or("", |c| c.name.as_str())
    }

    pub fn in_a_group(&self) -> bool {
        self.contact.as_ref().is_some_and(|c| !c.group_ids.is_empty())
    }

    /// "Request new account" is offered to visitors while sign-up is not closed.
    pub fn signup_offered(&self) -> bool {
        !self.signed_in() && self.settings.signup_mode() != pb::SignupMode::Closed
    }

    /// The knowledge base is readable (and linked) unless it requires a login nobody has.
    pub fn kb_readable(&self) -> bool {
        self.signed_in() || !self.settings.login_required_for_kb
    }

    /// A guest may file a ticket unless the portal requires a login to submit.
    pub fn may_submit(&self) -> bool {
        self.signed_in() || !self.settings.login_required_to_submit
    }

    /// Which header link is this page's (`aria-current`): `kb`, `new`, `tickets`, `account` or "".
    pub fn section(&self) -> &'static str {
        let path = self.here.split('?').next().unwrap_or("");
        match path {
            p if p == "/tickets/new" || p.starts_with("/tickets/new/") => "new",
            p if p == "/kb" || p.starts_with("/kb/") => "kb",
            p if p == "/tickets" || p.starts_with("/tickets/") => "tickets",
            p if p.starts_with("/account") => "account",
            _ => "",
        }
    }

    /// `/login?next=<this page>`; plain `/login` from the account pages themselves (coming back
    /// to the login or sign-up page is pointless, and a mailed link's token stays out of links).
    pub fn login_href(&self) -> String {
        let path = self.here.split('?').next().unwrap_or("");
        if ["/login", "/signup", "/activate", "/password/", "/sso/", "/link-identity"].iter().any(|p| path.starts_with(p)) {
            return "/login".into();
        }
        login_href(&self.here)
    }

    /// The hashed URL of an embedded static file (`portal.css`, `portal.js`, …).
    pub fn asset(&self, name: &str) -> &'static str {
        assets::url(name)
    }
}

/// `/login?next=<target>`, the target percent-encoded.
pub fn login_href(target: &str) -> String {
    if target == "/" {
        return "/login".into();
    }
    format!("/login?next={}", utf8_percent_encode(target, NON_ALPHANUMERIC))
}

/// The contact the token acts for; `None` for no token, or one identity no longer accepts (an
/// ended session, a staff token): the page is then shown as to a visitor.
async fn contact_of(identity: &Identity, token: Option<&str>) -> Result<Option<Contact>, PageError> {
    let Some(token) = token else { return Ok(None) };
    let Some(subject) = auth::subject_of(token) else { return Ok(None) };
    let request = as_caller(pb::GetContactRequest { id: subject }, Some(token))?;
    match identity.contacts().get_contact(request).await {
        Ok(contact) => {
            let contact = contact.into_inner();
            Ok(Some(Contact { id: contact.id, name: contact.name, group_ids: contact.group_ids }))
        }
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::Unauthenticated | tonic::Code::NotFound | tonic::Code::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(status) => Err(status.into()),
    }
}

/// Bound to the session while signed in (the JSON API's token: one mechanism), else to the
/// browser's visitor cookie.
fn csrf_token(identity: &Identity, headers: &HeaderMap, visitor: Option<&str>, signed_in: bool) -> String {
    let session = cookie(headers, identity.settings.session_cookie()).filter(|_| signed_in);
    match (session, visitor) {
        (Some(session), _) => identity.csrf.token(&session),
        (None, Some(visitor)) => identity.csrf.token(&visitor_binding(visitor)),
        (None, None) => String::new(),
    }
}

/// What a visitor's CSRF token is bound to: its own label, so it can never equal a session's.
pub fn visitor_binding(visitor: &str) -> String {
    format!("visitor:{visitor}")
}

impl<S> FromRequestParts<S> for Chrome
where
    S: Send + Sync,
    Identity: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_ref(state);
        let visitor = parts.extensions.get::<VisitorId>().map(|v| v.0.clone());
        Self::load(&identity, &parts.headers, &parts.uri, visitor.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_links_carry_the_page_to_come_back_to() {
        assert_eq!(login_href("/"), "/login");
        assert_eq!(login_href("/tickets?queue=all&q=a b"), "/login?next=%2Ftickets%3Fqueue%3Dall%26q%3Da%20b");
    }
}
