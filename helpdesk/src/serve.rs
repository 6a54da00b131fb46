//! Starting parts: bind each in dependency order (identity first, since the others verify its
//! tokens and find contacts through it), point the later parts at the real addresses of the earlier
//! ones (port 0 works), then run them all until shutdown. Parts still talk only through gRPC and
//! NATS, exactly as they would in separate processes.

use std::{fmt, net::SocketAddr, path::Path, str::FromStr};

use anyhow::Context;
use helpdesk_kit::{CancellationToken, config::Config};
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Identity,
    Tickets,
    Kb,
    /// The email channel: mailbox readers, SMTP out, and its admin gRPC.
    Mail,
    Gateway,
}

impl Part {
    pub const ALL: [Part; 5] = [Part::Identity, Part::Tickets, Part::Kb, Part::Mail, Part::Gateway];

    pub fn name(self) -> &'static str {
        match self {
            Part::Identity => "identity",
            Part::Tickets => "tickets",
            Part::Kb => "kb",
            Part::Mail => "mail",
            Part::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Part {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Part::ALL
            .into_iter()
            .find(|p| p.name() == raw)
            .ok_or_else(|| format!("unknown part `{raw}`: expected all, identity, tickets, kb, mail or gateway"))
    }
}

/// `all` or part names, deduplicated, in start order.
pub fn parse_parts(names: &[String]) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for name in names {
        if name == "all" {
            parts.extend(Part::ALL);
        } else {
            parts.push(name.parse()?);
        }
    }
    if parts.is_empty() {
        return Err("name at least one part, or all".into());
    }
    parts.sort();
    parts.dedup();
    Ok(parts)
}

pub struct Running {
    pub addrs: Vec<(Part, SocketAddr)>,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Running {
    pub fn addr(&self, part: Part) -> Option<SocketAddr> {
        self.addrs.iter().find(|(p, _)| *p == part).map(|(_, a)| *a)
    }

    /// The URL clients use for a part: `http://` for the gateway and for gRPC (h2c) alike.
    pub fn url(&self, part: Part) -> Option<String> {
        self.addr(part).map(|a| format!("http://{a}"))
    }

    /// Runs until shutdown; if one part fails, the others are stopped and the error returned.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(result) = self.tasks.join_next().await {
            let result = result.context("a part's task panicked or was cancelled").and_then(|r| r);
            if let Err(error) = result {
                tracing::error!(error = format!("{error:#}"), "a part stopped with an error; stopping the others");
                self.shutdown.cancel();
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Settings of parts beyond the shared config: their own keys in the same file sections and
/// `HELPDESK_…` variables (`[identity]` accounts and SSO, `[mail]`, `[gateway]` cookies and proxies).
#[derive(Debug, Clone, Default)]
pub struct PartSettings {
    pub identity: helpdesk_identity::IdentityConfig,
    pub mail: helpdesk_mail::MailConfig,
    pub gateway: helpdesk_gateway::GatewaySettings,
}

impl PartSettings {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let configuration = |e: &dyn fmt::Display| anyhow::anyhow!("configuration: {e}");
        Ok(Self {
            identity: helpdesk_identity::IdentityConfig::load(file).map_err(|e| configuration(&e))?,
            mail: helpdesk_mail::MailConfig::load(file).map_err(|e| configuration(&e))?,
            gateway: helpdesk_gateway::GatewaySettings::load(file).map_err(|e| configuration(&e))?,
        })
    }
}

/// Builds and starts `parts`; returns once every part is listening. Part settings come from the
/// environment.
pub async fn start(config: Config, parts: &[Part], shutdown: CancellationToken) -> anyhow::Result<Running> {
    start_with(config, PartSettings::load(None)?, parts, shutdown).await
}

/// As [`start`], with part settings also read from the config file.
pub async fn start_with_file(
    config: Config,
    file: Option<&Path>,
    parts: &[Part],
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start_with(config, PartSettings::load(file)?, parts, shutdown).await
}

/// As [`start`], with the part settings given.
pub async fn start_with(
    mut config: Config,
    settings: PartSettings,
    parts: &[Part],
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let mut tasks = JoinSet::new();
    let mut addrs = Vec::new();
    for part in parts {
        let addr = match part {
            Part::Identity => {
                let app = helpdesk_identity::App::build_with(&config, settings.identity.clone()).await?;
                let addr = app.local_addr();
                config.endpoints.identity = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Tickets => {
                let app = helpdesk_tickets::App::build(&config).await?;
                let addr = app.local_addr();
                config.endpoints.tickets = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Kb => {
                let app = helpdesk_kb::App::build(&config).await?;
                let addr = app.local_addr();
                config.endpoints.kb = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Mail => {
                let app = helpdesk_mail::App::build_with(&config, settings.mail.clone()).await?;
                let addr = app.local_addr();
                config.endpoints.mail = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Gateway => {
                let app = helpdesk_gateway::App::build_with(&config, settings.gateway.clone()).await?;
                let addr = app.local_addr();
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
        };
        addrs.push((*part, addr));
    }
    Ok(Running { addrs, tasks, shutdown })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_expands_to_every_part_in_start_order() {
        assert_eq!(parse_parts(&["all".into()]), Ok(Part::ALL.to_vec()));
        assert_eq!(
            parse_parts(&["gateway".into(), "tickets".into(), "tickets".into()]),
            Ok(vec![Part::Tickets, Part::Gateway])
        );
    }

    #[test]
    fn unknown_or_missing_parts_are_refused() {
        assert!(parse_parts(&["mail2".into()]).is_err());
        assert_eq!(parse_parts(&["mail".into()]), Ok(vec![Part::Mail]));
        assert!(parse_parts(&[]).is_err());
    }
}
