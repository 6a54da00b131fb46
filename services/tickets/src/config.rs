//! The `[tickets]` section (and `HELPDESK_TICKETS__…` variables): where tickets listens, the
//! attachment limit, and how the inbound consumer paces itself. The `helpdesk` crate reads it with
//! the rest of the configuration and hands it to `App::build`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TicketsConfig {
    /// The gRPC listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Largest attachment accepted, in bytes.
    pub attachment_max_bytes: usize,
    /// Deliveries of one inbound message before it is quarantined.
    pub inbound_max_deliver: i64,
    pub inbound_ack_wait_secs: u64,
    /// Inbound messages processed at once (a reply still waits for the mail it answers).
    pub inbound_concurrency: usize,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            attachment_max_bytes: 10 * 1024 * 1024,
            inbound_max_deliver: 5,
            inbound_ack_wait_secs: 30,
            inbound_concurrency: 16,
        }
    }
}
