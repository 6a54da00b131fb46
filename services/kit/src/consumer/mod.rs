//! The one runner every durable JetStream pull consumer uses. A part describes its consumer in a
//! [`Durable`] (stream, durable name, filter subject, `ack_wait`, `max_deliver`, retry back-off,
//! messages at once), binds it with [`Consumer::bind`] at start, and runs it with a [`Handler`]
//! that decodes a message and says what became of it: `Ok(())` (done: acked), a
//! [`Failure::Retry`] (nak'd with the back-off and redelivered) or a [`Failure::Poison`] (given up
//! at once). A message given up — poison, or still failing at its last delivery — goes through
//! the handler's optional quarantine hook first and is terminated only once the hook has kept it,
//! so nothing is lost and nothing blocks the messages behind it.
//!
//! Handlers run side by side up to `concurrency`, in stream order except that messages sharing an
//! ordering key ([`Handler::order_keys`], [`InFlight`]) run one after the other. The acknowledgement
//! policy lives here, once, because four consumers had four versions of it; what a message *means*
//! stays in each part's handler.

mod in_flight;

use std::{fmt, future::Future, sync::Arc, time::Duration};

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use in_flight::{InFlight, Turn};

use crate::{error::is_permanent_data_error, nats::Nats};

/// Why a message was not done this time.
#[derive(Debug)]
pub enum Failure {
    /// It may pass (a peer or the database is away): redeliver it after the back-off, and give up
    /// only after `max_deliver` deliveries.
    Retry(anyhow::Error),
    /// Retrying cannot help (it does not decode, the database refuses it as data): give up now.
    Poison(anyhow::Error),
}

impl Failure {
    pub fn retry(reason: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Self {
        Self::Retry(anyhow::Error::msg(reason))
    }

    pub fn poison(reason: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Self {
        Self::Poison(anyhow::Error::msg(reason))
    }
}

impl From<sqlx::Error> for Failure {
    /// The database refusing the message as data answers the same on every delivery: poison.
    /// Everything else (connections, timeouts, serialization, the pool) may pass: retry.
    fn from(error: sqlx::Error) -> Self {
        if is_permanent_data_error(&error) {
            let code = error.as_database_error().and_then(|e| e.code()).unwrap_or_default().into_owned();
            Self::Poison(anyhow::Error::new(error).context(format!("the database refused the message (SQLSTATE {code})")))
        } else {
            Self::Retry(anyhow::Error::new(error).context("database"))
        }
    }
}

/// What a handler returns for one message.
pub type Handled = Result<(), Failure>;

/// How long a failed message waits before its next delivery: `first` after the first delivery,
/// doubling with each further one, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The same wait before every redelivery.
    pub const fn fixed(delay: Duration) -> Self {
        Self { first: delay, max: delay }
    }

    /// The wait after the `delivered`-th delivery failed.
    pub fn delay(&self, delivered: i64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1).clamp(0, 31)).unwrap_or(0);
        self.first.saturating_mul(2u32.saturating_pow(doublings)).min(self.max)
    }
}

/// A durable pull consumer, as a part configures it.
#[derive(Debug, Clone)]
pub struct Durable {
    /// The stream it reads (`Subjects::events_stream`, `Subjects::inbound_stream`).
    pub stream: String,
    /// Its durable name (one of [`crate::nats::durable`]).
    pub name: &'static str,
    pub filter_subject: String,
    /// How long a delivery may stay unacknowledged before the server delivers it again.
    pub ack_wait: Duration,
    /// Deliveries before a message is given up; `None`: never (retry until it passes).
    pub max_deliver: Option<i64>,
    pub backoff: Backoff,
    /// Messages handled at once (at least one).
    pub concurrency: usize,
}

impl Durable {
    /// One message at a time, the server's `ack_wait` (30 s), never given up, 2 s between tries.
    pub fn new(stream: String, name: &'static str, filter_subject: String) -> Self {
        Self {
            stream,
            name,
            filter_subject,
            ack_wait: Duration::from_secs(30),
            max_deliver: None,
            backoff: Backoff::fixed(Duration::from_secs(2)),
            concurrency: 1,
        }
    }

    fn is_last(&self, delivered: i64) -> bool {
        self.max_deliver.is_some_and(|max| max > 0 && delivered >= max)
    }
}

/// What a consumer does with its messages.
pub trait Handler: Send + Sync + 'static {
    /// A message as the handler reads it.
    type Message: Send + 'static;

    /// Reads a delivered message (its payload, and its subject or delivery count where the
    /// handler needs them); one that cannot be read is [`Failure::Poison`].
    fn decode(&self, message: &Message) -> Result<Self::Message, Failure>;

    /// Messages sharing any of these keys are handled in stream order, one after the other; the
    /// default (none) lets every message run side by side.
    fn order_keys(&self, _message: &Self::Message) -> Vec<String> {
        Vec::new()
    }

    fn handle(&self, message: Self::Message) -> impl Future<Output = Handled> + Send;

    /// Keeps a message that is given up (poison, or failing at its last delivery) before it is
    /// terminated; an error leaves it to redelivery instead. By default it is only logged.
    fn quarantine(&self, _message: &Message, _delivered: i64, _reason: &anyhow::Error) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

/// A bound durable consumer, ready to run.
pub struct Consumer {
    durable: Durable,
    pull: PullConsumer,
}

/// The first wait before pulling again after the message stream broke; it doubles up to 10 s.
const PULL_RETRY_FIRST: Duration = Duration::from_millis(200);
const PULL_RETRY_MAX: Duration = Duration::from_secs(10);

