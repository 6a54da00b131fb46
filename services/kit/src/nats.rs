//! NATS JetStream: the connection, the subject and stream names derived from the configured prefix,
//! and the two streams every deployment has — `<PREFIX>_EVENTS` (`<prefix>.events.>`) and
//! `<PREFIX>_INBOUND` (`<prefix>.inbound.>`). Creating a stream is idempotent, so every part
//! ensures the streams it touches at start and the start order does not matter.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::config::NatsConfig;

/// Subject and stream names under one prefix.
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
    }

    #[test]
    fn an_inbound_source_cannot_inject_subject_tokens() {
        let s = Subjects::new("hd");
        assert_eq!(s.inbound("email", "support@example.com"), "hd.inbound.email.support_example_com");
        assert_eq!(s.inbound("email", "a.>*"), "hd.inbound.email.a___");
        assert_eq!(s.inbound("email", ""), "hd.inbound.email._");
    }
}
