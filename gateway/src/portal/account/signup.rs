//! `/signup`: request a new account. The answer is the same whatever the address (identity mails
//! an activation link, a reset link to someone who has an account, or nothing); the form draws on
//! the JSON API's per-client sign-up limit. With the captcha on, the page carries a challenge
//! from identity that `altcha-solver.js` solves in the page; without JavaScript the page says
//! that solving it needs JavaScript, and identity refuses the unsolved form like any other error.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Query, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;

use super::see_other;
use crate::{
    client_ip::ClientIp,
    identity::Identity,
    portal::{
        PortalState,
        chrome::Chrome,
        error::PageError,
        form::{Form, FormErrors},
    },
    rate_limit,
};

pub fn routes(state: &PortalState) -> Router<PortalState> {
    let post = axum::routing::post(submit)
        .route_layer(middleware::from_fn_with_state(state.signups.clone(), rate_limit::limit))
        .route_layer(middleware::from_fn(as_page));
    Router::new().route("/signup", get(show).merge(post))
}

/// The limiter answers JSON for the API; a page gets the "too many requests" page instead.
async fn as_page(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    let mut page = PageError::TooManyRequests.into_response();
    if let Some(wait) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut().insert(header::RETRY_AFTER, wait.clone());
    }
    page
}

#[derive(Deserialize, Default)]
pub struct SignUpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    captcha: String,
}

#[derive(Deserialize)]
pub struct Shown {
    sent: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/account/signup.html")]
struct SignUpPage {
    chrome: Chrome,
    form: SignUpForm,
    errors: FormErrors,
    /// The altcha challenge (JSON) when the captcha is on, else "".
    challenge: String,
    /// The request was taken: "check your inbox".
    sent: bool,
}

impl SignUpPage {
    fn closed(&self) -> bool {
        self.chrome.settings.signup_mode() == pb::SignupMode::Closed
    }

    /// The domains sign-up is open to, when it is limited to some.
    fn domains(&self) -> String {
        if self.chrome.settings.signup_mode() == pb::SignupMode::Domains {
            self.chrome.settings.signup_domains.join(", ")
        } else {
            String::new()
        }
    }
}

async fn challenge(identity: &Identity, chrome: &Chrome) -> Result<String, PageError> {
    if !chrome.settings.captcha_enabled || chrome.settings.signup_mode() == pb::SignupMode::Closed {
        return Ok(String::new());
    }
    let challenge = identity.accounts().get_captcha_challenge(pb::GetCaptchaChallengeRequest {}).await?;
    Ok(challenge.into_inner().challenge_json)
}

async fn show(State(identity): State<Identity>, chrome: Chrome, Query(shown): Query<Shown>) -> Result<Response, PageError> {
    let sent = shown.sent.is_some();
    let challenge = if sent { String::new() } else { challenge(&identity, &chrome).await? };
    let page = SignUpPage { chrome, form: SignUpForm::default(), errors: FormErrors::default(), challenge, sent };
    Ok(page.into_response())
}

async fn submit(
    State(identity): State<Identity>,
    chrome: Chrome,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignUpForm>,
) -> Result<Response, PageError> {
    if chrome.settings.signup_mode() == pb::SignupMode::Closed {
        let page = SignUpPage { chrome, form, errors: FormErrors::default(), challenge: String::new(), sent: false };
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let request = identity
        .as_gateway(pb::RequestAccountRequest {
            name: form.name.clone(),
            email: form.email.clone(),
            captcha_solution: form.captcha.clone(),
            client_ip: ip.to_string(),
        })
        .await?;
    let errors = match identity.accounts().request_account(request).await {
        Ok(_) => return Ok(see_other("/signup?sent=1")),
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            FormErrors::from_service(status.message(), &["name", "email", "captcha"], "email")
        }
        // Closed since the page was shown, or an address outside the allowed domains.
        Err(status) if status.code() == tonic::Code::PermissionDenied => {
            let mut errors = FormErrors::default();
            errors.add("email", status.message());
            errors
        }
        Err(status) => return Err(status.into()),
    };
    let challenge = challenge(&identity, &chrome).await?;
    let form = SignUpForm { captcha: String::new(), ..form };
    let page = SignUpPage { chrome, form, errors, challenge, sent: false };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
