//! The `[gateway]` settings the shared config does not know (it has `listen` and the body
//! limit): the portal's site name, cookie flags, the reverse proxies whose `X-Forwarded-For` is believed, and the
//! per-client rate limits.

use std::{net::IpAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::rate_limit::RateLimitSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    /// The support center's name, shown in the portal's header and page titles.
    pub site_name: String,
    /// Mark cookies `Secure` (HTTPS only). Turn off only for plain-HTTP development.
    pub cookie_secure: bool,
    /// Addresses of reverse proxies in front of the gateway. Only a request from one of these has
    /// its client address taken from `X-Forwarded-For` (the last entry that is not itself a trusted
    /// proxy); from anyone else the header is ignored, so clients cannot pick their own address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Per-client limits on guests' tickets and sign-ups (`crate::rate_limit`).
    pub rate_limits: RateLimitSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            site_name: "Support Center".into(),
            cookie_secure: true,
            trusted_proxies: Vec::new(),
            rate_limits: RateLimitSettings::default(),
        }
    }
}

impl GatewaySettings {
    /// Defaults, then the `[gateway]` section of `file`, then `HELPDESK_GATEWAY__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Figment::from(Toml::file_exact(file)).focus("gateway"));
        }
        figment
            .merge(Env::prefixed("HELPDESK_GATEWAY__").split("__"))
            .extract()
            .map_err(Box::new)
    }
}
