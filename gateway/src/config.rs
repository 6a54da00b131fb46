//! The `[gateway]` section (and `HELPDESK_GATEWAY__…` variables): where the gateway listens, the
//! body limit, the portal's site name, cookie flags, the reverse proxies whose `X-Forwarded-For`
//! is believed, and the per-client rate limits. The `helpdesk` crate reads it with the rest of the
//! configuration and hands it to `App::build`.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::rate_limit::RateLimitSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The HTTP listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Largest request body accepted (413 beyond).
    pub body_limit_bytes: usize,
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

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            site_name: "Support Center".into(),
            cookie_secure: true,
            trusted_proxies: Vec::new(),
            rate_limits: RateLimitSettings::default(),
        }
    }
}
