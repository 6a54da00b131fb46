//! Typed configuration for every part, in one struct so that `serve all` and a single-part
//! deployment read the same file. Defaults live in code and work on a laptop with the local stack
//! (`deploy/stack.sh`); an optional TOML file and `HELPDESK_SECTION__KEY` environment variables
//! override them, in that order.

use std::{net::SocketAddr, path::Path, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub blob: BlobConfig,
    pub outbox: OutboxConfig,
    pub identity: ServiceConfig,
    pub tickets: TicketsConfig,
    pub kb: KbConfig,
    /// The mail part's admin gRPC (quarantined mail).
    pub mail: ServiceConfig,
    pub gateway: GatewayConfig,
    /// Where clients (gateway, CLI, other services) reach the gRPC servers.
    pub endpoints: Endpoints,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            auth: AuthConfig::default(),
            blob: BlobConfig::default(),
            outbox: OutboxConfig::default(),
            identity: ServiceConfig::on_port(50051),
            tickets: TicketsConfig::default(),
            kb: KbConfig::default(),
            mail: ServiceConfig::on_port(50054),
            gateway: GatewayConfig::default(),
            endpoints: Endpoints::default(),
        }
    }
}

impl Config {
    /// Defaults, then the TOML file if given, then `HELPDESK_…` environment variables
    /// (`HELPDESK_DATABASE__URL` sets `database.url`).
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("HELPDESK_").split("__"))
            .extract()
            .map_err(Box::new)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// May carry a password, so it is a secret and never serialized or logged.
    #[serde(skip_serializing)]
    pub url: SecretString,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:55432/helpdesk"),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    pub url: String,
    /// Prefix of every subject and stream name, so several deployments (or tests) share a server.
    pub prefix: String,
    pub stream_replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:54222".into(),
            prefix: "helpdesk".into(),
            stream_replicas: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Holds `signing.pem` (identity only), `verify.pem` and `service.secret`. Identity creates
    /// missing ones at start; in a scaled deployment this is a mounted secret.
    pub key_dir: PathBuf,
    /// Lifetime of the caller tokens identity issues.
    pub token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            key_dir: PathBuf::from(".helpdesk/keys"),
            token_ttl_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BlobConfig {
    /// Directory of the local blob store (attachments, raw mail).
    pub dir: PathBuf,
}

impl Default for BlobConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(".helpdesk/blobs"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxConfig {
    /// Turning the relay off leaves events in the outbox until a relay runs (ops and tests).
    pub relay_enabled: bool,
    pub batch_size: i64,
    /// How often the relay looks for rows written by other replicas.
    pub poll_interval_ms: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            relay_enabled: true,
            batch_size: 100,
            poll_interval_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
}

impl ServiceConfig {
    fn on_port(port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Default for ServiceConfig {
    /// Any free port: each part's own default is set in `Config::default`.
    fn default() -> Self {
        Self::on_port(0)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KbConfig {
    pub listen: SocketAddr,
    /// Pretrained word vectors (`deploy/stack.sh` makes them: `.stack/word-vectors/…`) that let
    /// search and suggestions rank by meaning as well as by words; without them, words only.
    pub word_vectors: Option<PathBuf>,
}

impl Default for KbConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            word_vectors: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketsConfig {
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoints {
    pub identity: String,
    pub tickets: String,
    pub kb: String,
    pub mail: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            identity: "http://127.0.0.1:50051".into(),
            tickets: "http://127.0.0.1:50052".into(),
            kb: "http://127.0.0.1:50053".into(),
            mail: "http://127.0.0.1:50054".into(),
        }
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_by_section_and_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HELPDESK_NATS__PREFIX", "staging");
            jail.set_env("HELPDESK_GATEWAY__LISTEN", "127.0.0.1:9999");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.nats.prefix, "staging");
            assert_eq!(config.gateway.listen.port(), 9999);
            assert_eq!(config.tickets.listen.port(), 50052);
            Ok(())
        });
    }

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("helpdesk.toml", "[nats]\nprefix = \"from-file\"\nurl = \"nats://x:1\"\n")?;
            jail.set_env("HELPDESK_NATS__URL", "nats://y:2");
            let config = Config::load(Some(Path::new("helpdesk.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.nats.prefix, "from-file");
            assert_eq!(config.nats.url, "nats://y:2");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error_not_silently_ignored() {
        figment::Jail::expect_with(|_jail| {
            assert!(Config::load(Some(Path::new("nope.toml"))).is_err());
            Ok(())
        });
    }
}
