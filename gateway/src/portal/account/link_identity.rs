//! `/link-identity?token=…`: the link of the mail a Discord user's `/link` sends to an address.
//! GET shows what following it does — "link your Discord account to <address>?" — and a button;
//! it changes nothing, so a mail scanner that follows the link spends no token. The POST links at
//! identity (which merges the Discord contact into the address's contact, if there is one) and
//! says where to see the tickets now. An unknown, used or expired link, or one identity refuses,
//! is a page in the site's look that says which.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;
use tonic::Code;

use crate::{
    extract::Query,
    identity::Identity,
    portal::{PortalState, chrome::Chrome, error::PageError, form::Form},
};

pub fn routes() -> Router<PortalState> {
    Router::new().route("/link-identity", get(show).post(confirm))
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

/// What the page says; the template words each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Ask,
    Linked,
    /// No such link (or none given).
    Unknown,
    Used,
    Expired,
    /// Identity will not link it (a blocked contact on one side; it does not say which).
    Refused,
}

impl LinkState {
    fn name(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Linked => "linked",
            Self::Unknown => "unknown",
            Self::Used => "used",
            Self::Expired => "expired",
            Self::Refused => "refused",
        }
    }

    /// Identity's answer about a link that is not live: NOT_FOUND for none, FAILED_PRECONDITION
    /// for used, expired or refused, told apart by identity's words (anything else it says is
    /// shown as a refusal, which is never wrong).
    fn of(status: &tonic::Status) -> Option<Self> {
        match status.code() {
            Code::NotFound => Some(Self::Unknown),
            Code::FailedPrecondition if status.message().contains("used already") => Some(Self::Used),
            Code::FailedPrecondition if status.message().contains("expired") => Some(Self::Expired),
            Code::FailedPrecondition => Some(Self::Refused),
            _ => None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/link_identity.html")]
struct LinkIdentityPage {
    chrome: Chrome,
    state: &'static str,
    token: String,
    /// The address the link proves.
    address: String,
    /// The external identity's provider ("discord").
    provider: String,
    /// After linking: whether the contact can sign in with a password already.
    has_account: bool,
}

impl LinkIdentityPage {
    fn new(chrome: Chrome, state: LinkState) -> Self {
        Self {
            chrome,
            state: state.name(),
            token: String::new(),
            address: String::new(),
            provider: String::new(),
            has_account: false,
        }
    }

    /// A link that does not work: 404 for one that never existed, 410 for one used or expired,
    /// 403 for one identity refuses.
    fn not_live(chrome: Chrome, state: LinkState) -> Response {
        let code = match state {
            LinkState::Unknown => StatusCode::NOT_FOUND,
            LinkState::Refused => StatusCode::FORBIDDEN,
            _ => StatusCode::GONE,
        };
        (code, Self::new(chrome, state)).into_response()
    }

    /// Identity's refusal as the page that says why; anything else is the error page.
    fn dead_link(chrome: Chrome, status: tonic::Status) -> Result<Response, PageError> {
        match LinkState::of(&status) {
            Some(state) => Ok(Self::not_live(chrome, state)),
            None => Err(status.into()),
        }
    }
}

async fn preview(identity: &Identity, token: &str) -> Result<pb::IdentityLinkPreview, tonic::Status> {
    let request = pb::PreviewIdentityLinkRequest { token: token.to_string() };
    Ok(identity.accounts().preview_identity_link(request).await?.into_inner())
}

async fn show(State(identity): State<Identity>, chrome: Chrome, Query(query): Query<TokenQuery>) -> Result<Response, PageError> {
    if query.token.trim().is_empty() {
        return Ok(LinkIdentityPage::not_live(chrome, LinkState::Unknown));
    }
    match preview(&identity, &query.token).await {
        Ok(link) => Ok(LinkIdentityPage {
            token: query.token,
            address: link.email,
            provider: link.provider,
            ..LinkIdentityPage::new(chrome, LinkState::Ask)
        }
        .into_response()),
        Err(status) => LinkIdentityPage::dead_link(chrome, status),
    }
}

async fn confirm(State(identity): State<Identity>, chrome: Chrome, Form(form): Form<ConfirmForm>) -> Result<Response, PageError> {
    // The address for the answer, read while the link is still live.
    let linked = match preview(&identity, &form.token).await {
        Ok(link) => {
            let request = pb::ConfirmIdentityLinkRequest { token: form.token };
            identity.accounts().confirm_identity_link(request).await.map(|contact| (link, contact.into_inner()))
        }
        Err(status) => Err(status),
    };
    match linked {
        Ok((link, contact)) => Ok(LinkIdentityPage {
            address: link.email,
            provider: link.provider,
            has_account: contact.has_account,
            ..LinkIdentityPage::new(chrome, LinkState::Linked)
        }
        .into_response()),
        Err(status) => LinkIdentityPage::dead_link(chrome, status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_of_identity_about_a_dead_link_has_its_own_page() {
        let state = |status: tonic::Status| LinkState::of(&status);
        assert_eq!(state(tonic::Status::not_found("link not found")), Some(LinkState::Unknown));
        assert_eq!(state(tonic::Status::failed_precondition("this link was used already")), Some(LinkState::Used));
        assert_eq!(state(tonic::Status::failed_precondition("this link has expired; ask for a new one")), Some(LinkState::Expired));
        assert_eq!(state(tonic::Status::failed_precondition("this link cannot be used; contact the help desk")), Some(LinkState::Refused));
        assert_eq!(state(tonic::Status::internal("reference 42")), None, "anything else is the error page");
    }
}
