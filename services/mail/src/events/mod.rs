//! Mail's consumers of other parts' events, on kit's consumer runner: account mail here
//! (`AccountMailRequested` from identity) and ticket mail (`ticket_mail`). Each event is claimed
//! in the outbound ledger, sent, marked sent, and only then acknowledged; a failure that may pass
//! is redelivered with a back-off (2 s, doubling up to 256 s), up to `max_deliver` times; a
//! permanent refusal by the relay is recorded in the ledger with the reason and not retried, and
//! so is the last failure of an account mail that never went out.

pub mod ticket_mail;

use std::time::Duration;

use async_nats::jetstream::Message;
use helpdesk_kit::{
    consumer::{Backoff, Durable, Failure, Handled, Handler},
    nats::{Subjects, durable},
};
use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, Event, event::Payload};
use prost::Message as _;
use uuid::Uuid;

use crate::{
    domain::templates,
    sender::{Headers, Outgoing, SendError, Sender},
    store::{Claim, Ledger},
};

/// Both of mail's consumers wait 2 s before the first redelivery, doubling up to 256 s.
const BACKOFF: Backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(256) };

/// The account mail consumer's settings.
pub fn durable(subjects: &Subjects, max_deliver: i64, ack_wait: Duration) -> Durable {
    Durable {
        ack_wait,
        max_deliver: Some(max_deliver),
        backoff: BACKOFF,
        ..Durable::new(subjects.events_stream(), durable::MAIL_ACCOUNT_MAIL, subjects.event("identity", "account_mail_requested"))
    }
}

/// The relay's answer as the consumer runner reads it: a refusal or a mail that cannot be built
/// is given up, anything else retried.
impl From<SendError> for Failure {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Transient(_) => Failure::Retry(error.into()),
            SendError::Permanent(_) | SendError::Refused(_) => Failure::Poison(error.into()),
        }
    }
}

fn decode_event(message: &Message) -> Result<Event, Failure> {
    Event::decode(message.payload.as_ref()).map_err(|e| Failure::poison(format!("not an event: {e}")))
}

pub struct AccountMailConsumer {
    pub ledger: Ledger,
    pub sender: Sender,
    pub message_id_domain: String,
    pub site_name: String,
}

impl Handler for AccountMailConsumer {
    type Message = Event;

    fn decode(&self, message: &Message) -> Result<Event, Failure> {
        decode_event(message)
    }

    async fn handle(&self, event: Event) -> Handled {
        let Some(Payload::AccountMailRequested(request)) = event.payload else {
            return Ok(());
        };
        let event_id = Uuid::parse_str(&event.id)
            .map_err(|_| Failure::poison(format!("an account mail event has no usable id ({:?})", event.id)))?;
        match self.send_once(event_id, request).await {
            Ok(()) => Ok(()),
            Err(SendError::Refused(refusal)) => {
                tracing::warn!(%event_id, reason = %refusal.reason, "the mail server refused account mail; not retrying it");
                self.ledger.refused(event_id, &refusal.reason).await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Records in the ledger why an account mail that was given up never went out.
    async fn quarantine(&self, message: &Message, delivered: i64, reason: &anyhow::Error) -> anyhow::Result<()> {
        if let Ok(event) = decode_event(message)
            && let Ok(event_id) = Uuid::parse_str(&event.id)
        {
            self.ledger.refused(event_id, &format!("not sent after {delivered} deliveries: {reason:#}")).await?;
        }
        Ok(())
    }
}

impl AccountMailConsumer {
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
