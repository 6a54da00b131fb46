//! Conversations: finding the one a Discord message continues (an open DM, a thread, a forum
//! post), starting one idempotently on its root message, and learning its ticket and state; the
//! channels a backfill pages.

use uuid::Uuid;

use super::{Store, id, snowflake};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Dm,
    Thread,
    ForumPost,
}

impl ConversationKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Dm => "dm",
            Self::Thread => "thread",
            Self::ForumPost => "forum_post",
        }
    }

    fn parse(stored: &str) -> Self {
        match stored {
            "dm" => Self::Dm,
            "forum_post" => Self::ForumPost,
            _ => Self::Thread,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationState {
    Open,
    /// Its ticket was completed.
    Closed,
    /// Discord deleted the thread, or the user closed their DMs to us.
    Gone,
}

impl ConversationState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Gone => "gone",
        }
    }

    fn parse(stored: &str) -> Self {
        match stored {
            "closed" => Self::Closed,
            "gone" => Self::Gone,
            _ => Self::Open,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: Uuid,
    pub kind: ConversationKind,
    pub channel_id: Option<u64>,
    pub parent_channel_id: Option<u64>,
    pub guild_id: Option<u64>,
    pub root_message_id: u64,
    pub ticket_id: Option<Uuid>,
    pub ticket_number: Option<i64>,
    pub state: ConversationState,
}

pub struct NewConversation {
    pub kind: ConversationKind,
    pub channel_id: Option<u64>,
    pub parent_channel_id: Option<u64>,
    pub guild_id: Option<u64>,
    pub root_message_id: u64,
    pub user_id: u64,
}

type Row = (Uuid, String, Option<i64>, Option<i64>, Option<i64>, i64, Option<Uuid>, Option<i64>, String);

const COLUMNS: &str = "id, kind, channel_id, parent_channel_id, guild_id, root_message_id, ticket_id, ticket_number, state";

fn from_row(row: Row) -> Conversation {
    let (id, kind, channel_id, parent_channel_id, guild_id, root, ticket_id, ticket_number, state) = row;
    Conversation {
        id,
        kind: ConversationKind::parse(&kind),
        channel_id: channel_id.map(snowflake),
        parent_channel_id: parent_channel_id.map(snowflake),
        guild_id: guild_id.map(snowflake),
        root_message_id: snowflake(root),
        ticket_id,
        ticket_number,
        state: ConversationState::parse(&state),
    }
}

impl Store {
    /// Starts the conversation `new.root_message_id` opens, or finds it started already (the
    /// same message seen again: a redelivery, a backfill).
    pub async fn start_conversation(&self, new: &NewConversation) -> sqlx::Result<Conversation> {
        sqlx::query(
            "INSERT INTO conversations (id, kind, channel_id, parent_channel_id, guild_id, root_message_id, user_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (root_message_id) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(new.kind.as_str())
        .bind(new.channel_id.map(id))
        .bind(new.parent_channel_id.map(id))
        .bind(new.guild_id.map(id))
        .bind(id(new.root_message_id))
        .bind(id(new.user_id))
        .execute(&self.pool)
        .await?;
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM conversations WHERE root_message_id = $1")))
            .bind(id(new.root_message_id))
            .fetch_one(&self.pool)
            .await?;
        Ok(from_row(row))
    }

    /// The open conversation of a DM channel.
    pub async fn open_dm(&self, channel: u64) -> sqlx::Result<Option<Conversation>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversations WHERE kind = 'dm' AND state = 'open' AND channel_id = $1"
        )))
        .bind(id(channel))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    /// The conversation of a thread or forum post, whatever its state.
    pub async fn thread_conversation(&self, channel: u64) -> sqlx::Result<Option<Conversation>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversations WHERE kind <> 'dm' AND channel_id = $1"
        )))
        .bind(id(channel))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn conversation(&self, conversation: Uuid) -> sqlx::Result<Option<Conversation>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM conversations WHERE id = $1")))
            .bind(conversation)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(from_row))
    }

    /// The channels where open conversations continue (what a backfill pages).
    pub async fn open_conversation_channels(&self) -> sqlx::Result<Vec<u64>> {
        let channels: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT channel_id FROM conversations WHERE state = 'open' AND channel_id IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(channels.into_iter().map(snowflake).collect())
    }

    /// The conversation carrying a ticket.
    pub async fn conversation_of_ticket(&self, ticket: Uuid) -> sqlx::Result<Option<Conversation>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM conversations WHERE ticket_id = $1")))
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(from_row))
    }

    /// The conversation opened by a root message (a ticket's inbound external id).
    pub async fn conversation_of_root(&self, root_message: u64) -> sqlx::Result<Option<Conversation>> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversations WHERE root_message_id = $1"
        )))
        .bind(id(root_message))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    /// Records the ticket the conversation's root message made (from TicketCreated).
    pub async fn attach_ticket(&self, root_message: u64, ticket: Uuid, number: i64) -> sqlx::Result<Option<Conversation>> {
        sqlx::query("UPDATE conversations SET ticket_id = $2, ticket_number = $3, updated_at = now() WHERE root_message_id = $1")
            .bind(id(root_message))
            .bind(ticket)
            .bind(number)
            .execute(&self.pool)
            .await?;
        self.conversation_of_root(root_message).await
    }

    /// Where the conversation continues, once its thread exists.
    pub async fn set_channel(&self, conversation: Uuid, channel: u64) -> sqlx::Result<()> {
        sqlx::query("UPDATE conversations SET channel_id = $2, updated_at = now() WHERE id = $1")
            .bind(conversation)
            .bind(id(channel))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_state(&self, conversation: Uuid, state: ConversationState) -> sqlx::Result<()> {
        sqlx::query("UPDATE conversations SET state = $2, updated_at = now() WHERE id = $1")
            .bind(conversation)
            .bind(state.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