impl Consumer {
    /// Creates the durable consumer on its stream, or finds it there.
    pub async fn bind(nats: &Nats, durable: Durable) -> anyhow::Result<Self> {
        let stream = nats.jetstream.get_stream(&durable.stream).await?;
        let pull = stream
            .get_or_create_consumer(
                durable.name,
                pull::Config {
                    durable_name: Some(durable.name.into()),
                    filter_subject: durable.filter_subject.clone(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: durable.ack_wait,
                    max_deliver: durable.max_deliver.unwrap_or(-1),
                    ..Default::default()
                },
            )
            .await?;
        Ok(Self { durable, pull })
    }

    /// Pulls and handles messages until `shutdown`, pulling again with a back-off when the
    /// message stream breaks; on shutdown it stops pulling and waits for the handlers in flight
    /// (a message pulled but not started is redelivered after `ack_wait`).
    pub async fn run<H: Handler>(self, handler: H, shutdown: CancellationToken) {
        let concurrency = self.durable.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let in_flight = Arc::new(InFlight::default());
        let handler = Arc::new(handler);
        let durable = Arc::new(self.durable);
        let name = durable.name;
        let mut pull_retry = PULL_RETRY_FIRST;
        'pull: while !shutdown.is_cancelled() {
            let mut messages = match self.pull.messages().await {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(consumer = name, "cannot pull messages; retrying: {error:#}");
                    tokio::select! {
                        () = shutdown.cancelled() => break 'pull,
                        () = tokio::time::sleep(pull_retry) => {}
                    }
                    pull_retry = (pull_retry * 2).min(PULL_RETRY_MAX);
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => break 'pull,
                    next = messages.next() => next,
                };
                let message = match next {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        tracing::warn!(consumer = name, "message stream error: {error:#}");
                        continue;
                    }
                    None => break,
                };
                pull_retry = PULL_RETRY_FIRST;
                let slot = tokio::select! {
                    () = shutdown.cancelled() => break 'pull,
                    slot = slots.clone().acquire_owned() => slot,
                };
                let Ok(slot) = slot else { break 'pull };
                // Decoded and registered here, in stream order, so a later message sharing a key
                // always waits for the earlier one and never the other way round.
                let decoded = handler.decode(&message);
                let keys = decoded.as_ref().map(|m| handler.order_keys(m)).unwrap_or_default();
                let mut turn = in_flight.enter(keys);
                let span = tracing::info_span!("consume", consumer = name, subject = %message.subject);
                let (handler, durable) = (handler.clone(), durable.clone());
                tokio::spawn(
                    async move {
                        turn.earlier_done().await;
                        let outcome = match decoded {
                            Ok(decoded) => handler.handle(decoded).await,
                            Err(failure) => Err(failure),
                        };
                        settle(&*handler, &durable, &message, outcome).await;
                        drop(turn);
                        drop(slot);
                    }
                    .instrument(span),
                );
            }
        }
        // Every slot back means every handler in flight has settled its message.
        let _all = slots.acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX)).await;
    }
}

/// Acks, naks or terminates a handled message.
async fn settle<H: Handler>(handler: &H, durable: &Durable, message: &Message, outcome: Handled) {
    let name = durable.name;
    let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
    let ack = match outcome {
        Ok(()) => AckKind::Ack,
        Err(Failure::Retry(reason)) if !durable.is_last(delivered) => {
            tracing::warn!(consumer = name, delivered, "message not handled; it will be redelivered: {reason:#}");
            AckKind::Nak(Some(durable.backoff.delay(delivered)))
        }
        Err(Failure::Retry(reason)) => {
            tracing::error!(consumer = name, delivered, "message still not handled at its last delivery; giving up: {reason:#}");
            give_up(handler, durable, message, delivered, &reason).await
        }
        Err(Failure::Poison(reason)) => {
            tracing::error!(consumer = name, delivered, "message cannot be handled; giving up: {reason:#}");
            give_up(handler, durable, message, delivered, &reason).await
        }
    };
    if let Err(error) = message.ack_with(ack).await {
        tracing::warn!(consumer = name, "could not acknowledge a message; it will be redelivered: {error:#}");
    }
}

/// Terminates a message once the quarantine hook has kept it; leaves it to redelivery if not.
async fn give_up<H: Handler>(handler: &H, durable: &Durable, message: &Message, delivered: i64, reason: &anyhow::Error) -> AckKind {
    match handler.quarantine(message, delivered, reason).await {
        Ok(()) => AckKind::Term,
        Err(error) => {
            tracing::error!(consumer = durable.name, "cannot quarantine a message; leaving it to redelivery: {error:#}");
            AckKind::Nak(Some(durable.backoff.delay(delivered)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_first_wait_up_to_its_cap() {
        let backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(256) };
        let waits: Vec<u64> = (0..=10).map(|delivered| backoff.delay(delivered).as_secs()).collect();
        assert_eq!(waits, vec![2, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256]);
        assert_eq!(backoff.delay(i64::MAX), Duration::from_secs(256));
        assert_eq!(Backoff::fixed(Duration::from_secs(2)).delay(7), Duration::from_secs(2));
    }

    #[test]
    fn only_a_limited_consumer_has_a_last_delivery() {
        let mut durable = Durable::new("S".into(), "d", "s.>".into());
        assert!(!durable.is_last(1_000));
        durable.max_deliver = Some(3);
        assert!(!durable.is_last(2));
        assert!(durable.is_last(3));
    }
}
