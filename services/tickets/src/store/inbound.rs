//! The inbound side of the store: the (channel, dedupe id) row that makes redelivery a no-op and
//! remembers each message's content hash and references, the threading lookups over those rows,
//! and the quarantine (poison, and delivery reports about no mail of ours).

use sqlx::PgConnection;
use uuid::Uuid;

use super::{InboundKey, Store};
use crate::domain::{Channel, TicketError};

/// `quarantine.kind`: could not be processed (an admin may retry it).
pub const POISON: &str = "poison";
/// `quarantine.kind`: a bounce or delay notice about no mail we sent, kept for admins to see.
pub const UNMATCHED_BOUNCE: &str = "unmatched_bounce";

/// Claims the key for a new ticket or reply; false when the message was already stored.
pub(super) async fn claim(
    conn: &mut PgConnection,
    key: &InboundKey<'_>,
    ticket_id: Uuid,
    message_id: Uuid,
) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO inbound_messages (channel, external_id, ticket_id, message_id, content_hash, thread_refs, text_truncated)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(key.channel)
    .bind(key.dedupe_id)
    .bind(ticket_id)
    .bind(message_id)
    .bind(key.content_hash)
    .bind(key.thread_refs)
    .bind(key.text_truncated)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

impl Store {
    /// The content hash of the stored message with this key, if there is one (empty for rows
    /// from before hashes were kept).
    pub async fn inbound_content_hash(&self, channel: i16, dedupe_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT coalesce(content_hash, '') FROM inbound_messages WHERE channel = $1 AND external_id = $2",
        )
        .bind(channel)
        .bind(dedupe_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Keeps a message whole for an admin: `kind` is [`POISON`] (cannot be processed; retry it)
    /// or [`UNMATCHED_BOUNCE`].
    #[tracing::instrument(skip(self, payload), err)]
    pub async fn quarantine(&self, kind: &str, subject: &str, payload: &[u8], reason: &str, attempts: i32) -> sqlx::Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO quarantine (id, kind, subject, payload, reason, attempts) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(kind)
            .bind(subject)
            .bind(payload)
            .bind(reason)
            .bind(attempts)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }
}

#[derive(Debug, Clone)]
pub struct Quarantined {
    pub id: Uuid,
    pub kind: String,
    pub subject: String,
    pub payload: Vec<u8>,
    pub reason: String,
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, TicketError> {
        let rows = sqlx::query_as::<_, (Uuid, String, String, Vec<u8>, String, i32, chrono::DateTime<chrono::Utc>)>(
            "SELECT id, kind, subject, payload, reason, attempts, created_at FROM quarantine ORDER BY created_at LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, subject, payload, reason, attempts, created_at)| Quarantined {
                id,
                kind,
                subject,
                payload,
                reason,
                attempts,
                created_at,
            })
            .collect())
    }

    /// Forgets a quarantined message once it was handed back to the stream.
    pub async fn release_quarantined(&self, id: Uuid) -> Result<(), TicketError> {
        sqlx::query("DELETE FROM quarantine WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}

/// Threading lookups for inbound mail (the rules themselves live in `events::inbound::threading`).
impl Store {
    /// The first of these external ids (in the order given) that is a message we received on the
    /// channel, with its position and ticket.
    pub async fn first_known_reference(&self, channel: Channel, references: &[String]) -> sqlx::Result<Option<(usize, Uuid)>> {
        if references.is_empty() {
            return Ok(None);
        }
        let found: Option<(i32, Uuid)> = sqlx::query_as(
            "SELECT array_position($1::text[], external_id), ticket_id FROM inbound_messages
             WHERE channel = $2 AND external_id = ANY($1) ORDER BY 1 LIMIT 1",
        )
        .bind(references)
        .bind(channel as i16)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|(position, ticket)| (usize::try_from(position - 1).unwrap_or(0), ticket)))
    }

    /// The ticket of a stored mail that names this Message-ID among its references: a reply that
    /// arrived before its parent. The earliest such reply wins.
    pub async fn ticket_of_child(&self, message_id: &str) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar(
            "SELECT ticket_id FROM inbound_messages WHERE channel = 2 AND thread_refs @> ARRAY[$1::text]
             ORDER BY received_at LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn ticket_exists(&self, id: Uuid) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.pool)
            .await
    }

    /// The ticket with this number, only if the sender is its contact or in its group.
    pub async fn ticket_by_number_for_sender(&self, number: i64, sender: Uuid) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar(
            "SELECT t.id FROM tickets t WHERE t.number = $1 AND (t.contact_id = $2
                 OR t.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.contact_id = $2))",
        )
        .bind(number)
        .bind(sender)
        .fetch_optional(&self.pool)
        .await
    }
}
