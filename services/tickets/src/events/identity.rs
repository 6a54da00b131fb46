//! The durable consumer of identity's events that tickets acts on: group sharing flags,
//! memberships (who may see whose tickets), the portal setting "contacts may close their
//! tickets", confirmations of guests' held tickets (which release them), and merged contacts
//! (whose tickets move to the survivor, `store::merge`). One consumer in stream order, so a
//! merge's membership changes are applied before the merge that follows them. Each event is
//! applied idempotently and acked after it is stored (kit's consumer runner does the acking).

use async_nats::jetstream::Message;
use helpdesk_kit::{
    consumer::{Durable, Failure, Handled, Handler},
    nats::{Subjects, durable},
};
use helpdesk_proto::events::v1::{Event, event::Payload};
use prost::Message as _;
use uuid::Uuid;

use crate::store::Store;

/// One event at a time, retried every 2 s until it is stored.
pub fn durable(subjects: &Subjects) -> Durable {
    Durable::new(subjects.events_stream(), durable::TICKETS_IDENTITY, subjects.event("identity", ">"))
}

pub struct IdentityConsumer {
    pub store: Store,
}

impl Handler for IdentityConsumer {
    type Message = Event;

    fn decode(&self, message: &Message) -> Result<Event, Failure> {
        Event::decode(message.payload.as_ref()).map_err(|e| Failure::poison(format!("an undecodable identity event: {e}")))
    }

    async fn handle(&self, event: Event) -> Handled {
        let id = |raw: &str| Uuid::parse_str(raw).map_err(|_| Failure::poison(format!("bad id {raw:?}")));
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
            Some(Payload::ContactsMerged(merged)) => {
                let (from, into) = (id(&merged.from_contact_id)?, id(&merged.into_contact_id)?);
                let moved = self.store.merge_contacts(from, into).await?;
                tracing::info!(%from, %into, moved, "merged contact's tickets moved to the surviving contact");
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
