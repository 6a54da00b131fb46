//! The durable consumer of identity's events that tickets acts on: group sharing flags,
//! memberships (who may see whose tickets), the portal setting "contacts may close their
//! tickets", and confirmations of guests' held tickets (which release them). Each event is
//! applied idempotently and acked after it is stored.

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use helpdesk_kit::{CancellationToken, nats::Nats};
use helpdesk_proto::events::v1::{Event, event::Payload};
use prost::Message as _;
use uuid::Uuid;

use crate::store::Store;

const DURABLE: &str = "tickets-identity";

pub struct IdentityConsumer {
    pub store: Store,
    pub nats: Nats,
}

impl IdentityConsumer {
    pub async fn consumer(&self) -> anyhow::Result<PullConsumer> {
        let stream = self.nats.jetstream.get_stream(self.nats.subjects.events_stream()).await?;
        Ok(stream
            .get_or_create_consumer(
                DURABLE,
                pull::Config {
                    durable_name: Some(DURABLE.into()),
                    filter_subject: self.nats.subjects.event("identity", ">"),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await?)
    }

    pub async fn run(self, consumer: PullConsumer, shutdown: CancellationToken) {
        helpdesk_kit::consumer::run(DURABLE, consumer, shutdown, |message| self.handle(message)).await;
    }

    async fn handle(&self, message: Message) {
        let ack = match self.apply(&message.payload).await {
            Ok(()) => AckKind::Ack,
            Err(Apply::Malformed(reason)) => {
                tracing::error!(%reason, subject = %message.subject, "dropping an undecodable identity event");
                AckKind::Term
            }
            Err(Apply::Store(error)) => {
                tracing::warn!(%error, "identity event not applied; will be redelivered");
                AckKind::Nak(Some(std::time::Duration::from_secs(2)))
            }
        };
        if let Err(error) = message.ack_with(ack).await {
            tracing::warn!(%error, "could not acknowledge an identity event");
        }
    }

    async fn apply(&self, payload: &[u8]) -> Result<(), Apply> {
        let event = Event::decode(payload).map_err(|e| Apply::Malformed(e.to_string()))?;
        let id = |raw: &str| Uuid::parse_str(raw).map_err(|_| Apply::Malformed(format!("bad id {raw:?}")));
        match event.payload {
            Some(Payload::GroupUpdated(group)) => {
                self.store.set_group(id(&group.group_id)?, group.share_tickets).await?;
            }
            Some(Payload::GroupMembershipChanged(change)) => {
                self.store
                    .set_membership(id(&change.group_id)?, id(&change.contact_id)?, change.member)
                    .await?;
            }
            Some(Payload::GuestTicketConfirmed(confirmed)) => {
                let released = self.store.release_held(id(&confirmed.ticket_id)?, id(&confirmed.contact_id)?).await?;
                tracing::info!(ticket = %confirmed.ticket_id, released, "guest ticket confirmed");
            }
            Some(Payload::PortalSettingsChanged(settings)) => {
                if let Some(allowed) = settings.contacts_may_close_tickets {
                    self.store.set_contacts_may_close(allowed).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

enum Apply {
    Malformed(String),
    Store(sqlx::Error),
}

impl From<sqlx::Error> for Apply {
    fn from(error: sqlx::Error) -> Self {
        Apply::Store(error)
    }
}
