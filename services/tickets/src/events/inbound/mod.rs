//! The durable consumer of `<prefix>.inbound.>` on kit's consumer runner: each `InboundMessage`
//! goes to the use case ([`Intake`], `intake`), whose sender lookups at identity live in
//! `identity_client`; this module only says what the queue does with the result.
//!
//! A message is acked only after its ticket is committed. A message that cannot be decoded, or
//! that the database refuses as data, is quarantined at once (`store::inbound::POISON`, an admin
//! can list and retry it); one that keeps failing for passing reasons after `max_deliver`
//! deliveries likewise; either way it never blocks the messages behind it. Several messages are
//! processed at once, except that messages sharing an id — their own or one they reference — run
//! in stream order (`in_flight_keys`), so threading sees the other's ticket.

mod delivery_report;
mod identity_client;
mod intake;
mod threading;

use std::time::Duration;

use async_nats::jetstream::Message;
use bytes::Bytes;
use helpdesk_kit::{
    consumer::{Backoff, Durable, Failure, Handled, Handler},
    nats::{Subjects, durable},
};
use helpdesk_proto::events::v1::InboundMessage;
use prost::Message as _;

pub use identity_client::IdentityClient;
pub use intake::{Intake, Received};

use crate::{
    domain::inbound::{normalized_id, normalized_refs},
    store::inbound::{POISON, UNMATCHED_BOUNCE},
};

/// The inbound consumer's settings: `max_deliver` deliveries `ack_wait` apart at most,
/// `concurrency` messages at once, 1 s before the first redelivery, doubling up to 30 s.
pub fn durable(subjects: &Subjects, max_deliver: i64, ack_wait: Duration, concurrency: usize) -> Durable {
    Durable {
        ack_wait,
        max_deliver: Some(max_deliver),
        backoff: Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30) },
        concurrency,
        ..Durable::new(subjects.inbound_stream(), durable::TICKETS_INBOUND, subjects.all_inbound())
    }
}

pub struct InboundConsumer {
    pub intake: Intake,
}

/// A delivered inbound message, with what the quarantine keeps of it.
pub struct Delivery {
    inbound: InboundMessage,
    subject: String,
    payload: Bytes,
    delivered: i64,
}

impl Handler for InboundConsumer {
    type Message = Delivery;

    fn decode(&self, message: &Message) -> Result<Delivery, Failure> {
        let inbound = InboundMessage::decode(message.payload.as_ref())
            .map_err(|error| Failure::poison(format!("not an InboundMessage: {error}")))?;
        Ok(Delivery {
            inbound,
            subject: message.subject.to_string(),
            payload: message.payload.clone(),
            delivered: message.info().map(|info| info.delivered).unwrap_or(1),
        })
    }

    fn order_keys(&self, delivery: &Delivery) -> Vec<String> {
        in_flight_keys(&delivery.inbound)
    }

    async fn handle(&self, delivery: Delivery) -> Handled {
        match self.intake.receive(&delivery.inbound).await? {
            Received::Stored => Ok(()),
            Received::Unmatched(reason) => {
                let attempts = i32::try_from(delivery.delivered).unwrap_or(i32::MAX);
                let id = self
                    .intake
                    .store
                    .quarantine(UNMATCHED_BOUNCE, &delivery.subject, &delivery.payload, &reason, attempts)
                    .await
                    .map_err(|error| Failure::Retry(anyhow::Error::new(error).context("cannot keep the classified mail")))?;
                tracing::info!(quarantine = %id, %reason, "inbound message kept as classified mail");
                Ok(())
            }
        }
    }

    /// Keeps a message given up as poison, so an admin can see and retry it.
    async fn quarantine(&self, message: &Message, delivered: i64, reason: &anyhow::Error) -> anyhow::Result<()> {
        let reason = format!("{reason:#}");
        let attempts = i32::try_from(delivered).unwrap_or(i32::MAX);
        let id = self
            .intake
            .store
            .quarantine(POISON, message.subject.as_str(), &message.payload, &reason, attempts)
            .await?;
        tracing::error!(quarantine = %id, %reason, "inbound message quarantined");
        Ok(())
    }
}

/// The ids a message is ordered by while in flight: its own and its references, normalized alike
/// so a reply's reference meets its parent's id.
fn in_flight_keys(inbound: &InboundMessage) -> Vec<String> {
    let own = normalized_id(&inbound.external_id);
    let mut keys = normalized_refs(&inbound.thread_refs);
    if !own.is_empty() && !keys.contains(&own) {
        keys.insert(0, own);
    }
    keys
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use helpdesk_kit::consumer::InFlight;

    use super::*;

    #[test]
    fn a_parent_and_its_early_reply_share_a_key_in_flight() {
        let parent = InboundMessage { external_id: "<p@x>".into(), ..Default::default() };
        let reply = InboundMessage { external_id: "r@x".into(), thread_refs: vec!["<p@x>".into(), "q@x".into()], ..Default::default() };
        assert_eq!(in_flight_keys(&parent), vec!["p@x"]);
        assert_eq!(in_flight_keys(&reply), vec!["r@x", "p@x", "q@x"]);
        let in_flight = Arc::new(InFlight::default());
        let reply_turn = in_flight.enter(in_flight_keys(&reply));
        assert_eq!(reply_turn.waits_for(), 0);
        let parent_turn = in_flight.enter(in_flight_keys(&parent));
        assert_eq!(parent_turn.waits_for(), 1, "the parent waits for the reply taken before it");
        drop(reply_turn);
        assert_eq!(parent_turn.waits_for(), 0);
        let later = in_flight.enter(vec!["r@x".to_string()]);
        assert_eq!(later.waits_for(), 0, "a finished message is forgotten");
    }
}
