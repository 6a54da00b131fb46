//! `/login?next=` — email and password (when the portal allows password login) and one link per
//! single sign-on provider switched on — and `/password/forgot`, which mails a reset link.
//!
//! A wrong password and an unknown address get identity's one message ("wrong email or
//! password"), and a forgotten-password request the same "check your inbox" for every address:
//! neither page tells who has an account. Identity throttles repeated failures; the page then
//! says to wait (status 429) and keeps the address typed.

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
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::{landing, next_query, open_session, see_other};
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

/// A provider id as one path segment (ids are `[a-z0-9-_]`; anything else is encoded).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/login", get(show).post(submit))
        .route("/password/forgot", get(forgot).post(send_reset))
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    /// `failed` after a single sign-on that did not work out.
    sso: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// A provider's button: its name and `/sso/{id}?next=…`.
pub struct Provider {
    pub name: String,
    pub href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    /// The `next` given, for the form's hidden field (checked again when it is used).
    next: String,
    errors: FormErrors,
    providers: Vec<Provider>,
    sso_failed: bool,
}

async fn providers(identity: &Identity, chrome: &Chrome, next: &str) -> Result<Vec<Provider>, PageError> {
    if chrome.settings.sso_providers.is_empty() {
        return Ok(Vec::new());
    }
    let listed = identity.sso().list_sso_providers(pb::ListSsoProvidersRequest {}).await?.into_inner().providers;
    Ok(listed
        .into_iter()
        .filter(|p| chrome.settings.sso_providers.contains(&p.id))
        .map(|p| Provider {
            href: format!("/sso/{}{}", utf8_percent_encode(&p.id, SEGMENT), next_query('?', next)),
            name: p.display_name,
        })
        .collect())
}

async fn page(identity: &Identity, chrome: Chrome, email: String, next: String, errors: FormErrors, sso_failed: bool) -> Result<LoginPage, PageError> {
    let providers = providers(identity, &chrome, &next).await?;
    Ok(LoginPage { chrome, email, next, errors, providers, sso_failed })
}

async fn show(State(identity): State<Identity>, chrome: Chrome, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    if chrome.signed_in() {
        return Ok(see_other(&landing(query.next.as_deref())));
    }
    let failed = query.sso.as_deref() == Some("failed");
    let page = page(&identity, chrome, String::new(), query.next.unwrap_or_default(), FormErrors::default(), failed).await?;
    Ok(page.into_response())
}

async fn submit(
    State(identity): State<Identity>,
    chrome: Chrome,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let request = identity
        .as_gateway(pb::LoginRequest { email: form.email.clone(), password: form.password, client_ip: ip.to_string() })
        .await?;
    let (status, errors) = match identity.accounts().login(request).await {
        Ok(session) => return open_session(&identity, &session.into_inner(), &landing(form.next.as_deref())),
        // Wrong password and unknown address alike; a malformed address; password login off.
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::Unauthenticated | tonic::Code::InvalidArgument | tonic::Code::PermissionDenied
            ) =>
        {
            (StatusCode::UNPROCESSABLE_ENTITY, FormErrors::from_service(status.message(), &["email", "password"], "email"))
        }
        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
            (StatusCode::TOO_MANY_REQUESTS, FormErrors::from_service(status.message(), &[], "email"))
        }
        Err(status) => return Err(status.into()),
    };
    let page = page(&identity, chrome, form.email, form.next.unwrap_or_default(), errors, false).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize, Default)]
pub struct ForgotQuery {
    sent: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    email: String,
    errors: FormErrors,
    sent: bool,
}

async fn forgot(chrome: Chrome, Query(query): Query<ForgotQuery>) -> ForgotPage {
    ForgotPage { chrome, email: String::new(), errors: FormErrors::default(), sent: query.sent.is_some() }
}

async fn send_reset(
    State(identity): State<Identity>,
    chrome: Chrome,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    let request = identity
        .as_gateway(pb::RequestPasswordResetRequest { email: form.email.clone(), client_ip: ip.to_string() })
        .await?;
    match identity.accounts().request_password_reset(request).await {
        Ok(_) => Ok(see_other("/password/forgot?sent=1")),
        // Only the address's form is judged here, never whether it is known.
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            let errors = FormErrors::from_service(status.message(), &["email"], "email");
            let page = ForgotPage { chrome, email: form.email, errors, sent: false };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(status) => Err(status.into()),
    }
}
