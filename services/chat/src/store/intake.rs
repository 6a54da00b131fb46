//! What intake has taken: each channel's high-water mark (`channel_cursors`), the contact messages
//! handed to tickets (`taken_messages`, which edits and deletes are checked against) and the edits
//! and deletes already recorded (`message_changes`).

use uuid::Uuid;

use super::{Store, id, snowflake};

impl Store {
    /// The channel's high-water mark: the newest message id taken from it.
    pub async fn cursor(&self, channel: u64) -> sqlx::Result<Option<u64>> {
        let mark: Option<i64> = sqlx::query_scalar("SELECT last_message_id FROM channel_cursors WHERE channel_id = $1")
            .bind(id(channel))
            .fetch_optional(&self.pool)
            .await?;
        Ok(mark.map(snowflake))
    }

    /// Moves the channel's mark forward to `message` (never back).
    pub async fn advance_cursor(&self, channel: u64, message: u64) -> sqlx::Result<()> {
        sqlx::query(ADVANCE_CURSOR).bind(id(channel)).bind(id(message)).execute(&self.pool).await?;
        Ok(())
    }

    /// Records `message` of `channel` as handed to tickets for `conversation`, and moves the
    /// channel's mark to it, in one transaction.
    pub async fn record_taken(&self, channel: u64, message: u64, conversation: Uuid) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO taken_messages (message_id, channel_id, conversation_id) VALUES ($1, $2, $3)
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(id(message))
        .bind(id(channel))
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
        sqlx::query(ADVANCE_CURSOR).bind(id(channel)).bind(id(message)).execute(&mut *tx).await?;
        tx.commit().await
    }

    /// The conversation a taken message belongs to; `None` for a message intake never took (a
    /// bot's, one from elsewhere).
    pub async fn taken_conversation(&self, message: u64) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT conversation_id FROM taken_messages WHERE message_id = $1")
            .bind(id(message))
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn change_recorded(&self, message: u64, change: &str) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM message_changes WHERE message_id = $1 AND change = $2)")
            .bind(id(message))
            .bind(change)
            .fetch_one(&self.pool)
            .await
    }

    pub async fn record_change(&self, message: u64, change: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO message_changes (message_id, change) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id(message))
            .bind(change)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

const ADVANCE_CURSOR: &str = "INSERT INTO channel_cursors (channel_id, last_message_id) VALUES ($1, $2)
     ON CONFLICT (channel_id) DO UPDATE SET last_message_id = GREATEST(channel_cursors.last_message_id, EXCLUDED.last_message_id),
     updated_at = now()";
