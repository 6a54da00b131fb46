//! The inbound side of the store: the (channel, external id) key that makes redelivery a no-op,
//! and the quarantine for messages that cannot be processed.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{InboundKey, Store};

/// Claims the key for a new ticket; false when the message was already turned into one.
pub(super) async fn claim(
    conn: &mut PgConnection,
    key: &InboundKey<'_>,
    ticket_id: Uuid,
    message_id: Uuid,
) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO inbound_messages (channel, external_id, ticket_id, message_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(key.channel)
    .bind(key.external_id)
    .bind(ticket_id)
    .bind(message_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

impl Store {
    /// The ticket an inbound message already became, if it did.
    pub async fn ticket_for_inbound(&self, channel: i16, external_id: &str) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT ticket_id FROM inbound_messages WHERE channel = $1 AND external_id = $2")
            .bind(channel)
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Keeps a message that cannot be processed, whole, for an admin to inspect and retry.
    #[tracing::instrument(skip(self, payload), err)]
    pub async fn quarantine(&self, subject: &str, payload: &[u8], reason: &str, attempts: i32) -> sqlx::Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO quarantine (id, subject, payload, reason, attempts) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
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
    pub subject: String,
    pub payload: Vec<u8>,
    pub reason: String,
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    pub async fn quarantined(&self) -> sqlx::Result<Vec<Quarantined>> {
        sqlx::query_as::<_, (Uuid, String, Vec<u8>, String, i32, chrono::DateTime<chrono::Utc>)>(
            "SELECT id, subject, payload, reason, attempts, created_at FROM quarantine ORDER BY created_at LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await
        .map(|rows| {
            rows.into_iter()
                .map(|(id, subject, payload, reason, attempts, created_at)| Quarantined {
                    id,
                    subject,
                    payload,
                    reason,
                    attempts,
                    created_at,
                })
                .collect()
        })
    }

    /// Forgets a quarantined message once it was handed back to the stream.
    pub async fn release_quarantined(&self, id: Uuid) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM quarantine WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}

/// Threading lookups for inbound mail (the rules themselves live in `events::inbound`).
impl Store {
    /// The ticket one of these Message-IDs belongs to: a mail we received for it.
    pub async fn ticket_for_references(&self, references: &[String]) -> sqlx::Result<Option<Uuid>> {
        if references.is_empty() {
            return Ok(None);
        }
        sqlx::query_scalar(
            "SELECT ticket_id FROM inbound_messages WHERE channel = 2 AND external_id = ANY($1) LIMIT 1",
        )
        .bind(references)
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
