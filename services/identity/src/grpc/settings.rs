//! `SettingsService`: anyone may read the portal settings (the portal renders from them); only
//! admins change them. Every change publishes `PortalSettingsChanged`.

use helpdesk_kit::{auth::caller, events::timestamp};
use helpdesk_proto::identity::v1::{self as pb, settings_service_server::SettingsService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        IdentityError,
        settings::{PortalSettings, SignupMode},
    },
    grpc::require_admin,
    store::Store,
};

pub struct SettingsGrpc {
    store: Store,
}

impl SettingsGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn to_pb(settings: PortalSettings) -> pb::PortalSettings {
    pb::PortalSettings {
        password_login: settings.password_login,
        sso_providers: settings.sso_providers,
        signup_mode: match settings.signup_mode {
            SignupMode::Open => pb::SignupMode::Open,
            SignupMode::Closed => pb::SignupMode::Closed,
            SignupMode::Domains => pb::SignupMode::Domains,
        } as i32,
        signup_domains: settings.signup_domains,
        login_required_to_submit: settings.login_required_to_submit,
        login_required_for_kb: settings.login_required_for_kb,
        contacts_may_close_tickets: settings.contacts_may_close_tickets,
        captcha_enabled: settings.captcha_enabled,
        updated_at: settings.updated_at.map(timestamp),
    }
}

fn from_pb(settings: pb::PortalSettings) -> Result<PortalSettings, IdentityError> {
    let signup_mode = match pb::SignupMode::try_from(settings.signup_mode) {
        Ok(pb::SignupMode::Open) => SignupMode::Open,
        Ok(pb::SignupMode::Closed) => SignupMode::Closed,
        Ok(pb::SignupMode::Domains) => SignupMode::Domains,
        _ => {
            return Err(IdentityError::Invalid {
                field: "signup_mode",
                reason: "must be open, closed or domains",
            });
        }
    };
    PortalSettings {
        password_login: settings.password_login,
        sso_providers: settings.sso_providers,
        signup_mode,
        signup_domains: settings.signup_domains,
        login_required_to_submit: settings.login_required_to_submit,
        login_required_for_kb: settings.login_required_for_kb,
        contacts_may_close_tickets: settings.contacts_may_close_tickets,
        captcha_enabled: settings.captcha_enabled,
        updated_at: None,
    }
    .normalized()
}

#[tonic::async_trait]
impl SettingsService for SettingsGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_portal_settings(
        &self,
        _request: Request<pb::GetPortalSettingsRequest>,
    ) -> Result<Response<pb::PortalSettings>, Status> {
        Ok(Response::new(to_pb(self.store.portal_settings().await?)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_portal_settings(
        &self,
        request: Request<pb::UpdatePortalSettingsRequest>,
    ) -> Result<Response<pb::PortalSettings>, Status> {
        require_admin(&caller(&request))?;
        let settings = request
            .into_inner()
            .settings
            .ok_or(IdentityError::Invalid { field: "settings", reason: "is required" })?;
        let settings = from_pb(settings)?;
        let saved = self.store.save_portal_settings(&settings).await?;
        tracing::info!("portal settings changed");
        Ok(Response::new(to_pb(saved)))
    }
}
