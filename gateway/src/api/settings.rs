//! `/api/v1/settings`: the portal settings. Anyone may read them (the portal renders from them);
//! changing them needs an admin's token.

use axum::extract::State;
use helpdesk_proto::identity::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::{
    api::{as_caller, rfc3339},
    auth::Bearer,
    error::ApiError,
    extract::Json,
    identity::Identity,
};

#[derive(Serialize, Deserialize)]
pub struct SettingsJson {
    password_login: bool,
    #[serde(default)]
    sso_providers: Vec<String>,
    /// `open`, `closed` or `domains`.
    signup_mode: String,
    #[serde(default)]
    signup_domains: Vec<String>,
    login_required_to_submit: bool,
    login_required_for_kb: bool,
    contacts_may_close_tickets: bool,
    captcha_enabled: bool,
    #[serde(default, skip_deserializing)]
    updated_at: Option<String>,
}

fn to_json(settings: pb::PortalSettings) -> SettingsJson {
    SettingsJson {
        password_login: settings.password_login,
        sso_providers: settings.sso_providers,
        signup_mode: match pb::SignupMode::try_from(settings.signup_mode) {
            Ok(pb::SignupMode::Closed) => "closed",
            Ok(pb::SignupMode::Domains) => "domains",
            _ => "open",
        }
        .into(),
        signup_domains: settings.signup_domains,
        login_required_to_submit: settings.login_required_to_submit,
        login_required_for_kb: settings.login_required_for_kb,
        contacts_may_close_tickets: settings.contacts_may_close_tickets,
        captcha_enabled: settings.captcha_enabled,
        updated_at: rfc3339(settings.updated_at.as_ref()),
    }
}

pub async fn get(State(identity): State<Identity>) -> Result<Json<SettingsJson>, ApiError> {
    let settings = identity
        .settings()
        .get_portal_settings(pb::GetPortalSettingsRequest {})
        .await?
        .into_inner();
    Ok(Json(to_json(settings)))
}

pub async fn put(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Json(body): Json<SettingsJson>,
) -> Result<Json<SettingsJson>, ApiError> {
    let signup_mode = match body.signup_mode.as_str() {
        "open" => pb::SignupMode::Open,
        "closed" => pb::SignupMode::Closed,
        "domains" => pb::SignupMode::Domains,
        _ => pb::SignupMode::Unspecified,
    } as i32;
    let settings = pb::PortalSettings {
        password_login: body.password_login,
        sso_providers: body.sso_providers,
        signup_mode,
        signup_domains: body.signup_domains,
        login_required_to_submit: body.login_required_to_submit,
        login_required_for_kb: body.login_required_for_kb,
        contacts_may_close_tickets: body.contacts_may_close_tickets,
        captcha_enabled: body.captcha_enabled,
        updated_at: None,
    };
    let request = as_caller(pb::UpdatePortalSettingsRequest { settings: Some(settings) }, Some(&token))?;
    let saved = identity.settings().update_portal_settings(request).await?.into_inner();
    Ok(Json(to_json(saved)))
}
