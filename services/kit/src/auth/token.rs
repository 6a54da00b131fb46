//! Caller tokens: the claims they carry, signing (identity only) and verifying (everyone). A valid
//! signature is not enough: the verifier also refuses tokens of subjects on its part's revocation
//! list (blocked contacts, deactivated staff; see `revocations`).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::revocations::Revocations;

const ISSUER: &str = "helpdesk-identity";

/// The caller of a request, as proven by its token (or the lack of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Contact { id: Uuid },
    Staff { id: Uuid, role: StaffRole },
    /// An internal service or operator tool (the CLI), trusted like an admin.
    Service { name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Agent,
    Admin,
}

impl Caller {
    /// Agents, admins and services work on everyone's tickets; contacts only on what they may see.
    pub fn is_staff_or_service(&self) -> bool {
        matches!(self, Caller::Staff { .. } | Caller::Service { .. })
    }

    pub fn is_admin_or_service(&self) -> bool {
        matches!(
            self,
            Caller::Staff { role: StaffRole::Admin, .. } | Caller::Service { .. }
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    /// "contact", "agent", "admin" or "service".
    kind: String,
    iat: i64,
    exp: i64,
    /// The issue time in microseconds: `iat` has whole seconds, too coarse to tell a token issued
    /// just before a block (or an unblock) from one issued just after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat_us: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is invalid or expired")]
    Invalid,
    #[error("the token was revoked: the account is blocked or deactivated, or changed since it was issued")]
    Revoked,
    #[error("an anonymous caller has no token")]
    Anonymous,
    #[error("signing failed: {0}")]
    Signing(String),
}

pub struct TokenSigner {
    key: EncodingKey,
    ttl: Duration,
}

impl TokenSigner {
    pub fn from_pem(pem: &[u8], ttl: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            key: EncodingKey::from_ed_pem(pem)?,
            ttl,
        })
    }

    /// A signed token for the caller and the moment it expires.
    pub fn issue(&self, caller: &Caller) -> Result<(String, DateTime<Utc>), TokenError> {
        let (sub, kind) = match caller {
            Caller::Anonymous => return Err(TokenError::Anonymous),
            Caller::Contact { id } => (id.to_string(), "contact"),
            Caller::Staff { id, role: StaffRole::Agent } => (id.to_string(), "agent"),
            Caller::Staff { id, role: StaffRole::Admin } => (id.to_string(), "admin"),
            Caller::Service { name } => (name.clone(), "service"),
        };
        let now = Utc::now();
        let expires = now + self.ttl;
        let claims = Claims {
            iss: ISSUER.into(),
            sub,
            kind: kind.into(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            iat_us: Some(now.timestamp_micros()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok((token, expires))
    }
}

pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    revocations: Arc<Revocations>,
}

impl TokenVerifier {
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            key: DecodingKey::from_ed_pem(pem)?,
            validation,
            revocations: Arc::default(),
        })
    }

    /// The revocation list this verifier consults, for the part's `revocations::Follower` to fill.
    pub fn revocations(&self) -> Arc<Revocations> {
        self.revocations.clone()
    }

    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        let id = || {
            let id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Invalid)?;
            let issued_us = claims.iat_us.unwrap_or(claims.iat.saturating_mul(1_000_000));
            if self.revocations.refuses(id, issued_us) {
                return Err(TokenError::Revoked);
            }
            Ok(id)
        };
        match claims.kind.as_str() {
            "contact" => Ok(Caller::Contact { id: id()? }),
            "agent" => Ok(Caller::Staff { id: id()?, role: StaffRole::Agent }),
            "admin" => Ok(Caller::Staff { id: id()?, role: StaffRole::Admin }),
            "service" if !claims.sub.is_empty() => Ok(Caller::Service { name: claims.sub }),
            _ => Err(TokenError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{keys::generate_keypair, revocations::Revocation};

    fn pair(ttl: Duration) -> (TokenSigner, TokenVerifier) {
        let (private, public) = generate_keypair().expect("keypair");
        (
            TokenSigner::from_pem(private.as_bytes(), ttl).expect("signer"),
            TokenVerifier::from_pem(public.as_bytes()).expect("verifier"),
        )
    }

    #[test]
    fn a_signed_token_verifies_back_to_the_same_caller() {
        let (signer, verifier) = pair(Duration::from_secs(60));
        for caller in [
            Caller::Contact { id: Uuid::new_v4() },
            Caller::Staff { id: Uuid::new_v4(), role: StaffRole::Agent },
            Caller::Staff { id: Uuid::new_v4(), role: StaffRole::Admin },
            Caller::Service { name: "tickets".into() },
        ] {
            let (token, _) = signer.issue(&caller).expect("issue");
            assert_eq!(verifier.verify(&token).expect("verify"), caller);
        }
    }

    #[test]
    fn a_token_signed_by_another_key_is_rejected() {
        let (signer, _) = pair(Duration::from_secs(60));
        let (_, other_verifier) = pair(Duration::from_secs(60));
        let (token, _) = signer.issue(&Caller::Contact { id: Uuid::new_v4() }).expect("issue");
        assert!(matches!(other_verifier.verify(&token), Err(TokenError::Invalid)));
    }

    #[test]
    fn a_tampered_token_is_rejected() {
        let (signer, verifier) = pair(Duration::from_secs(60));
        let (token, _) = signer.issue(&Caller::Contact { id: Uuid::new_v4() }).expect("issue");
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        // Swap in claims that name an admin, keeping the original signature.
        let forged = Claims {
            iss: ISSUER.into(),
            sub: Uuid::new_v4().to_string(),
            kind: "admin".into(),
            iat: 0,
            exp: i64::MAX / 2,
            iat_us: None,
        };
        use base64::Engine;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).expect("json"));
        assert!(verifier.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let (signer, verifier) = pair(Duration::ZERO);
        let (token, _) = signer.issue(&Caller::Service { name: "x".into() }).expect("issue");
        // Past the validation leeway.
        std::thread::sleep(Duration::from_secs(7));
        assert!(verifier.verify(&token).is_err());
    }

    #[test]
    fn a_revoked_subject_is_refused_and_others_still_pass() {
        let (signer, verifier) = pair(Duration::from_secs(60));
        let (blocked, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (token, _) = signer.issue(&Caller::Contact { id: blocked }).expect("issue");
        let (agent, _) = signer.issue(&Caller::Staff { id: other, role: StaffRole::Agent }).expect("issue");
        assert!(verifier.verify(&token).is_ok());
        verifier.revocations().apply(blocked, Revocation { blocked: true, since: Utc::now() });
        assert!(matches!(verifier.verify(&token), Err(TokenError::Revoked)));
        assert!(verifier.verify(&agent).is_ok());
    }

    #[test]
    fn anonymous_callers_get_no_token() {
        let (signer, _) = pair(Duration::from_secs(60));
        assert!(matches!(signer.issue(&Caller::Anonymous), Err(TokenError::Anonymous)));
    }
}
