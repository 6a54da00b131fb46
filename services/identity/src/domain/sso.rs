//! Single sign-on, the pure parts: provider settings with presets (Google, Okta, Twitter/X),
//! random states and nonces, and reading a subject, email and "email verified" out of provider
//! claims. A provider is either OpenID Connect (endpoints from discovery, an ID token bound to our
//! nonce) or plain OAuth 2.0 (configured endpoints, identity from a user-info JSON document).
//! PKCE is the `openidconnect` crate's (see `crate::sso`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::IdentityError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SsoKind {
    #[default]
    Oidc,
    Oauth2,
}

impl SsoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Oauth2 => "oauth2",
        }
    }
}

/// One `[[identity.sso]]` entry. Empty fields take the preset's value.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SsoProviderConfig {
    /// Lower-case id used in URLs and in portal settings, e.g. `google`.
    pub id: String,
    pub display_name: String,
    /// `google`, `okta` or `twitter`: fills kind, issuer/endpoints, scopes and field names.
    pub preset: String,
    pub kind: SsoKind,
    /// OIDC: the issuer; discovery is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Never serialized or logged.
    #[serde(skip_serializing)]
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    /// OAuth 2.0 only (OIDC takes them from discovery).
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// Dotted paths into the user-info JSON (OAuth 2.0; OIDC uses the standard claims).
    pub subject_field: String,
    pub email_field: String,
    pub email_verified_field: String,
    pub name_field: String,
}

fn fill(field: &mut String, value: &str) {
    if field.trim().is_empty() {
        *field = value.to_string();
    }
}

impl SsoProviderConfig {
    /// The entry with its preset applied and defaults filled in; an error names what is missing.
    pub fn resolved(mut self) -> Result<Self, String> {
        self.id = self.id.trim().to_ascii_lowercase();
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("sso provider id `{}` must be letters, digits, - or _", self.id));
        }
        match self.preset.trim().to_ascii_lowercase().as_str() {
            "" => {}
            "google" => {
                self.kind = SsoKind::Oidc;
                fill(&mut self.issuer, "https://accounts.google.com");
                fill(&mut self.display_name, "Google");
            }
            "okta" => {
                // The issuer is the customer's Okta org or authorization server; it must be set.
                self.kind = SsoKind::Oidc;
                fill(&mut self.display_name, "Okta");
            }
            "twitter" | "x" => {
                self.kind = SsoKind::Oauth2;
                fill(&mut self.display_name, "X (Twitter)");
                fill(&mut self.authorization_endpoint, "https://twitter.com/i/oauth2/authorize");
                fill(&mut self.token_endpoint, "https://api.twitter.com/2/oauth2/token");
                fill(&mut self.userinfo_endpoint, "https://api.twitter.com/2/users/me");
                fill(&mut self.subject_field, "data.id");
                fill(&mut self.name_field, "data.name");
                if self.scopes.is_empty() {
                    self.scopes = vec!["users.read".into(), "tweet.read".into()];
                }
            }
            other => return Err(format!("sso provider {}: unknown preset `{other}`", self.id)),
        }
        fill(&mut self.display_name, &self.id.clone());
        if self.client_id.is_empty() {
            return Err(format!("sso provider {}: client_id is required", self.id));
        }
        match self.kind {
            SsoKind::Oidc => {
                if self.issuer.is_empty() {
                    return Err(format!("sso provider {}: issuer is required", self.id));
                }
                self.issuer = self.issuer.trim_end_matches('/').to_string();
                if self.scopes.is_empty() {
                    self.scopes = vec!["openid".into(), "email".into(), "profile".into()];
                }
                if !self.scopes.iter().any(|s| s == "openid") {
                    self.scopes.insert(0, "openid".into());
                }
                fill(&mut self.subject_field, "sub");
                fill(&mut self.email_field, "email");
                fill(&mut self.email_verified_field, "email_verified");
                fill(&mut self.name_field, "name");
            }
            SsoKind::Oauth2 => {
                for (name, value) in [
                    ("authorization_endpoint", &self.authorization_endpoint),
                    ("token_endpoint", &self.token_endpoint),
                    ("userinfo_endpoint", &self.userinfo_endpoint),
                    ("subject_field", &self.subject_field),
                ] {
                    if value.is_empty() {
                        return Err(format!("sso provider {}: {name} is required for oauth2", self.id));
                    }
                }
            }
        }
        Ok(self)
    }
}

