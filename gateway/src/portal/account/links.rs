//! The pages the mailed links open: `/activate?token=` (set your password: activates and signs
//! in), `/password/reset?token=` (choose a new password: signs in) and `/sso/verify-email?token=`
//! (confirm the address a single sign-on named: links it and signs in). One page and one handler
//! for the three, told apart by [`Link`]: GET shows the form (it changes nothing, so a mail
//! scanner that follows the link spends no token), POST redeems the token at identity. A bad,
//! used or expired token is a plain page that says so and offers a new link.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;

use super::{landing, open_session};
use crate::{
    client_ip::ClientIp,
    identity::Identity,
    portal::{
        PortalState,
        chrome::Chrome,
        error::PageError,
        form::{Form, FormErrors},
    },
};

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route(
            "/activate",
            get(|chrome, query| show(Link::Activation, chrome, query))
                .post(|identity, chrome, ip, form| redeem(Link::Activation, identity, chrome, ip, form)),
        )
        .route(
            "/password/reset",
            get(|chrome, query| show(Link::Reset, chrome, query))
                .post(|identity, chrome, ip, form| redeem(Link::Reset, identity, chrome, ip, form)),
        )
        .route(
            "/sso/verify-email",
            get(|chrome, query| show(Link::VerifyEmail, chrome, query))
                .post(|identity, chrome, ip, form| redeem(Link::VerifyEmail, identity, chrome, ip, form)),
        )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Activation,
    Reset,
    VerifyEmail,
}

impl Link {
    /// What the template words the page by.
    fn kind(self) -> &'static str {
        match self {
            Self::Activation => "activation",
            Self::Reset => "reset",
            Self::VerifyEmail => "verify_email",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Self::Activation => "/activate",
            Self::Reset => "/password/reset",
            Self::VerifyEmail => "/sso/verify-email",
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct RedeemForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/link.html")]
struct LinkPage {
    chrome: Chrome,
    kind: &'static str,
    action: &'static str,
    token: String,
    next: String,
    errors: FormErrors,
    /// The token is unknown, used or expired: no form, a way to get a new link instead.
    invalid: bool,
}

async fn show(link: Link, chrome: Chrome, Query(query): Query<LinkQuery>) -> Result<Response, PageError> {
    let invalid = query.token.trim().is_empty();
    let page = LinkPage {
        chrome,
        kind: link.kind(),
        action: link.action(),
        token: query.token,
        next: query.next.unwrap_or_default(),
        errors: FormErrors::default(),
        invalid,
    };
    let status = if invalid { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, page).into_response())
}

async fn redeem(
    link: Link,
    State(identity): State<Identity>,
    chrome: Chrome,
    ClientIp(ip): ClientIp,
    Form(form): Form<RedeemForm>,
) -> Result<Response, PageError> {
    let session = match link {
        Link::Activation => {
            let request = pb::ActivateAccountRequest {
                token: form.token.clone(),
                password: form.password,
                client_ip: ip.to_string(),
            };
            identity.accounts().activate_account(request).await
        }
        Link::Reset => {
            let request = pb::ResetPasswordRequest { token: form.token.clone(), new_password: form.password };
            identity.accounts().reset_password(request).await
        }
        Link::VerifyEmail => {
            let request = pb::VerifySsoEmailRequest { token: form.token.clone() };
            identity.sso().verify_sso_email(request).await
        }
    };
    let errors = match session {
        Ok(session) => return open_session(&identity, &session.into_inner(), &landing(form.next.as_deref())),
        // "password: …" is about the new password; anything else about the link itself.
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            FormErrors::from_service(status.message(), &["password"], "link")
        }
        // A sign-on whose subject meanwhile belongs to someone else, or a blocked contact.
        Err(status) if link == Link::VerifyEmail && status.code() == tonic::Code::Unauthenticated => {
            FormErrors::from_service(status.message(), &[], "link")
        }
        Err(status) => return Err(status.into()),
    };
    let invalid = errors.get("link").is_some();
    let page = LinkPage {
        chrome,
        kind: link.kind(),
        action: link.action(),
        token: form.token,
        next: form.next.unwrap_or_default(),
        errors: if invalid { FormErrors::default() } else { errors },
        invalid,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
