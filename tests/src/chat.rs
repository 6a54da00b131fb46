//! The chat part in a test: a copy of the test's configuration whose `[chat]` section points the
//! bot at a fake Discord (`discord`), so `TestEnv::start_with` runs chat with the other parts.

use helpdesk::config::HelpdeskConfig;

/// `config` with the chat part on, talking to the Discord at `api_url` with `token`, opening
/// tickets from `support_channels`.
pub fn with_discord(config: &HelpdeskConfig, api_url: &str, token: &str, support_channels: &[u64]) -> HelpdeskConfig {
    let mut config = config.clone();
    config.chat.bot_token = token.to_string().into();
    config.chat.api_url = api_url.to_string();
    config.chat.support_channels = support_channels.to_vec();
    config.chat.lease_secs = 3;
    config
}
