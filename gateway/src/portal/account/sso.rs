//! Single sign-on in the portal. `/sso/{provider}?next=` begins the JSON API's flow (its state
//! cookie binds the sign-on to this browser) and keeps `next` in a cookie only the callback
//! reads. The provider sends the browser back to the API's callback (the redirect URI
//! registered at providers stays as it was), which hands a browser to [`landing`]: signed in →
//! `next`; no verified email → `/sso/confirm-email` (the ticket rides in a cookie for that page
//! only, never in a URL); failed → the login page, which says so.
//!
//! `/sso/confirm-email` asks for an address and has identity mail a link to it; the link opens
//! `/sso/verify-email` (`links`), which signs in.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use helpdesk_proto::identity::v1 as pb;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Deserialize;

use super::{landing as landing_target, next_query, see_other, set_session_cookies};
use crate::{
    api::sso::begin_redirect,
    error::ApiError,
    identity::Identity,
    portal::{
        PortalState,
        chrome::Chrome,
        error::PageError,
        form::{Form, FormErrors},
    },
    session::cookie,
};

/// Where to go once signed in; read only by the API's callback.
const NEXT_COOKIE: &str = "hd_sso_next";
const NEXT_COOKIE_PATH: &str = "/api/v1/sso";
/// The email-verification ticket, read only by the confirm-email page.
const TICKET_COOKIE: &str = "hd_sso_ticket";
const TICKET_COOKIE_PATH: &str = "/sso/confirm-email";
/// As long as the state of a sign-on in flight.
const FLOW_SECS: i64 = 600;

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/sso/confirm-email", get(confirm).post(send_confirmation))
        .route("/sso/{provider}", get(begin))
}

#[derive(Deserialize, Default)]
pub struct BeginQuery {
    next: Option<String>,
}

fn append_cookie(response: &mut Response, cookie: String) -> Result<(), ApiError> {
    let value = HeaderValue::try_from(cookie)?;
    response.headers_mut().append(header::SET_COOKIE, value);
    Ok(())
}

async fn begin(
    State(identity): State<Identity>,
    Path(provider): Path<String>,
    Query(query): Query<BeginQuery>,
) -> Result<Response, PageError> {
    let mut response = begin_redirect(&identity, provider).await?;
    let next = utf8_percent_encode(query.next.as_deref().unwrap_or(""), NON_ALPHANUMERIC).to_string();
    append_cookie(&mut response, identity.settings.flow_cookie(NEXT_COOKIE, &next, NEXT_COOKIE_PATH, FLOW_SECS))?;
    Ok(response)
}

/// A browser navigating (it accepts HTML), not an API client.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// Where the API's callback sends a browser (see the module docs). Never an error: every
/// outcome is a page.
pub fn landing(identity: &Identity, headers: &HeaderMap, outcome: Result<pb::complete_sso_response::Outcome, ApiError>) -> Response {
    let next = cookie(headers, NEXT_COOKIE).map(|raw| percent_decode_str(&raw).decode_utf8_lossy().into_owned());
    let next = next.filter(|n| !n.is_empty());
    let landed = landed(identity, next.as_deref(), outcome);
    let mut response = landed.unwrap_or_else(|error| {
        if error.status() != StatusCode::UNAUTHORIZED {
            tracing::warn!(error = %error.message(), "single sign-on did not complete");
        }
        let next = next.as_deref().map(|n| next_query('&', n)).unwrap_or_default();
        see_other(&format!("/login?sso=failed{next}"))
    });
    let cleared = identity.settings.flow_cookie(NEXT_COOKIE, "", NEXT_COOKIE_PATH, 0);
    if append_cookie(&mut response, cleared).is_err() {
        tracing::warn!("could not clear the sso next cookie");
    }
    response
}

fn landed(
    identity: &Identity,
    next: Option<&str>,
    outcome: Result<pb::complete_sso_response::Outcome, ApiError>,
) -> Result<Response, ApiError> {
    match outcome? {
        pb::complete_sso_response::Outcome::Session(session) => {
            let mut response = see_other(&landing_target(next));
            set_session_cookies(identity, &session, &mut response)?;
            Ok(response)
        }
        pb::complete_sso_response::Outcome::EmailVerificationTicket(ticket) => {
            let mut response = see_other(TICKET_COOKIE_PATH);
            let ticket = utf8_percent_encode(&ticket, NON_ALPHANUMERIC).to_string();
            append_cookie(&mut response, identity.settings.flow_cookie(TICKET_COOKIE, &ticket, TICKET_COOKIE_PATH, FLOW_SECS))?;
            Ok(response)
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ConfirmQuery {
    sent: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    email: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/confirm_email.html")]
struct ConfirmPage {
    chrome: Chrome,
    email: String,
    errors: FormErrors,
    /// The mail is on its way.
    sent: bool,
    /// This browser holds no (live) ticket: start the sign-on again.
    expired: bool,
}

fn ticket(headers: &HeaderMap) -> Option<String> {
    cookie(headers, TICKET_COOKIE).map(|raw| percent_decode_str(&raw).decode_utf8_lossy().into_owned())
}

async fn confirm(chrome: Chrome, headers: HeaderMap, Query(query): Query<ConfirmQuery>) -> ConfirmPage {
    let sent = query.sent.is_some();
    let expired = !sent && ticket(&headers).is_none();
    ConfirmPage { chrome, email: String::new(), errors: FormErrors::default(), sent, expired }
}

async fn send_confirmation(
    State(identity): State<Identity>,
    chrome: Chrome,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let Some(ticket) = ticket(&headers) else {
        let page = ConfirmPage { chrome, email: form.email, errors: FormErrors::default(), sent: false, expired: true };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let request = pb::ConfirmSsoEmailRequest { email_verification_ticket: ticket, email: form.email.clone() };
    let errors = match identity.sso().confirm_sso_email(request).await {
        Ok(_) => {
            let mut response = see_other("/sso/confirm-email?sent=1");
            append_cookie(&mut response, identity.settings.flow_cookie(TICKET_COOKIE, "", TICKET_COOKIE_PATH, 0))?;
            return Ok(response);
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            FormErrors::from_service(status.message(), &["email"], "ticket")
        }
        Err(status) => return Err(status.into()),
    };
    let expired = errors.get("ticket").is_some();
    let errors = if expired { FormErrors::default() } else { errors };
    let page = ConfirmPage { chrome, email: form.email, errors, sent: false, expired };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
