//! Talking to identity providers, on the `openidconnect` crate and, for plain OAuth 2.0
//! providers such as X, its `oauth2` base: discovery (cached; the key set is read again at every
//! sign-in so that rotated keys are picked up), the authorization URL (state, nonce, PKCE S256),
//! the code exchange, and the user-info document. What an ID token must prove lives in
//! `id_token`; the HTTP client (the workspace's reqwest, never following redirects) in `http`.

mod http;
mod id_token;

use std::collections::BTreeMap;

use openidconnect::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DiscoveryError, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
    core::{CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata},
    http::{Method, Request, header},
};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::domain::sso::{SsoIdentity, SsoKind, SsoProviderConfig};
use http::HttpClient;

/// What went wrong, for the log; callers answer with one opaque "sign-in failed".
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SsoError(String);

impl SsoError {
    fn new(context: &str, error: impl std::fmt::Display) -> Self {
        Self(format!("{context}: {error}"))
    }
}

pub struct Provider {
    pub config: SsoProviderConfig,
    metadata: OnceCell<CoreProviderMetadata>,
}

impl Provider {
    fn client_id(&self) -> ClientId {
        ClientId::new(self.config.client_id.clone())
    }

    /// A provider without a secret is a public client: its id goes in the token request's body.
    fn client_secret(&self) -> Option<ClientSecret> {
        let secret = self.config.client_secret.expose_secret();
        (!secret.is_empty()).then(|| ClientSecret::new(secret.to_string()))
    }
}

pub struct Providers {
    providers: BTreeMap<String, Provider>,
    http: HttpClient,
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, SsoError> {
    RedirectUrl::new(redirect_uri.to_string()).map_err(|e| SsoError::new("redirect URI", e))
}

/// A fresh PKCE verifier (RFC 7636: 32 random bytes, 43 characters) for identity to keep until
/// the code comes back.
pub fn new_pkce_verifier() -> String {
    PkceCodeChallenge::new_random_sha256().1.into_secret()
}

/// The S256 challenge of a verifier, which goes to the provider.
fn pkce_challenge(pkce_verifier: &str) -> PkceCodeChallenge {
    PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.to_string()))
}

