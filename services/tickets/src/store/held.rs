//! Guests' tickets held until confirmed. A guest who files with the address of an existing
//! contact gets an unverified ticket (`Store::create_held_ticket`): staff see it, marked so; the
//! contact and her group do not, and nothing announced it. When the address's owner follows the
//! mailed link, identity publishes `GuestTicketConfirmed` and this releases the ticket: visible
//! from then on, and `TicketCreated` goes out in the same transaction, so it is acknowledged as a
//! new ticket exactly once however often the event is redelivered. An unconfirmed ticket stays
//! unverified for staff to judge: it is never purged, so no customer's words are lost.

use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{TicketCreated, event::Payload};
use uuid::Uuid;

use super::Store;

impl Store {
    /// Releases the contact's unverified ticket. `false` when there is none (already released,
    /// or the ids do not match), which makes a redelivered event a no-op.
    #[tracing::instrument(skip(self), err)]
    pub async fn release_held(&self, ticket_id: Uuid, contact_id: Uuid) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let released: Option<(i64, String, i16)> = sqlx::query_as(
            "UPDATE tickets SET unverified = false, updated_at = now()
             WHERE id = $1 AND contact_id = $2 AND unverified
             RETURNING number, subject, channel",
        )
        .bind(ticket_id)
        .bind(contact_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((number, subject, channel)) = released else {
            return Ok(false);
        };
        let first_message_id: Uuid =
            sqlx::query_scalar("SELECT id FROM messages WHERE ticket_id = $1 ORDER BY created_at, id LIMIT 1")
                .bind(ticket_id)
                .fetch_one(&mut *tx)
                .await?;
        outbox::enqueue(
            &mut tx,
            Payload::TicketCreated(TicketCreated {
                ticket_id: ticket_id.to_string(),
                number,
                contact_id: contact_id.to_string(),
                subject,
                channel: i32::from(channel),
                first_message_id: first_message_id.to_string(),
                inbound_external_id: String::new(),
                automatic: false,
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }
}
