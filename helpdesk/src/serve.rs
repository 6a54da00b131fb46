//! Starting parts: bind each in dependency order (identity first, since the others verify its
//! tokens and find contacts through it), point the later parts at the real addresses of the earlier
//! ones (port 0 works), then run them all until shutdown. Parts still talk only through gRPC and
//! NATS, exactly as they would in separate processes. Each part gets the shared sections and its
//! own section of the one `HelpdeskConfig`.

use std::{fmt, net::SocketAddr, str::FromStr};

use anyhow::Context;
use helpdesk_kit::CancellationToken;
use tokio::task::JoinSet;

use crate::config::HelpdeskConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Identity,
    Tickets,
    Kb,
    /// The email channel: mailbox readers, SMTP out, and its admin gRPC.
    Mail,
    /// The Discord channel: the bot's gateway connection and the reply poster.
    Chat,
    Gateway,
}

impl Part {
    pub const ALL: [Part; 6] = [Part::Identity, Part::Tickets, Part::Kb, Part::Mail, Part::Chat, Part::Gateway];

    pub fn name(self) -> &'static str {
        match self {
            Part::Identity => "identity",
            Part::Tickets => "tickets",
            Part::Kb => "kb",
            Part::Mail => "mail",
            Part::Chat => "chat",
            Part::Gateway => "gateway",
        }
    }

    /// `all, identity, tickets, kb, mail, chat or gateway`, for messages.
    fn choices() -> String {
        let names = Part::ALL.map(Part::name);
        let (last, others) = names.split_last().expect("there are parts");
        format!("all, {} or {last}", others.join(", "))
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
            .ok_or_else(|| format!("unknown part `{raw}`: expected {}", Part::choices()))
    }
}

/// `all` or part names, deduplicated, in start order. `all` means chat only when a bot token is
/// configured (`chat_configured`), and says so when it leaves chat out; chat named on its own
/// without a token is refused when it is built.
pub fn parse_parts(names: &[String], chat_configured: bool) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for name in names {
        if name == "all" {
            if !chat_configured {
                tracing::info!("chat: no Discord bot token ([chat] bot_token, HELPDESK_CHAT__BOT_TOKEN); the Discord channel is off");
            }
            parts.extend(Part::ALL.into_iter().filter(|part| chat_configured || *part != Part::Chat));
        } else {
            parts.push(name.parse()?);
        }
    }
    if parts.is_empty() {
        return Err(format!("name the parts to serve: {}", Part::choices()));
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

/// Builds and starts `parts`; returns once every part is listening.
pub async fn start(mut config: HelpdeskConfig, parts: &[Part], shutdown: CancellationToken) -> anyhow::Result<Running> {
    let mut tasks = JoinSet::new();
    let mut addrs = Vec::new();
    for part in parts {
        let addr = match part {
            Part::Identity => {
                let app = helpdesk_identity::App::build(&config.shared, config.identity.clone()).await?;
                let addr = app.local_addr();
                config.shared.endpoints.identity = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Tickets => {
                let app = helpdesk_tickets::App::build(&config.shared, config.tickets.clone()).await?;
                let addr = app.local_addr();
                config.shared.endpoints.tickets = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Kb => {
                let app = helpdesk_kb::App::build(&config.shared, config.kb.clone()).await?;
                let addr = app.local_addr();
                config.shared.endpoints.kb = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Mail => {
                let app = helpdesk_mail::App::build(&config.shared, config.mail.clone()).await?;
                let addr = app.local_addr();
                config.shared.endpoints.mail = format!("http://{addr}");
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Chat => {
                let app = helpdesk_chat::App::build(&config.shared, config.chat.clone().or_portal_url(&config.identity.portal_url)).await?;
                let addr = app.local_addr();
                tasks.spawn(app.run_until_stopped(shutdown.clone()));
                addr
            }
            Part::Gateway => {
                let attachments = config.tickets.attachment_max_bytes;
                let app = helpdesk_gateway::App::build(&config.shared, config.gateway.clone(), attachments).await?;
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
        assert_eq!(parse_parts(&["all".into()], true), Ok(Part::ALL.to_vec()));
        assert_eq!(
            parse_parts(&["gateway".into(), "tickets".into(), "tickets".into()], true),
            Ok(vec![Part::Tickets, Part::Gateway])
        );
    }

    #[test]
    fn all_leaves_chat_out_without_a_bot_token_but_chat_named_stays() {
        let all = parse_parts(&["all".into()], false).expect("parts");
        assert!(!all.contains(&Part::Chat));
        assert_eq!(all.len(), Part::ALL.len() - 1);
        assert_eq!(parse_parts(&["chat".into()], false), Ok(vec![Part::Chat]));
    }

    #[test]
    fn unknown_or_missing_parts_are_refused() {
        assert!(parse_parts(&["mail2".into()], true).is_err());
        assert_eq!(parse_parts(&["mail".into()], true), Ok(vec![Part::Mail]));
        assert!(parse_parts(&[], true).is_err());
    }

    #[test]
    fn serving_no_part_is_refused_with_the_list_of_parts() {
        assert_eq!(parse_parts(&[], true), Err("name the parts to serve: all, identity, tickets, kb, mail, chat or gateway".into()));
    }
}
