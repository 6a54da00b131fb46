//! Tokens for internal callers: a service (or the CLI) trades the shared service secret for a
//! short-lived service token at identity, and reuses it until shortly before it expires.

use std::time::{Duration, Instant};

use helpdesk_proto::identity::v1::{IssueServiceTokenRequest, token_service_client::TokenServiceClient};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tonic::transport::Channel;

pub struct ServiceTokens {
    client: TokenServiceClient<Channel>,
    service: String,
    secret: SecretString,
    cached: Mutex<Option<(String, Instant)>>,
}

impl ServiceTokens {
    pub fn new(channel: Channel, service: &str, secret: SecretString) -> Self {
        Self {
            client: TokenServiceClient::new(channel),
            service: service.to_string(),
            secret,
            cached: Mutex::new(None),
        }
    }

    /// A valid service token, fetched again when the cached one has under a minute left.
    pub async fn token(&self) -> Result<String, tonic::Status> {
        let mut cached = self.cached.lock().await;
        if let Some((token, refresh_at)) = cached.as_ref()
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let response = self
            .client
            .clone()
            .issue_service_token(IssueServiceTokenRequest {
                service: self.service.clone(),
                secret: self.secret.expose_secret().to_string(),
            })
            .await?
            .into_inner();
        let lifetime = response
            .expires_at
            .map(|t| t.seconds - chrono::Utc::now().timestamp())
            .unwrap_or(0)
            .max(0) as u64;
        let refresh_at = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60));
        *cached = Some((response.token.clone(), refresh_at));
        Ok(response.token)
    }
}
