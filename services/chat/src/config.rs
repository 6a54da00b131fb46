//! The `[chat]` section of the config file and `HELPDESK_CHAT__…` variables: the bot's token, where
//! it listens for tickets (support channels, a forum channel, DMs always), where its slash commands
//! are registered, and how replies are signed. The `helpdesk` crate reads it with the rest of the
//! configuration and hands it to `App::build`. Without a token the part stays off.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatConfig {
    /// The part's gRPC listen address (health and reflection; port 0: any free port).
    pub listen: SocketAddr,
    /// The bot's token from the Discord developer portal (Bot → Token). Empty: the chat part is
    /// off. Never serialized or logged.
    #[serde(skip_serializing)]
    pub bot_token: SecretString,
    /// Where Discord's REST API is reached: empty for Discord itself; otherwise an HTTP proxy in
    /// front of it (e.g. twilight-http-proxy) or the tests' fake Discord. With a proxy, serenity's
    /// own rate limiter is off (the proxy answers 429s, which the bot waits out itself).
    pub api_url: String,
    /// Guilds whose slash commands are registered per guild (instant); empty: globally.
    pub guilds: Vec<u64>,
    /// Text channels where a member's message opens a ticket in a thread of its own.
    pub support_channels: Vec<u64>,
    /// A forum channel whose new posts are tickets (status and priority shown as its tags).
    pub forum_channel: Option<u64>,
    /// How an agent's reply is signed on Discord; `{name}` is the agent's display name.
    pub agent_display_format: String,
    /// The lease on the bot's gateway connection lives this long without renewal; another replica
    /// takes over after it.
    pub lease_secs: u64,
    /// Deliveries of one ticket event before it is given up (logged as an error).
    pub max_deliver: i64,
    pub ack_wait_secs: u64,
    /// Largest attachment taken from Discord (bigger ones are left out, with a note on the ticket).
    pub attachment_max_bytes: usize,
    /// Minutes of inactivity after which Discord archives a ticket thread (60, 1440, 4320, 10080).
    pub thread_auto_archive_minutes: u16,
    /// Base URL of the contact portal, for `/ticket list`'s link to My Tickets; empty: the same
    /// as `identity.portal_url` (filled in by `serve`, see [`ChatConfig::or_portal_url`]).
    pub portal_url: String,
}

impl ChatConfig {
    /// A bot token is configured, so the part runs.
    pub fn enabled(&self) -> bool {
        !self.bot_token.expose_secret().trim().is_empty()
    }

    /// This section with `portal_url` defaulting to `identity_portal_url`.
    #[must_use]
    pub fn or_portal_url(mut self, identity_portal_url: &str) -> Self {
        if self.portal_url.trim().is_empty() {
            self.portal_url = identity_portal_url.to_string();
        }
        self
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50055)),
            bot_token: SecretString::from(""),
            api_url: String::new(),
            guilds: Vec::new(),
            support_channels: Vec::new(),
            forum_channel: None,
            agent_display_format: "{name} (Support)".into(),
            lease_secs: 15,
            max_deliver: 20,
            ack_wait_secs: 60,
            attachment_max_bytes: 25 * 1024 * 1024,
            thread_auto_archive_minutes: 10080,
            portal_url: String::new(),
        }
    }
}
