//! `/api/v1/sso/…`: single sign-on. `begin` redirects the browser to the provider and remembers
//! the state in a cookie; `callback` accepts the provider's answer only with that cookie (so
//! nobody can sign a victim into the attacker's account) and opens a session — or, when the
//! provider gave no verified email, returns a ticket for `confirm-email`, whose mail link ends
//! in `verify-email`. A browser coming back from the provider is sent on to the portal's pages
//! instead of JSON (`portal::account::sso`).

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    api::account::{accepted, signed_in},
    error::ApiError,
    extract::{Json, Path, Query},
    identity::Identity,
    session::{SSO_STATE_COOKIE, cookie},
};

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ConfirmEmail {
    ticket: String,
    email: String,
}

#[derive(Deserialize)]
pub struct VerifyEmail {
    token: String,
}

pub async fn providers(State(identity): State<Identity>) -> Result<Json<Value>, ApiError> {
    let providers = identity
        .sso()
        .list_sso_providers(pb::ListSsoProvidersRequest {})
        .await?
        .into_inner()
        .providers;
    let providers: Vec<Value> = providers
        .into_iter()
        .map(|p| json!({ "id": p.id, "display_name": p.display_name, "kind": p.kind }))
        .collect();
    Ok(Json(json!({ "providers": providers })))
}

pub async fn begin(State(identity): State<Identity>, Path(id): Path<String>) -> Result<Response, ApiError> {
    begin_redirect(&identity, id).await
}

/// The redirect to the provider, with the state cookie that binds the sign-on to this browser
/// (the JSON API's `begin` and the portal's `/sso/{id}`).
pub(crate) async fn begin_redirect(identity: &Identity, id: String) -> Result<Response, ApiError> {
    let begun = identity
        .sso()
        .begin_sso(pb::BeginSsoRequest {
            provider_id: id,
            redirect_uri: String::new(),
        })
        .await?
        .into_inner();
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, begun.authorization_url)]).into_response();
    let cookie = identity.settings.sso_state_cookie(&begun.state, 600);
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie.parse()?);
    Ok(response)
}

/// The provider's redirect back. A browser navigating here (it accepts HTML) lands on a portal
/// page (`portal::account::sso::landing`); an API client gets JSON.
pub async fn callback(
    State(identity): State<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Result<Response, ApiError> {
    let outcome = complete(&identity, id, &headers, query).await;
    let mut response = if crate::portal::account::sso::wants_page(&headers) {
        crate::portal::account::sso::landing(&identity, &headers, outcome)
    } else {
        match outcome? {
            pb::complete_sso_response::Outcome::Session(session) => signed_in(&identity, session)?,
            pb::complete_sso_response::Outcome::EmailVerificationTicket(ticket) => Json(json!({
                "email_verification_ticket": ticket,
                "message": "The provider did not confirm an email address: name one to verify by mail.",
            }))
            .into_response(),
        }
    };
    let cleared = identity.settings.sso_state_cookie("", 0);
    response
        .headers_mut()
        .append(header::SET_COOKIE, cleared.parse()?);
    Ok(response)
}

/// Checks the answer against this browser's state cookie and asks identity to finish.
async fn complete(
    identity: &Identity,
    id: String,
    headers: &HeaderMap,
    query: Callback,
) -> Result<pb::complete_sso_response::Outcome, ApiError> {
    let refused = || ApiError::new(StatusCode::UNAUTHORIZED, "single sign-on failed; please try again");
    if let Some(error) = query.error {
        tracing::info!(provider = %id, %error, "the provider refused the sign-in");
        return Err(refused());
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(refused());
    };
    if cookie(headers, SSO_STATE_COOKIE).as_deref() != Some(state.as_str()) {
        tracing::warn!(provider = %id, "sso callback without this browser's state cookie");
        return Err(refused());
    }
    identity
        .sso()
        .complete_sso(pb::CompleteSsoRequest { provider_id: id, state, code })
        .await?
        .into_inner()
        .outcome
        .ok_or_else(|| ApiError::internal("identity answered without an outcome"))
}

pub async fn confirm_email(State(identity): State<Identity>, Json(body): Json<ConfirmEmail>) -> Result<Response, ApiError> {
    identity
        .sso()
        .confirm_sso_email(pb::ConfirmSsoEmailRequest {
            email_verification_ticket: body.ticket,
            email: body.email,
        })
        .await?;
    Ok(accepted("A mail with a link to confirm the address is on its way."))
}

pub async fn verify_email(State(identity): State<Identity>, Json(body): Json<VerifyEmail>) -> Result<Response, ApiError> {
    let session = identity
        .sso()
        .verify_sso_email(pb::VerifySsoEmailRequest { token: body.token })
        .await?
        .into_inner();
    signed_in(&identity, session)
}
