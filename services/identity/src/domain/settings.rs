//! Portal settings: which login modes are on, who may sign up, what needs a login, whether
//! contacts may close their tickets, whether sign-up needs a captcha. Stored as one JSON row, so
//! adding a setting needs no migration; unknown or missing keys take their defaults.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailAddress, IdentityError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    Open,
    Closed,
    Domains,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    pub password_login: bool,
    pub sso_providers: Vec<String>,
    pub signup_mode: SignupMode,
    pub signup_domains: Vec<String>,
    pub login_required_to_submit: bool,
    pub login_required_for_kb: bool,
    pub contacts_may_close_tickets: bool,
    pub captcha_enabled: bool,
    #[serde(skip)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            password_login: true,
            sso_providers: Vec::new(),
            signup_mode: SignupMode::Open,
            signup_domains: Vec::new(),
            login_required_to_submit: false,
            login_required_for_kb: false,
            contacts_may_close_tickets: true,
            captcha_enabled: false,
        updated_at: None,
        }
    }
}

impl PortalSettings {
    /// Whether an address may request an account. It says only what the policy is, never whether
    /// the address is known.
    pub fn admits_signup(&self, address: &EmailAddress) -> Result<(), IdentityError> {
        match self.signup_mode {
            SignupMode::Open => Ok(()),
            SignupMode::Closed => Err(IdentityError::SignupClosed),
            SignupMode::Domains if self.signup_domains.iter().any(|d| d == address.domain()) => Ok(()),
            SignupMode::Domains => Err(IdentityError::SignupDomainNotAllowed),
        }
    }

    /// Normalizes what an admin submitted: lower-cased, de-duplicated domains and provider ids.
    pub fn normalized(mut self) -> Result<Self, IdentityError> {
        self.signup_domains = parse_domains(&self.signup_domains, "signup_domains")?;
        for id in &mut self.sso_providers {
            *id = id.trim().to_ascii_lowercase();
        }
        self.sso_providers.sort();
        self.sso_providers.dedup();
        if self.signup_mode == SignupMode::Domains && self.signup_domains.is_empty() {
            return Err(IdentityError::Invalid {
                field: "signup_domains",
                reason: "list at least one domain when sign-up is limited to domains",
            });
        }
        Ok(self)
    }
}

/// Email domains as an admin typed them: trimmed, lower-cased, without a leading `@`, sorted.
pub fn parse_domains(raw: &[String], field: &'static str) -> Result<Vec<String>, IdentityError> {
    if raw.len() > 100 {
        return Err(IdentityError::Invalid { field, reason: "at most 100 domains" });
    }
    let mut domains = Vec::with_capacity(raw.len());
    for domain in raw {
        let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(IdentityError::Invalid { field, reason: "each entry must be a domain like example.com" });
        }
        domains.push(domain);
    }
    domains.sort();
    domains.dedup();
    Ok(domains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).expect("valid")
    }

    #[test]
    fn closed_sign_up_refuses_everyone() {
        let settings = PortalSettings { signup_mode: SignupMode::Closed, ..Default::default() };
        assert!(matches!(settings.admits_signup(&address("a@example.com")), Err(IdentityError::SignupClosed)));
    }

    #[test]
    fn domain_limited_sign_up_admits_only_listed_domains() {
        let settings = PortalSettings {
            signup_mode: SignupMode::Domains,
            signup_domains: vec![" @Example.COM".into()],
            ..Default::default()
        }
        .normalized()
        .expect("valid");
        assert!(settings.admits_signup(&address("Ann@EXAMPLE.com")).is_ok());
        assert!(matches!(
            settings.admits_signup(&address("ann@example.org")),
            Err(IdentityError::SignupDomainNotAllowed)
        ));
    }

    #[test]
    fn domain_mode_without_domains_is_refused() {
        let settings = PortalSettings { signup_mode: SignupMode::Domains, ..Default::default() };
        assert!(settings.normalized().is_err());
    }

    #[test]
    fn bad_domains_are_refused() {
        assert!(parse_domains(&["exa mple.com".into()], "d").is_err());
        assert!(parse_domains(&["localhost".into()], "d").is_err());
    }

    #[test]
    fn stored_settings_missing_a_key_take_its_default() {
        let settings: PortalSettings = serde_json::from_str(r#"{"signup_mode":"closed"}"#).expect("json");
        assert_eq!(settings.signup_mode, SignupMode::Closed);
        assert!(settings.password_login);
    }
}
