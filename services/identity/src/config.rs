//! The `[identity]` section (and `HELPDESK_IDENTITY__…` variables): where identity listens,
//! sessions, account links, login throttling, the captcha and the SSO providers. The `helpdesk`
//! crate reads it with the rest of the configuration and hands it to `App::build`; defaults work
//! on a laptop with the local stack.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// The gRPC listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Base URL of the portal; activation and reset links point at `<portal_url>/activate?token=…`
    /// `<portal_url>/password/reset?token=…` and `<portal_url>/sso/verify-email?token=…` (the portal's pages),
    /// identity links at `<portal_url>/link-identity?token=…`.
    pub portal_url: String,
    /// A session ends after this long without use …
    pub session_idle_secs: u64,
    /// … and after this long in any case.
    pub session_absolute_secs: u64,
    pub activation_link_ttl_secs: u64,
    pub reset_link_ttl_secs: u64,
    /// Login throttling window and limits (see `domain::throttle`).
    pub login_window_secs: u64,
    pub login_failures_per_account_and_ip: i64,
    pub login_failures_per_ip: i64,
    pub login_failures_per_account: i64,
    /// Captcha work: the counter the page must find is drawn below this (expected work: half).
    pub captcha_max_counter: u32,
    /// Single sign-on providers (`[[identity.sso]]`); the portal settings decide which are on.
    pub sso: Vec<crate::domain::sso::SsoProviderConfig>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            portal_url: "http://127.0.0.1:8080".into(),
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            activation_link_ttl_secs: 48 * 3600,
            reset_link_ttl_secs: 3600,
            login_window_secs: 15 * 60,
            login_failures_per_account_and_ip: 5,
            login_failures_per_ip: 30,
            login_failures_per_account: 20,
            captcha_max_counter: 50_000,
            sso: Vec::new(),
        }
    }
}

impl IdentityConfig {
    pub fn throttle(&self) -> crate::domain::throttle::ThrottlePolicy {
        crate::domain::throttle::ThrottlePolicy {
            window: std::time::Duration::from_secs(self.login_window_secs),
            per_account_and_ip: self.login_failures_per_account_and_ip,
            per_ip: self.login_failures_per_ip,
            per_account: self.login_failures_per_account,
        }
    }
}
