//! Talking to identity providers: OIDC discovery, the authorization URL (state, nonce, PKCE),
//! the code exchange, ID-token verification against the provider's published keys (issuer,
//! audience, expiry, our nonce), and the user-info document. The HTTP client never follows
//! redirects: a token or user-info endpoint that redirects is an error, not a detour.

use std::{collections::BTreeMap, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::domain::sso::{SsoIdentity, SsoKind, SsoProviderConfig};

/// What went wrong, for the log; callers answer with one opaque "sign-in failed".
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SsoError(String);

fn err(context: &str, error: impl std::fmt::Display) -> SsoError {
    SsoError(format!("{context}: {error}"))
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
}

pub struct Provider {
    pub config: SsoProviderConfig,
    discovery: OnceCell<Discovery>,
}

pub struct Providers {
    providers: BTreeMap<String, Provider>,
    http: reqwest::Client,
}

impl Providers {
    pub fn new(configs: Vec<SsoProviderConfig>) -> anyhow::Result<Self> {
        let mut providers = BTreeMap::new();
        for config in configs {
            let config = config.resolved().map_err(anyhow::Error::msg)?;
            let id = config.id.clone();
            let provider = Provider {
                config,
                discovery: OnceCell::new(),
            };
            if providers.insert(id.clone(), provider).is_some() {
                anyhow::bail!("sso provider `{id}` is configured twice");
            }
        }
        // TLS to providers uses rustls with ring (the provider the rest of the binary uses); a
        // process that installed one already keeps it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { providers, http })
    }

    pub fn all(&self) -> impl Iterator<Item = &SsoProviderConfig> {
        self.providers.values().map(|p| &p.config)
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.get(id)
    }

    async fn discovery(&self, provider: &Provider) -> Result<Discovery, SsoError> {
        let config = &provider.config;
        provider
            .discovery
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", config.issuer);
                let discovery: Discovery = self.get_json(&url, None).await.and_then(|v| {
                    serde_json::from_value(v).map_err(|e| err("discovery document", e))
                })?;
                if discovery.issuer.trim_end_matches('/') != config.issuer {
                    return Err(SsoError(format!("discovery names issuer {} instead of {}", discovery.issuer, config.issuer)));
                }
                Ok(discovery)
            })
            .await
            .cloned()
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, SsoError> {
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| err(url, e))?;
        if !response.status().is_success() {
            return Err(SsoError(format!("{url} answered {}", response.status())));
        }
        response.json().await.map_err(|e| err(url, e))
    }

    /// Where to send the browser. `nonce` is for OIDC only.
    pub async fn authorization_url(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        pkce_challenge: &str,
    ) -> Result<String, SsoError> {
        let config = &provider.config;
        let endpoint = match config.kind {
            SsoKind::Oidc => self.discovery(provider).await?.authorization_endpoint,
            SsoKind::Oauth2 => config.authorization_endpoint.clone(),
        };
        let scope = config.scopes.join(" ");
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", scope.as_str()),
            ("state", state),
            ("code_challenge", pkce_challenge),
            ("code_challenge_method", "S256"),
        ];
        if config.kind == SsoKind::Oidc {
            params.push(("nonce", nonce));
        }
        let url = reqwest::Url::parse_with_params(&endpoint, &params).map_err(|e| err("authorization endpoint", e))?;
        Ok(url.into())
    }

    /// Trades the code for tokens and finds out who signed in.
    pub async fn identify(
        &self,
        provider: &Provider,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<SsoIdentity, SsoError> {
        let config = &provider.config;
        let discovery = match config.kind {
            SsoKind::Oidc => Some(self.discovery(provider).await?),
            SsoKind::Oauth2 => None,
        };
        let token_endpoint = discovery.as_ref().map_or(config.token_endpoint.clone(), |d| d.token_endpoint.clone());
        let secret = config.client_secret.expose_secret();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce_verifier),
        ];
        if secret.is_empty() {
            form.push(("client_id", config.client_id.as_str()));
        }
        let mut request = self.http.post(&token_endpoint).form(&form).header("accept", "application/json");
        if !secret.is_empty() {
            request = request.basic_auth(&config.client_id, Some(secret));
        }
        let response = request.send().await.map_err(|e| err("token endpoint", e))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(SsoError(format!("token endpoint answered {status}: {}", body.chars().take(300).collect::<String>())));
        }
        let tokens: TokenResponse = response.json().await.map_err(|e| err("token response", e))?;

        let Some(discovery) = discovery else {
            let document = self.get_json(&config.userinfo_endpoint, Some(&tokens.access_token)).await?;
            return SsoIdentity::from_document(config, &document)
                .ok_or_else(|| SsoError("user info has no subject".into()));
        };
        let id_token = tokens.id_token.ok_or_else(|| SsoError("no id_token in the token response".into()))?;
        let claims = self.verify_id_token(config, &discovery, &id_token, nonce).await?;
        let mut document = claims.clone();
        if let Some(userinfo) = &discovery.userinfo_endpoint {
            let info = self.get_json(userinfo, Some(&tokens.access_token)).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(SsoError("user info is about another subject than the ID token".into()));
            }
            if let (Value::Object(merged), Value::Object(info)) = (&mut document, info) {
                merged.extend(info);
            }
        }
        SsoIdentity::from_document(config, &document).ok_or_else(|| SsoError("the ID token has no subject".into()))
    }

    async fn verify_id_token(
        &self,
        config: &SsoProviderConfig,
        discovery: &Discovery,
        id_token: &str,
        nonce: &str,
    ) -> Result<Value, SsoError> {
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| err("id_token header", e))?;
        // Symmetric algorithms would let anyone who knows the client secret mint tokens.
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(SsoError(format!("id_token signed with {:?}, which is not accepted", header.alg)));
        }
        let jwks: JwkSet = self
            .get_json(&discovery.jwks_uri, None)
            .await
            .and_then(|v| serde_json::from_value(v).map_err(|e| err("jwks", e)))?;
        let jwk = match &header.kid {
            Some(kid) => jwks.find(kid),
            None => jwks.keys.first(),
        }
        .ok_or_else(|| SsoError("no published key matches the id_token".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| err("jwk", e))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[discovery.issuer.as_str(), config.issuer.as_str()]);
        validation.set_audience(&[config.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map_err(|e| err("id_token", e))?
            .claims;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(SsoError("the id_token's nonce is not ours".into()));
        }
        Ok(claims)
    }
}
