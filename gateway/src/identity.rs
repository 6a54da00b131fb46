//! The gateway's client of identity: the account, settings, group and contact services over one
//! lazily connected channel, plus a service token (from the shared service secret) for calls
//! where identity must trust what the gateway says — the client's IP address for throttling —
//! and the key of the session-bound CSRF tokens (derived from the same secret).

use std::sync::Arc;

use helpdesk_kit::auth::{bearer, service_token::ServiceTokens};
use helpdesk_proto::identity::v1::{
    account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
    group_service_client::GroupServiceClient, settings_service_client::SettingsServiceClient,
    sso_service_client::SsoServiceClient, staff_service_client::StaffServiceClient,
};
use secrecy::SecretString;
use tonic::{Request, transport::Channel};

use crate::{config::GatewayConfig, error::ApiError, session::CsrfKey};

#[derive(Clone)]
pub struct Identity {
    channel: Channel,
    tokens: Arc<ServiceTokens>,
    pub settings: Arc<GatewayConfig>,
    pub csrf: Arc<CsrfKey>,
}

impl Identity {
    pub fn new(channel: Channel, service_secret: SecretString, settings: GatewayConfig) -> Result<Self, ApiError> {
        Ok(Self {
            csrf: Arc::new(CsrfKey::new(&service_secret)?),
            tokens: Arc::new(ServiceTokens::new(channel.clone(), "gateway", service_secret)),
            channel,
            settings: Arc::new(settings),
        })
    }

    pub fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }

    pub fn settings(&self) -> SettingsServiceClient<Channel> {
        SettingsServiceClient::new(self.channel.clone())
    }

    pub fn sso(&self) -> SsoServiceClient<Channel> {
        SsoServiceClient::new(self.channel.clone())
    }

    pub fn staff(&self) -> StaffServiceClient<Channel> {
        StaffServiceClient::new(self.channel.clone())
    }

    pub fn groups(&self) -> GroupServiceClient<Channel> {
        GroupServiceClient::new(self.channel.clone())
    }

    pub fn contacts(&self) -> ContactServiceClient<Channel> {
        ContactServiceClient::new(self.channel.clone())
    }

    /// The message, sent as the gateway service (identity then trusts its `client_ip`).
    pub async fn as_gateway<T>(&self, message: T) -> Result<Request<T>, ApiError> {
        let token = self.tokens.token().await?;
        Ok(bearer(message, &token)?)
    }
}
