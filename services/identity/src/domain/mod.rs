//! Identity's domain: wire strings become these types at the edge, so the store and handlers only
//! ever see valid addresses, names and identities. Submodules hold the rules of accounts:
//! `password` (policy + argon2id), `secret` (session ids and link tokens), `throttle` (login
//! throttling), `settings` (portal settings and what they allow) and `staff`.

pub mod captcha;
pub mod groups;
pub mod password;
pub mod secret;
pub mod settings;
pub mod sso;
pub mod staff;
pub mod throttle;

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
    #[error("contact not found")]
    ContactNotFound,
    #[error("this call needs a caller token")]
    Unauthenticated,
    #[error("the caller may not do this")]
    PermissionDenied,
    #[error("staff member not found")]
    StaffNotFound,
    #[error("group not found")]
    GroupNotFound,
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The same for an unknown address, a wrong password, an unactivated or a blocked account.
    #[error("wrong email or password")]
    LoginFailed,
    #[error("too many attempts; wait a few minutes and try again")]
    Throttled,
    #[error("this link is invalid, already used or expired")]
    LinkInvalid,
    /// An identity link's token that was never issued (the answer names no one).
    #[error("link not found")]
    LinkNotFound,
    #[error("this link was used already")]
    LinkUsed,
    #[error("this link has expired; ask for a new one")]
    LinkExpired,
    /// A blocked contact on either side of an identity link: nothing is linked, and the answer
    /// does not say which side.
    #[error("this link cannot be used; contact the help desk")]
    LinkRefused,
    #[error("the session has ended; sign in again")]
    SessionEnded,
    #[error("sign-up is closed")]
    SignupClosed,
    #[error("sign-up is open only to addresses in the domains the help desk allows")]
    SignupDomainNotAllowed,
    #[error("this way of signing in is turned off")]
    LoginModeDisabled,
    #[error("sign in to submit tickets")]
    LoginRequiredToSubmit,
    /// Told only to staff and services, who know the contact anyway.
    #[error("the contact is blocked")]
    ContactBlocked,
    #[error("captcha: {0}")]
    Captcha(&'static str),
    #[error("sso provider not found")]
    SsoProviderNotFound,
    /// Tampered or replayed state, a bad nonce, a provider error: the reason goes to the log.
    #[error("single sign-on failed; please try again")]
    SsoFailed,
    /// An unexpected database failure: logged with its cause and a reference id, answered opaque.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Any other unexpected failure, with its cause chain: logged, answered opaque.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn invalid(field: &'static str, reason: &'static str) -> IdentityError {
    IdentityError::Invalid { field, reason }
}

/// An email address as given, and the lower-cased form that identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    original: String,
    normalized: String,
}

impl EmailAddress {
    /// The one address rule of the help desk (`helpdesk_kit::address`): what RFC 5322 allows and
    /// real mail uses, so a sender the mail part accepted is a contact identity accepts too.
    /// Deliverability is for the mail server to judge, not a regex.
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let address = helpdesk_kit::address::Address::parse(raw).map_err(|e| invalid("email", e.reason()))?;
        Ok(Self { normalized: address.normalized().to_string(), original: address.into_string() })
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The lower-cased domain part.
    pub fn domain(&self) -> &str {
        self.normalized.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// A display name: trimmed, control characters removed, at most 200 characters.
pub fn clean_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// An identity on another system (a Discord user id, an SSO subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub provider: String,
    pub subject: String,
}

impl ExternalIdentity {
    pub fn parse(provider: &str, subject: &str) -> Result<Self, IdentityError> {
        let provider = provider.trim();
        let subject = subject.trim();
        if provider.is_empty()
            || provider.len() > 64
            || !provider.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid("external_identity.provider", "must be 1-64 letters, digits, - or _"));
        }
        if subject.is_empty() || subject.len() > 255 {
            return Err(invalid("external_identity.subject", "must be 1-255 characters"));
        }
        Ok(Self {
            provider: provider.to_ascii_lowercase(),
            subject: subject.to_string(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactStatus {
    PendingActivation,
    Active,
    Blocked,
}

impl ContactStatus {
    pub fn from_db(raw: &str) -> Self {
        match raw {
            "active" => Self::Active,
            "blocked" => Self::Blocked,
            _ => Self::PendingActivation,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContactEmail {
    pub address: String,
    pub primary: bool,
    pub verified: bool,
    pub deliverable: bool,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: Uuid,
    pub name: String,
    pub status: ContactStatus,
    pub emails: Vec<ContactEmail>,
    pub identities: Vec<ExternalIdentity>,
    pub group_ids: Vec<Uuid>,
    pub has_account: bool,
    pub created_at: DateTime<Utc>,
    /// The contact a confirmed identity link merged this one into (see `store::identity_links`).
    pub merged_into: Option<Uuid>,
}

/// The service name in a service token: what the identity logs and audits call the caller.
pub fn parse_service_name(raw: &str) -> Result<String, IdentityError> {
    if raw.is_empty()
        || raw.len() > 64
        || !raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid("service", "must be 1-64 lower-case letters, digits or -"));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_case_insensitively_but_keep_their_spelling() {
        let a = EmailAddress::parse("  Alice@Example.COM ").expect("valid");
        assert_eq!(a.as_str(), "Alice@Example.COM");
        assert_eq!(a.normalized(), "alice@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_field_named() {
        // `alice@localhost` and `alice@example.com.` were refused here until issue 11 made one
        // address rule for mail and identity: placeholder domains and a trailing root dot are real.
        for raw in ["", "alice", "@example.com", "alice@", "a b@example.com", "alice@example..com",
            "alice@.example.com", "a\u{0}@example.com", "\u{FFFD}@example.com"] {
            let error = EmailAddress::parse(raw).expect_err(raw);
            assert!(error.to_string().starts_with("email:"), "{raw}: {error}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
        assert_eq!(EmailAddress::parse("alice@localhost").expect("placeholder domain").as_str(), "alice@localhost");
        assert_eq!(EmailAddress::parse("Alice@Example.com.").expect("root dot").normalized(), "alice@example.com");
    }

    #[test]
    fn names_lose_control_characters_and_are_bounded() {
        assert_eq!(clean_name(" Bob\u{7}\n Smith "), "Bob Smith");
        assert_eq!(clean_name(&"x".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn external_identities_need_a_plain_provider_and_a_subject() {
        assert_eq!(
            ExternalIdentity::parse("Discord", " 1234 ").expect("valid"),
            ExternalIdentity { provider: "discord".into(), subject: "1234".into() }
        );
        assert!(ExternalIdentity::parse("dis cord", "1").is_err());
        assert!(ExternalIdentity::parse("discord", "").is_err());
    }

    #[test]
    fn service_names_are_plain_lower_case() {
        assert!(parse_service_name("tickets").is_ok());
        assert!(parse_service_name("Tickets").is_err());
        assert!(parse_service_name("").is_err());
        assert!(parse_service_name("a.b").is_err());
    }
}
