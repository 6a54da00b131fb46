//! The outbound ledger: each posted part of a reply (or of a line of the bot's own) with the
//! Discord message it became, and each post Discord refused for good with whether the ticket's
//! internal note about it is written. `post` consults it before every part, so a redelivered
//! event skips what is already on Discord.

use uuid::Uuid;

use super::{Store, id, snowflake};

/// One Discord message the bot created.
pub struct PostedPart {
    pub source: Uuid,
    pub part: usize,
    pub ticket: Uuid,
    pub channel: u64,
    pub discord_message: u64,
}

fn part_number(part: usize) -> i32 {
    i32::try_from(part).unwrap_or(i32::MAX)
}

impl Store {
    /// The Discord message part `part` of `source` became, if it was posted.
    pub async fn posted_part(&self, source: Uuid, part: usize) -> sqlx::Result<Option<u64>> {
        let posted: Option<i64> = sqlx::query_scalar("SELECT discord_message_id FROM outbound_posts WHERE source_id = $1 AND part = $2")
            .bind(source)
            .bind(part_number(part))
            .fetch_optional(self.pool())
            .await?;
        Ok(posted.map(snowflake))
    }

    /// Records a posted part; recording it again (a redelivery that Discord deduplicated by
    /// nonce) keeps the first row.
    pub async fn record_posted(&self, posted: &PostedPart) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO outbound_posts (source_id, part, ticket_id, channel_id, discord_message_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_id, part) DO NOTHING",
        )
        .bind(posted.source)
        .bind(part_number(posted.part))
        .bind(posted.ticket)
        .bind(id(posted.channel))
        .bind(id(posted.discord_message))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that `source` could not be posted and why; answers whether the ticket's note about
    /// it is written already (a redelivery after the note).
    pub async fn record_refused(&self, source: Uuid, ticket: Uuid, reason: &str) -> sqlx::Result<bool> {
        sqlx::query("INSERT INTO outbound_refusals (source_id, ticket_id, reason) VALUES ($1, $2, $3) ON CONFLICT (source_id) DO NOTHING")
            .bind(source)
            .bind(ticket)
            .bind(reason)
            .execute(self.pool())
            .await?;
        sqlx::query_scalar("SELECT noted FROM outbound_refusals WHERE source_id = $1")
            .bind(source)
            .fetch_one(self.pool())
            .await
    }

    pub async fn refusal_noted(&self, source: Uuid) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbound_refusals SET noted = true WHERE source_id = $1")
            .bind(source)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