/// `bytes` random bytes, base64url: states, nonces and tickets.
pub fn random_token(bytes: usize) -> Result<String, IdentityError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// A value at a dotted path (`data.id`) as a string; numbers become their decimal form.
pub fn field(document: &Value, path: &str) -> Option<String> {
    let mut current = document;
    for part in path.split('.') {
        current = current.get(part)?;
    }
    match current {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true` or `"true"` (some providers send a string); anything else is not verified.
pub fn flag(document: &Value, path: &str) -> bool {
    let mut current = document;
    for part in path.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return false,
        }
    }
    matches!(current, Value::Bool(true)) || matches!(current, Value::String(s) if s == "true")
}

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
}

impl SsoIdentity {
    pub fn from_document(config: &SsoProviderConfig, document: &Value) -> Option<Self> {
        let subject = field(document, &config.subject_field)?;
        let email = (!config.email_field.is_empty()).then(|| field(document, &config.email_field)).flatten();
        let email_verified =
            email.is_some() && !config.email_verified_field.is_empty() && flag(document, &config.email_verified_field);
        let name = (!config.name_field.is_empty())
            .then(|| field(document, &config.name_field))
            .flatten()
            .unwrap_or_default();
        Some(Self {
            subject,
            email,
            email_verified,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(id: &str) -> SsoProviderConfig {
        SsoProviderConfig {
            id: id.into(),
            client_id: "client".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_google_preset_fills_issuer_and_scopes() {
        let google = SsoProviderConfig { preset: "google".into(), ..base("Google") }.resolved().expect("valid");
        assert_eq!(google.id, "google");
        assert_eq!(google.issuer, "https://accounts.google.com");
        assert_eq!(google.scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn okta_needs_the_orgs_issuer() {
        assert!(SsoProviderConfig { preset: "okta".into(), ..base("okta") }.resolved().is_err());
        let okta = SsoProviderConfig { preset: "okta".into(), issuer: "https://acme.okta.com/".into(), ..base("okta") }
            .resolved()
            .expect("valid");
        assert_eq!(okta.issuer, "https://acme.okta.com");
    }

    #[test]
    fn twitter_is_plain_oauth2_with_its_endpoints() {
        let x = SsoProviderConfig { preset: "twitter".into(), ..base("x") }.resolved().expect("valid");
        assert_eq!(x.kind, SsoKind::Oauth2);
        let me = json!({ "data": { "id": "12345", "name": "Ann", "username": "ann" } });
        let identity = SsoIdentity::from_document(&x, &me).expect("identity");
        assert_eq!(identity.subject, "12345");
        assert_eq!(identity.email, None);
        assert!(!identity.email_verified);
    }

    #[test]
    fn an_email_counts_as_verified_only_when_the_provider_says_so() {
        let oidc = SsoProviderConfig { issuer: "https://id.example".into(), ..base("corp") }.resolved().expect("valid");
        let claims = |verified: Value| json!({ "sub": "s1", "email": "a@example.com", "email_verified": verified });
        assert!(SsoIdentity::from_document(&oidc, &claims(json!(true))).expect("id").email_verified);
        assert!(SsoIdentity::from_document(&oidc, &claims(json!("true"))).expect("id").email_verified);
        assert!(!SsoIdentity::from_document(&oidc, &claims(json!(false))).expect("id").email_verified);
        assert!(!SsoIdentity::from_document(&oidc, &json!({ "sub": "s1", "email": "a@example.com" })).expect("id").email_verified);
        assert!(SsoIdentity::from_document(&oidc, &json!({ "email": "a@example.com" })).is_none());
    }

    #[test]
    fn oauth2_without_endpoints_is_refused() {
        assert!(SsoProviderConfig { kind: SsoKind::Oauth2, ..base("bare") }.resolved().is_err());
    }
}
