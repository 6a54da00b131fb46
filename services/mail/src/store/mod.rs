//! Schema `mail`. Here: the outbound ledger — `begin` claims an event before sending; `sent`
//! records that the relay accepted it; a redelivered event whose row says `sent` is acknowledged
//! without sending again. `mailboxes`: the IMAP cursors and the quarantine of poison mail.

mod mailboxes;

pub use mailboxes::{Cursor, MailRef, Mailboxes, Quarantined};

use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone)]
pub struct Ledger {
    pool: PgPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First attempt, or an earlier attempt that did not finish: send.
    Send,
    /// Sent before: do nothing.
    AlreadySent,
}

impl Ledger {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    #[tracing::instrument(skip(self, recipient), err)]
    pub async fn begin(&self, event_id: Uuid, kind: &str, recipient: &str, message_id: &str) -> sqlx::Result<Claim> {
        let status: String = sqlx::query_scalar(
            "INSERT INTO outbound_ledger (event_id, kind, recipient, message_id, status) VALUES ($1, $2, $3, $4, 'sending')
             ON CONFLICT (event_id) DO UPDATE SET attempts = outbound_ledger.attempts + 1
             RETURNING status",
        )
        .bind(event_id)
        .bind(kind)
        .bind(recipient)
        .bind(message_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(if status == "sent" { Claim::AlreadySent } else { Claim::Send })
    }

    #[tracing::instrument(skip(self), err)]
    pub async fn sent(&self, event_id: Uuid) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbound_ledger SET status = 'sent', sent_at = now() WHERE event_id = $1")
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Ticket mail's bookkeeping: the thread root per ticket and the per-recipient rate.
impl Ledger {
    pub async fn set_thread_root(&self, ticket: Uuid, root: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO ticket_threads (ticket_id, root_message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(ticket)
            .bind(root)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A later mail from the customer on the ticket (the root, when the ticket did not start by mail).
    pub async fn set_thread_latest(&self, ticket: Uuid, latest: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO ticket_threads (ticket_id, root_message_id, latest_message_id) VALUES ($1, $2, $2)
             ON CONFLICT (ticket_id) DO UPDATE SET latest_message_id = $2",
        )
        .bind(ticket)
        .bind(latest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The thread's root Message-ID and the customer's latest one, when the ticket has mail.
    pub async fn thread(&self, ticket: Uuid) -> sqlx::Result<Option<(String, Option<String>)>> {
        sqlx::query_as("SELECT root_message_id, latest_message_id FROM ticket_threads WHERE ticket_id = $1")
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await
    }

    /// Mails sent or being sent to this recipient in the last hour (account mail included).
    pub async fn sent_last_hour(&self, recipient: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT count(*) FROM outbound_ledger WHERE lower(recipient) = lower($1) AND created_at > now() - interval '1 hour'",
        )
        .bind(recipient)
        .fetch_one(&self.pool)
        .await
    }
}
