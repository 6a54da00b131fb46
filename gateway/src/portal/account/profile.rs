//! `/account`: the signed-in contact's name (identity lets a contact rename themself), their
//! addresses (read-only: an address changes only through a verified flow), and a new password
//! (the current one first). `POST /logout` ends the session at identity, not just in this
//! browser, clears the cookies and goes home. Calls carry the contact's own token; no session
//! (or an expired one) sends the visitor to log in and back here.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;

use super::see_other;
use crate::{
    api::account::end_session,
    identity::Identity,
    portal::{
        PortalState,
        chrome::Chrome,
        error::PageError,
        form::{Form, FormErrors},
    },
    session::cookie,
};

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/name", post(rename))
        .route("/account/password", post(change_password))
        .route("/logout", post(logout))
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    /// `name` or `password`: what was just saved.
    saved: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/account.html")]
struct AccountPage {
    chrome: Chrome,
    /// The name field's value: the stored name, or what was typed when it was refused.
    name: String,
    emails: Vec<String>,
    errors: FormErrors,
    /// `name`, `password` or "".
    saved: String,
}

async fn page(identity: &Identity, chrome: Chrome, name: Option<String>, errors: FormErrors, saved: String) -> Result<AccountPage, PageError> {
    chrome.require_token()?;
    let id = chrome.contact.as_ref().map(|c| c.id.clone()).ok_or(PageError::LoginRequired)?;
    let request = chrome.request(pb::GetContactRequest { id })?;
    let contact = identity.contacts().get_contact(request).await?.into_inner();
    let emails = contact.emails.iter().map(|e| e.address.clone()).collect();
    Ok(AccountPage { name: name.unwrap_or(contact.name), emails, chrome, errors, saved })
}

async fn show(State(identity): State<Identity>, chrome: Chrome, Query(query): Query<AccountQuery>) -> Result<AccountPage, PageError> {
    let saved = match query.saved.as_deref() {
        Some(what @ ("name" | "password")) => what.to_string(),
        _ => String::new(),
    };
    page(&identity, chrome, None, FormErrors::default(), saved).await
}

async fn rename(State(identity): State<Identity>, chrome: Chrome, Form(form): Form<NameForm>) -> Result<Response, PageError> {
    chrome.require_token()?;
    let id = chrome.contact.as_ref().map(|c| c.id.clone()).ok_or(PageError::LoginRequired)?;
    let mut errors = FormErrors::default();
    if form.name.trim().is_empty() {
        // Identity keeps whatever name it is given; an empty one would leave the contact nameless.
        errors.add("name", "is required");
    } else {
        let request = chrome.request(pb::UpdateContactRequest { id, name: Some(form.name.clone()), ..Default::default() })?;
        match identity.contacts().update_contact(request).await {
            Ok(_) => return Ok(see_other("/account?saved=name")),
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                errors = FormErrors::from_service(status.message(), &["name"], "name");
            }
            Err(status) => return Err(status.into()),
        }
    }
    let page = page(&identity, chrome, Some(form.name), errors, String::new()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn change_password(
    State(identity): State<Identity>,
    chrome: Chrome,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    chrome.require_token()?;
    let request = chrome.request(pb::ChangePasswordRequest {
        current_password: form.current_password,
        new_password: form.new_password,
        session_id: cookie(&headers, identity.settings.session_cookie()).unwrap_or_default(),
    })?;
    let (status, errors) = match identity.accounts().change_password(request).await {
        Ok(_) => return Ok(see_other("/account?saved=password")),
        Err(status) if status.code() == tonic::Code::InvalidArgument => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::from_service(status.message(), &["current_password", "new_password"], "new_password"),
        ),
        // Guessing the current password is throttled like a login.
        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
            (StatusCode::TOO_MANY_REQUESTS, FormErrors::from_service(status.message(), &[], "current_password"))
        }
        Err(status) => return Err(status.into()),
    };
    let page = page(&identity, chrome, None, errors, String::new()).await?;
    Ok((status, page).into_response())
}

async fn logout(State(identity): State<Identity>, headers: HeaderMap) -> Result<Response, PageError> {
    let mut response = see_other("/");
    end_session(&identity, &headers, &mut response).await?;
    Ok(response)
}
