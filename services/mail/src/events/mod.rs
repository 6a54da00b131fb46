//! The consumer of `AccountMailRequested`: a durable JetStream pull consumer on identity's events.
//! Each event is claimed in the ledger, sent, marked sent, and only then acknowledged; a failure
//! is negatively acknowledged with a back-off and redelivered, up to `max_deliver` times; a
//! permanent refusal by the relay is recorded in the ledger with the reason and not retried.

pub mod ticket_mail;

use std::time::Duration;

use async_nats::jetstream::{
    AckKind,
    consumer::{AckPolicy, PullConsumer, pull},
};
use futures::StreamExt;
use helpdesk_kit::{CancellationToken, nats::Nats};
use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, Event, event::Payload};
use prost::Message as _;
use uuid::Uuid;

use crate::{
    domain::templates,
    sender::{Headers, Outgoing, SendError, Sender},
    store::{Claim, Ledger},
};

const DURABLE: &str = "mail-account-mail";

pub struct AccountMailConsumer {
    pub consumer: PullConsumer,
    pub ledger: Ledger,
    pub sender: Sender,
    pub message_id_domain: String,
    pub site_name: String,
    pub max_deliver: i64,
}

/// Creates (or finds) the durable consumer.
pub async fn durable_consumer(nats: &Nats, max_deliver: i64, ack_wait: Duration) -> anyhow::Result<PullConsumer> {
    let stream = nats.jetstream.get_stream(nats.subjects.events_stream()).await?;
    let consumer = stream
        .get_or_create_consumer(
            DURABLE,
            pull::Config {
                durable_name: Some(DURABLE.into()),
                filter_subject: nats.subjects.event("identity", "account_mail_requested"),
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                max_deliver,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

enum Outcome {
    Done,
    Retry(String),
}

impl AccountMailConsumer {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        while !shutdown.is_cancelled() {
            let messages = match self.consumer.messages().await {
                Ok(messages) => messages,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "cannot pull account mail events; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(u64::from(failures.min(30)))) => continue,
                    }
                }
            };
            failures = 0;
            let mut messages = std::pin::pin!(messages.take_until(shutdown.cancelled()));
            while let Some(message) = messages.next().await {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::warn!(%error, "error while pulling account mail events");
                        break;
                    }
                };
                let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                let result = match self.handle(&message.payload).await {
                    Outcome::Done => message.ack().await,
                    Outcome::Retry(reason) if delivered >= self.max_deliver => {
                        tracing::error!(%reason, delivered, "account mail not sent after the last attempt; giving up");
                        message.ack_with(AckKind::Term).await
                    }
                    Outcome::Retry(reason) => {
                        tracing::warn!(%reason, delivered, "account mail not sent; will retry");
                        let delay = Duration::from_secs(2u64.saturating_pow(delivered.clamp(0, 8) as u32));
                        message.ack_with(AckKind::Nak(Some(delay))).await
                    }
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "could not acknowledge an account mail event");
                }
            }
        }
    }

    async fn handle(&self, payload: &[u8]) -> Outcome {
        let Ok(event) = Event::decode(payload) else {
            tracing::error!("an account mail event does not decode; dropping it");
            return Outcome::Done;
        };
        let Some(Payload::AccountMailRequested(request)) = event.payload else {
            return Outcome::Done;
        };
        let Ok(event_id) = Uuid::parse_str(&event.id) else {
            tracing::error!(id = %event.id, "an account mail event has no usable id; dropping it");
            return Outcome::Done;
        };
        match self.send_once(event_id, request).await {
            Ok(()) => Outcome::Done,
            Err(SendError::Permanent(reason)) => {
                tracing::error!(%event_id, %reason, "account mail cannot be sent; dropping it");
                Outcome::Done
            }
            Err(SendError::Refused(refusal)) => {
                tracing::warn!(%event_id, reason = %refusal.reason, "the mail server refused account mail; not retrying it");
                match self.ledger.refused(event_id, &refusal.reason).await {
                    Ok(()) => Outcome::Done,
                    Err(error) => Outcome::Retry(format!("ledger: {error}")),
                }
            }
            Err(SendError::Transient(reason)) => Outcome::Retry(reason),
        }
    }

    async fn send_once(&self, event_id: Uuid, request: AccountMailRequested) -> Result<(), SendError> {
        let kind = AccountMailKind::try_from(request.kind).unwrap_or(AccountMailKind::Unspecified);
        let Some(body) = templates::render(kind, &request.to_name, &request.link, &self.site_name) else {
            return Err(SendError::Permanent(format!("unknown account mail kind {}", request.kind)));
        };
        let message_id = format!("<{event_id}@{}>", self.message_id_domain);
        let transient = |e: sqlx::Error| SendError::Transient(format!("ledger: {e}"));
        let claim = self
            .ledger
            .begin(event_id, kind.as_str_name(), &request.to_address, &message_id)
            .await
            .map_err(transient)?;
        if claim != Claim::Send {
            tracing::info!(%event_id, "account mail was sent or refused before; not sending again");
            return Ok(());
        }
        self.sender
            .send(Outgoing {
                to_address: &request.to_address,
                to_name: &request.to_name,
                message_id: &message_id,
                body,
                headers: Headers { auto_submitted: Some("auto-generated"), ..Headers::default() },
            })
            .await?;
        self.ledger.sent(event_id).await.map_err(transient)?;
        tracing::info!(%event_id, kind = kind.as_str_name(), "account mail sent");
        Ok(())
    }
}
