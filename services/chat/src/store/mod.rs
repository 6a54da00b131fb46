//! The chat part's tables in its schema `chat`: `conversations` (a Discord DM, thread or forum
//! post ↔ the ticket it carries), what intake has taken (per-channel marks, taken messages,
//! recorded edits) and the outbound ledger (`ledger`: what the bot posted, part by part, and what
//! Discord refused). Discord ids (snowflakes) are stored as `bigint`: they fit in 63 bits, and
//! [`id`]/[`snowflake`] convert at this edge only.

mod conversations;
mod intake;
mod ledger;

pub use conversations::{Conversation, ConversationKind, ConversationState, NewConversation};
pub use ledger::PostedPart;
use sqlx::PgPool;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A Discord id as stored.
pub fn id(snowflake: u64) -> i64 {
    i64::try_from(snowflake).unwrap_or(i64::MAX)
}

/// A stored Discord id.
pub fn snowflake(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or_default()
}
