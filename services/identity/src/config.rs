//! Identity's own settings, read from the `[identity]` section of the same config file and the
//! same `HELPDESK_IDENTITY__…` variables as the shared config (which knows only `identity.listen`).
//! Defaults work on a laptop with the local stack.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    /// Base URL of the portal; activation and reset links point at `<portal_url>/activate?token=…`
    /// `<portal_url>/password/reset?token=…` and `<portal_url>/sso/verify-email?token=…` (the portal's pages).
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
    /// Defaults, then the `[identity]` section of `file`, then `HELPDESK_IDENTITY__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Figment::from(Toml::file_exact(file)).focus("identity"));
        }
        figment
            .merge(Env::prefixed("HELPDESK_IDENTITY__").split("__"))
            .extract()
            .map_err(Box::new)
    }

    pub fn throttle(&self) -> crate::domain::throttle::ThrottlePolicy {
        crate::domain::throttle::ThrottlePolicy {
            window: std::time::Duration::from_secs(self.login_window_secs),
            per_account_and_ip: self.login_failures_per_account_and_ip,
            per_ip: self.login_failures_per_ip,
            per_account: self.login_failures_per_account,
        }
    }
}