impl Providers {
    pub fn new(configs: Vec<SsoProviderConfig>) -> anyhow::Result<Self> {
        let mut providers = BTreeMap::new();
        for config in configs {
            let config = config.resolved().map_err(anyhow::Error::msg)?;
            let id = config.id.clone();
            let provider = Provider {
                config,
                metadata: OnceCell::new(),
            };
            if providers.insert(id.clone(), provider).is_some() {
                anyhow::bail!("sso provider `{id}` is configured twice");
            }
        }
        // TLS to providers uses rustls with ring (the provider the rest of the binary uses); a
        // process that installed one already keeps it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Self {
            providers,
            http: HttpClient::new()?,
        })
    }

    pub fn all(&self) -> impl Iterator<Item = &SsoProviderConfig> {
        self.providers.values().map(|p| &p.config)
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.get(id)
    }

    /// The provider's discovery document, read once.
    async fn metadata(&self, provider: &Provider) -> Result<CoreProviderMetadata, SsoError> {
        let issuer = &provider.config.issuer;
        provider
            .metadata
            .get_or_try_init(|| async {
                match self.discover(issuer.clone()).await {
                    // The configured issuer is kept without a trailing slash; providers that
                    // name theirs with one (Auth0) are asked again under that name.
                    Err(DiscoveryError::Validation(_)) => self.discover(format!("{issuer}/")).await,
                    result => result,
                }
                .map_err(|e| SsoError::new("discovery", e))
            })
            .await
            .cloned()
    }

    async fn discover(&self, issuer: String) -> Result<CoreProviderMetadata, DiscoveryError<http::HttpError>> {
        let issuer = IssuerUrl::new(issuer).map_err(DiscoveryError::UrlParse)?;
        CoreProviderMetadata::discover_async(issuer, &self.http).await
    }

    /// Where to send the browser. `nonce` is for OIDC only; the PKCE challenge is derived from
    /// the verifier that identity keeps.
    pub async fn authorization_url(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String, SsoError> {
        let config = &provider.config;
        let state = CsrfToken::new(state.to_string());
        let url = match config.kind {
            SsoKind::Oidc => {
                let nonce = Nonce::new(nonce.to_string());
                CoreClient::from_provider_metadata(self.metadata(provider).await?, provider.client_id(), None)
                    .set_redirect_uri(redirect_url(redirect_uri)?)
                    .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || state, move || nonce)
                    // The library asks for `openid` itself.
                    .add_scopes(config.scopes.iter().filter(|s| *s != "openid").cloned().map(Scope::new))
                    .set_pkce_challenge(pkce_challenge(pkce_verifier))
                    .url()
                    .0
            }
            SsoKind::Oauth2 => {
                let auth_url = AuthUrl::new(config.authorization_endpoint.clone())
                    .map_err(|e| SsoError::new("authorization endpoint", e))?;
                oauth2::basic::BasicClient::new(provider.client_id())
                    .set_auth_uri(auth_url)
                    .set_redirect_uri(redirect_url(redirect_uri)?)
                    .authorize_url(move || state)
                    .add_scopes(config.scopes.iter().cloned().map(Scope::new))
                    .set_pkce_challenge(pkce_challenge(pkce_verifier))
                    .url()
                    .0
            }
        };
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
        let code = AuthorizationCode::new(code.to_string());
        let pkce_verifier = PkceCodeVerifier::new(pkce_verifier.to_string());
        let config = &provider.config;
        if config.kind == SsoKind::Oauth2 {
            let token_url =
                TokenUrl::new(config.token_endpoint.clone()).map_err(|e| SsoError::new("token endpoint", e))?;
            let mut client = oauth2::basic::BasicClient::new(provider.client_id())
                .set_token_uri(token_url)
                .set_redirect_uri(redirect_url(redirect_uri)?);
            if let Some(secret) = provider.client_secret() {
                client = client.set_client_secret(secret);
            }
            let tokens = client
                .exchange_code(code)
                .set_pkce_verifier(pkce_verifier)
                .request_async(&self.http)
                .await
                .map_err(|e| SsoError::new("token endpoint", e))?;
            let document = self.user_info(&config.userinfo_endpoint, tokens.access_token()).await?;
            return SsoIdentity::from_document(config, &document)
                .ok_or_else(|| SsoError("user info has no subject".into()));
        }

        let keys = self.metadata(provider).await?;
        let jwks = CoreJsonWebKeySet::fetch_async(keys.jwks_uri(), &self.http)
            .await
            .map_err(|e| SsoError::new("jwks", e))?;
        let metadata = keys.set_jwks(jwks);
        let client = CoreClient::from_provider_metadata(metadata.clone(), provider.client_id(), provider.client_secret())
            .set_redirect_uri(redirect_url(redirect_uri)?);
        let tokens = client
            .exchange_code(code)
            .map_err(|e| SsoError::new("token endpoint", e))?
            .set_pkce_verifier(pkce_verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| SsoError::new("token endpoint", e))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SsoError("no id_token in the token response".into()))?;
        let claims = id_token::verify(&provider.client_id(), &metadata, id_token, tokens.access_token(), nonce)?;
        let mut document = serde_json::to_value(&claims).map_err(|e| SsoError::new("id_token claims", e))?;
        if let Some(endpoint) = metadata.userinfo_endpoint() {
            let info = self.user_info(endpoint.as_str(), tokens.access_token()).await?;
            if info.get("sub") != document.get("sub") {
                return Err(SsoError("user info is about another subject than the ID token".into()));
            }
            if let (Value::Object(merged), Value::Object(info)) = (&mut document, info) {
                merged.extend(info);
            }
        }
        SsoIdentity::from_document(config, &document).ok_or_else(|| SsoError("the ID token has no subject".into()))
    }

    /// The user-info document as JSON: the fields to read are configuration, not a fixed schema.
    async fn user_info(&self, endpoint: &str, access_token: &AccessToken) -> Result<Value, SsoError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(endpoint)
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", access_token.secret()))
            .body(Vec::new())
            .map_err(|e| SsoError::new(endpoint, e))?;
        let response = self.http.send(request).await.map_err(|e| SsoError::new(endpoint, e))?;
        if !response.status().is_success() {
            return Err(SsoError(format!("{endpoint} answered {}", response.status())));
        }
        serde_json::from_slice(response.body()).map_err(|e| SsoError::new(endpoint, e))
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn pkce_uses_s256_as_in_rfc_7636() {
        // base64url(SHA-256(verifier)) without padding, computed independently with Python's
        // hashlib and base64.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ0kXlpRkEaqFDd7nCo76DyuwwmOtI").as_str(),
            "ui-GHgOtHVRCTWgME-bAztuOYFPzSihZzUqL8ejIXjk"
        );
        let verifier = new_pkce_verifier();
        assert_eq!(verifier.len(), 43);
        assert_eq!(pkce_challenge(&verifier).as_str(), URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
    }
}
