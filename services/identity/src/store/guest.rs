//! Guests' tickets in an existing contact's name: the single-use, expiring confirmation links
//! mailed to the address, and their redemption, which tells tickets (`GuestTicketConfirmed`,
//! through the outbox) to release the held ticket. A link is consumed by an `UPDATE … WHERE
//! used_at IS NULL AND expires_at > now()` in the same transaction as that event, so a second use
//! fails and a confirmed ticket is never left held.

use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, GuestTicketConfirmed, event::Payload};
use uuid::Uuid;

use super::{Result, Store};

/// Confirmation mails to one contact per hour: a stranger filing ticket after ticket in her name
/// cannot flood her inbox (the tickets stay unverified, visible to staff).
pub const MAX_CONFIRMATIONS_PER_HOUR: i64 = 5;

/// A confirmation link to store and mail.
pub struct TicketConfirmation<'a> {
    pub token_hash: &'a [u8],
    pub contact_id: Uuid,
    pub ticket_id: Uuid,
    pub to_address: &'a str,
    pub address_normalized: &'a str,
    pub to_name: &'a str,
    pub link: &'a str,
    pub ttl: chrono::Duration,
}

impl Store {
    /// Stores the link and asks the mail service (through the outbox) to send it. Returns whether
    /// a mail was requested: not when the address is not the contact's (the caller was confused),
    /// the contact is blocked, or the hourly limit is reached.
    #[tracing::instrument(skip_all, fields(contact = %c.contact_id, ticket = %c.ticket_id), err)]
    pub async fn send_ticket_confirmation(&self, c: TicketConfirmation<'_>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Serialise per contact, so concurrent requests cannot all pass the count.
        let owned: Option<bool> = sqlx::query_scalar(
            "SELECT c.status <> 'blocked'
                    AND EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id AND e.address_normalized = $2)
             FROM contacts c WHERE c.id = $1 FOR UPDATE",
        )
        .bind(c.contact_id)
        .bind(c.address_normalized)
        .fetch_optional(&mut *tx)
        .await?;
        if owned != Some(true) {
            tracing::warn!("a blocked contact, or the address is not the contact's; no confirmation mail");
            return Ok(false);
        }
        let recent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM guest_confirmations WHERE contact_id = $1 AND created_at > now() - interval '1 hour'",
        )
        .bind(c.contact_id)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= MAX_CONFIRMATIONS_PER_HOUR {
            tracing::warn!("ticket confirmation limit reached; not sending (the ticket stays unverified)");
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO guest_confirmations (token_hash, contact_id, ticket_id, address, expires_at)
             VALUES ($1, $2, $3, $4, now() + $5)",
        )
        .bind(c.token_hash)
        .bind(c.contact_id)
        .bind(c.ticket_id)
        .bind(c.to_address)
        .bind(c.ttl)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Payload::AccountMailRequested(AccountMailRequested {
                kind: AccountMailKind::TicketConfirmation as i32,
                to_address: c.to_address.to_string(),
                to_name: c.to_name.to_string(),
                link: c.link.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }

    /// Redeems a confirmation link: marks the address verified (following the link proves it)
    /// and publishes `GuestTicketConfirmed`. `None` when the token is unknown, used, expired, or
    /// the contact is blocked.
    #[tracing::instrument(skip_all, err)]
    pub async fn confirm_ticket(&self, token_hash: &[u8]) -> Result<Option<Uuid>> {
        let mut tx = self.pool.begin().await?;
        let redeemed: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "UPDATE guest_confirmations SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING contact_id, ticket_id, address",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((contact_id, ticket_id, address)) = redeemed else {
            return Ok(None);
        };
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact_id)
            .fetch_optional(&mut *tx)
            .await?;
        if matches!(status.as_deref(), None | Some("blocked")) {
            return Ok(None);
        }
        sqlx::query("UPDATE contact_emails SET verified = true WHERE contact_id = $1 AND address_normalized = lower($2)")
            .bind(contact_id)
            .bind(&address)
            .execute(&mut *tx)
            .await?;
        outbox::enqueue(
            &mut tx,
            Payload::GuestTicketConfirmed(GuestTicketConfirmed {
                ticket_id: ticket_id.to_string(),
                contact_id: contact_id.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(Some(ticket_id))
    }
}
