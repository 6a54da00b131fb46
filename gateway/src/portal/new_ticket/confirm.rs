//! `/confirm-ticket?token=…`: the link of the mail a guest gets when they filed in an existing
//! contact's name. GET only shows a button (mail scanners that follow links must not confirm
//! anything); the POST confirms through identity, which releases the held ticket.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;

use crate::{
    extract::Query,
    identity::Identity,
    portal::{chrome::Chrome, error::PageError, form::Form},
};

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/new_ticket/confirm.html")]
pub struct ConfirmPage {
    chrome: Chrome,
    token: String,
    /// `ask`, `confirmed` or `invalid`: the template words each state.
    state: &'static str,
}

pub async fn show(chrome: Chrome, Query(query): Query<TokenQuery>) -> ConfirmPage {
    let state = if query.token.trim().is_empty() { "invalid" } else { "ask" };
    ConfirmPage { chrome, token: query.token, state }
}

pub async fn confirm(State(identity): State<Identity>, chrome: Chrome, Form(form): Form<ConfirmForm>) -> Result<Response, PageError> {
    let request = pb::ConfirmTicketRequest { token: form.token };
    match identity.accounts().confirm_ticket(identity.as_gateway(request).await?).await {
        Ok(_) => Ok(ConfirmPage { chrome, token: String::new(), state: "confirmed" }.into_response()),
        Err(status) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition) => {
            let page = ConfirmPage { chrome, token: String::new(), state: "invalid" };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(status) => Err(status.into()),
    }
}
