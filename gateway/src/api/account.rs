//! `/api/v1/account/…` and `/api/v1/session`: sign-up, activation, password login and logout,
//! password reset and change, the captcha challenge, and who is signed in. Handlers that open a
//! session set the session and CSRF cookies; the answers to sign-up and reset requests are the
//! same whether or not the address exists.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    api::{as_caller, rfc3339},
    auth::Bearer,
    client_ip::ClientIp,
    error::ApiError,
    extract::Json,
    identity::Identity,
    session::cookie,
};

#[derive(Deserialize)]
pub struct SignUp {
    name: String,
    email: String,
    #[serde(default)]
    captcha: String,
}

#[derive(Deserialize)]
pub struct Redeem {
    token: String,
    password: String,
}

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct ResetRequest {
    email: String,
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

pub(crate) fn accepted(message: &str) -> Response {
    (StatusCode::ACCEPTED, Json(json!({ "status": "accepted", "message": message }))).into_response()
}

/// The JSON answer to a new session, with its cookies.
pub(crate) fn signed_in(identity: &Identity, session: pb::SessionResponse) -> Result<Response, ApiError> {
    let csrf = identity.csrf.token(&session.session_id);
    let mut response = Json(json!({
        "contact_id": session.contact_id,
        "csrf_token": csrf,
        "idle_expires_at": rfc3339(session.idle_expires_at.as_ref()),
        "absolute_expires_at": rfc3339(session.absolute_expires_at.as_ref()),
    }))
    .into_response();
    set_session_cookies(identity, &session, &mut response)?;
    Ok(response)
}

/// Adds a new session's cookies (session and CSRF, as long as the session lasts) to an answer:
/// the JSON API's sign-ins and the portal's pages open sessions through this one function.
pub(crate) fn set_session_cookies(
    identity: &Identity,
    session: &pb::SessionResponse,
    response: &mut Response,
) -> Result<(), ApiError> {
    let csrf = identity.csrf.token(&session.session_id);
    let max_age = session
        .absolute_expires_at
        .map(|t| t.seconds - chrono::Utc::now().timestamp())
        .unwrap_or(0)
        .max(0);
    for cookie in identity.settings.session_cookies(&session.session_id, &csrf, max_age) {
        let value = cookie.parse()?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(())
}

/// Ends the request's session at identity (if it carries one) and clears its cookies on
/// `response`: the JSON API's and the portal's logout.
pub(crate) async fn end_session(identity: &Identity, headers: &HeaderMap, response: &mut Response) -> Result<(), ApiError> {
    if let Some(session_id) = cookie(headers, identity.settings.session_cookie()) {
        identity.accounts().logout(pb::LogoutRequest { session_id }).await?;
    }
    for cookie in identity.settings.cleared_cookies() {
        let value = cookie.parse()?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(())
}

/// The page's proof-of-work solver (ours, small, no third party).
pub async fn captcha_solver() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("altcha-solver.js"),
    )
}

pub async fn captcha(State(identity): State<Identity>) -> Result<Json<Value>, ApiError> {
    let challenge = identity
        .accounts()
        .get_captcha_challenge(pb::GetCaptchaChallengeRequest {})
        .await?
        .into_inner();
    let value: Value = serde_json::from_str(&challenge.challenge_json).map_err(ApiError::internal)?;
    Ok(Json(json!({ "challenge": value })))
}

pub async fn sign_up(
    State(identity): State<Identity>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SignUp>,
) -> Result<Response, ApiError> {
    let request = identity
        .as_gateway(pb::RequestAccountRequest {
            name: body.name,
            email: body.email,
            captcha_solution: body.captcha,
            client_ip: ip.to_string(),
        })
        .await?;
    identity.accounts().request_account(request).await?;
    Ok(accepted("If this address can be used, a mail with an activation link is on its way."))
}

pub async fn activate(
    State(identity): State<Identity>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Redeem>,
) -> Result<Response, ApiError> {
    let session = identity
        .accounts()
        .activate_account(pb::ActivateAccountRequest {
            token: body.token,
            password: body.password,
            client_ip: ip.to_string(),
        })
        .await?
        .into_inner();
    signed_in(&identity, session)
}

pub async fn login(
    State(identity): State<Identity>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let request = identity
        .as_gateway(pb::LoginRequest {
            email: body.email,
            password: body.password,
            client_ip: ip.to_string(),
        })
        .await?;
    let session = identity.accounts().login(request).await?.into_inner();
    signed_in(&identity, session)
}

pub async fn logout(State(identity): State<Identity>, headers: HeaderMap) -> Result<Response, ApiError> {
    let mut response = StatusCode::NO_CONTENT.into_response();
    end_session(&identity, &headers, &mut response).await?;
    Ok(response)
}

/// The contact the caller is signed in as. The token came from identity (or from the caller,
/// in which case identity refuses to show anyone but its subject), so reading its subject
/// without verifying it here is safe: identity verifies it on `GetContact`.
pub async fn whoami(State(identity): State<Identity>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let subject = crate::auth::subject_of(&token)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the token is invalid"))?;
    let contact = identity
        .contacts()
        .get_contact(as_caller(pb::GetContactRequest { id: subject }, Some(&token))?)
        .await?
        .into_inner();
    Ok(Json(contact_json(contact)))
}

pub fn contact_json(contact: pb::Contact) -> Value {
    json!({
        "id": contact.id,
        "name": contact.name,
        "emails": contact.emails.iter().map(|e| json!({
            "address": e.address, "primary": e.primary, "verified": e.verified, "deliverable": e.deliverable,
        })).collect::<Vec<_>>(),
        "status": match pb::ContactStatus::try_from(contact.status) {
            Ok(pb::ContactStatus::Active) => "active",
            Ok(pb::ContactStatus::Blocked) => "blocked",
            _ => "pending_activation",
        },
        "group_ids": contact.group_ids,
        "has_account": contact.has_account,
        "created_at": rfc3339(contact.created_at.as_ref()),
    })
}

pub async fn request_reset(
    State(identity): State<Identity>,
    ClientIp(ip): ClientIp,
    Json(body): Json<ResetRequest>,
) -> Result<Response, ApiError> {
    let request = identity
        .as_gateway(pb::RequestPasswordResetRequest {
            email: body.email,
            client_ip: ip.to_string(),
        })
        .await?;
    identity.accounts().request_password_reset(request).await?;
    Ok(accepted("If this address has an account, a mail with a reset link is on its way."))
}

pub async fn reset(State(identity): State<Identity>, Json(body): Json<Redeem>) -> Result<Response, ApiError> {
    let session = identity
        .accounts()
        .reset_password(pb::ResetPasswordRequest {
            token: body.token,
            new_password: body.password,
        })
        .await?
        .into_inner();
    signed_in(&identity, session)
}

pub async fn change_password(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    headers: HeaderMap,
    Json(body): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let request = pb::ChangePasswordRequest {
        current_password: body.current_password,
        new_password: body.new_password,
        session_id: cookie(&headers, identity.settings.session_cookie()).unwrap_or_default(),
    };
    identity
        .accounts()
        .change_password(as_caller(request, Some(&token))?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
