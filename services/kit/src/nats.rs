//! NATS JetStream: the connection, and every name the parts and the tests share — subjects, stream
//! and key-value bucket names derived from the configured prefix ([`Subjects`]) and the durable
//! consumers' names ([`durable`]) — defined here once so nobody rebuilds them by formatting
//! strings. Two streams every deployment has — `<PREFIX>_EVENTS` (`<prefix>.events.>`) and
//! `<PREFIX>_INBOUND` (`<prefix>.inbound.>`). Creating a stream is idempotent, so every part
//! ensures the streams it touches at start and the start order does not matter.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::config::NatsConfig;

/// The durable consumers' names. A durable consumer lives in its stream (which carries the
/// prefix), so the names need none.
pub mod durable {
    /// Tickets: channel messages into tickets.
    pub const TICKETS_INBOUND: &str = "tickets-inbound";
    /// Tickets: identity's events about groups, settings and guest confirmations.
    pub const TICKETS_IDENTITY: &str = "tickets-identity";
    /// Mail: identity's account mail requests.
    pub const MAIL_ACCOUNT_MAIL: &str = "mail-account-mail";
    /// Mail: tickets' events that mail the contact.
    pub const MAIL_TICKET_MAIL: &str = "mail-ticket-mail";
    /// Chat: tickets' events that post to Discord.
    pub const CHAT_TICKET_EVENTS: &str = "chat-ticket-events";
}

/// Subject, stream and bucket names under one prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub fn event(&self, part: &str, name: &str) -> String {
        format!("{}.events.{part}.{name}", self.prefix)
    }

    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `source` is a mailbox, guild or bot id; characters NATS treats specially become `_`.
    pub fn inbound(&self, channel: &str, source: &str) -> String {
        format!("{}.inbound.{channel}.{}", self.prefix, subject_token(source))
    }

    pub fn all_inbound(&self) -> String {
        format!("{}.inbound.>", self.prefix)
    }

    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", stream_token(&self.prefix))
    }

    pub fn inbound_stream(&self) -> String {
        format!("{}_INBOUND", stream_token(&self.prefix))
    }

    /// The key-value bucket of mail's mailbox leases.
    pub fn mail_leases_bucket(&self) -> String {
        format!("{}_MAIL_LEASES", stream_token(&self.prefix))
    }

    /// The key-value bucket of chat's lease on the bot's Discord connection.
    pub fn chat_leases_bucket(&self) -> String {
        format!("{}_CHAT_LEASES", stream_token(&self.prefix))
    }

    /// Every stream of this prefix, the key-value buckets' streams (`KV_<bucket>`) among them:
    /// what removing a deployment (or a test's) removes.
    pub fn all_streams(&self) -> Vec<String> {
        vec![
            self.events_stream(),
            self.inbound_stream(),
            format!("KV_{}", self.mail_leases_bucket()),
            format!("KV_{}", self.chat_leases_bucket()),
        ]
    }
}

fn subject_token(raw: &str) -> String {
    let token: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if token.is_empty() { "_".into() } else { token }
}

fn stream_token(raw: &str) -> String {
    subject_token(raw).to_ascii_uppercase()
}

/// A connected client with JetStream and the deployment's names.
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    pub subjects: Subjects,
}

impl Nats {
    pub async fn connect(config: &NatsConfig) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("helpdesk")
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(&config.url)
            .await?;
        let jetstream = jetstream::new(client.clone());
        let nats = Self {
            client,
            jetstream,
            subjects: Subjects::new(&config.prefix),
        };
        nats.ensure_streams(config.stream_replicas).await?;
        Ok(nats)
    }

    async fn ensure_streams(&self, replicas: usize) -> anyhow::Result<()> {
        let streams = [
            (self.subjects.events_stream(), self.subjects.all_events()),
            (self.subjects.inbound_stream(), self.subjects.all_inbound()),
        ];
        for (name, subject) in streams {
            self.jetstream
                .get_or_create_stream(stream::Config {
                    name,
                    subjects: vec![subject],
                    storage: stream::StorageType::File,
                    num_replicas: replicas,
                    // The window in which a re-published Nats-Msg-Id is dropped.
                    duplicate_window: Duration::from_secs(10 * 60),
                    max_age: Duration::from_secs(30 * 24 * 3600),
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_streams_live_under_the_prefix() {
        let s = Subjects::new("t-42");
        assert_eq!(s.event("tickets", "ticket_created"), "t-42.events.tickets.ticket_created");
        assert_eq!(s.events_stream(), "T-42_EVENTS");
        assert_eq!(s.inbound_stream(), "T-42_INBOUND");
        assert_eq!(s.mail_leases_bucket(), "T-42_MAIL_LEASES");
        assert_eq!(s.all_streams(), vec!["T-42_EVENTS", "T-42_INBOUND", "KV_T-42_MAIL_LEASES", "KV_T-42_CHAT_LEASES"]);
    }

    #[test]
    fn an_inbound_source_cannot_inject_subject_tokens() {
        let s = Subjects::new("hd");
        assert_eq!(s.inbound("email", "support@example.com"), "hd.inbound.email.support_example_com");
        assert_eq!(s.inbound("email", "a.>*"), "hd.inbound.email.a___");
        assert_eq!(s.inbound("email", ""), "hd.inbound.email._");
    }
}
