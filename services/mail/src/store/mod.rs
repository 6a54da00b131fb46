//! Schema `mail`. Here: the outbound ledger — `begin` (account mail) and `claim` (ticket mail)
//! claim an event before sending; `sent` records that the relay accepted it, `refused` that it
//! refused it for good, `skip` that a rule held the mail back; a redelivered event whose row says
//! anything but `sending` is acknowledged without sending again. `claim` checks the per-recipient
//! limits under a lock on the recipient, so two replicas cannot both find room under one.
//! `mailboxes`: the IMAP cursors and the quarantine of poison mail.

mod mailboxes;

pub use mailboxes::{Cursor, MailRef, Mailboxes, Quarantined};

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::ticket_mail::Skip;

#[derive(Clone)]
pub struct Ledger {
    pool: PgPool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First attempt, or an earlier attempt that did not finish: send.
    Send,
    /// Sent before: do nothing.
    AlreadySent,
    /// Not sent, for good (refused or skipped) — `noted`: the ticket already says why.
    NotSent { reason: String, noted: bool },
}

impl Claim {
    fn of((status, reason, noted): (String, Option<String>, bool)) -> Self {
        match status.as_str() {
            "sent" => Self::AlreadySent,
            "sending" => Self::Send,
            _ => Self::NotSent { reason: reason.unwrap_or_default(), noted },
        }
    }
}

/// One ticket mail as the ledger records it.
pub struct Entry<'a> {
    pub event_id: Uuid,
    pub ticket: Uuid,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub message_id: &'a str,
}

/// The per-recipient limits a new ticket mail must fit under.
pub struct RateLimits {
    /// Mails (sent or being sent) to one address per hour.
    pub per_hour: i64,
    /// For an acknowledgement: at most this many acknowledgements to one address within the
    /// window (`per_window`, `window_secs`); `None` for other mail or when off.
    pub acknowledgements: Option<(i64, i64)>,
}

/// The first key of the advisory lock taken per recipient (the second is the address's hash).
const RECIPIENT_LOCK: i32 = 0x6d61_696c;

impl Ledger {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Claims an account mail (no limits apply: the person asked for it).
    #[tracing::instrument(skip(self, recipient), err)]
    pub async fn begin(&self, event_id: Uuid, kind: &str, recipient: &str, message_id: &str) -> sqlx::Result<Claim> {
        let row = sqlx::query_as(
            "INSERT INTO outbound_ledger (event_id, kind, recipient, message_id, status) VALUES ($1, $2, $3, $4, 'sending')
             ON CONFLICT (event_id) DO UPDATE SET attempts = outbound_ledger.attempts + 1
             RETURNING status, reason, noted_at IS NOT NULL",
        )
        .bind(event_id)
        .bind(kind)
        .bind(recipient)
        .bind(message_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Claim::of(row))
    }

    /// Claims a ticket mail: its earlier row when the event was seen before, else a new row —
    /// `skipped` with the reason when a limit is reached, `sending` otherwise.
    #[tracing::instrument(skip_all, fields(event_id = %entry.event_id), err)]
    pub async fn claim(&self, entry: &Entry<'_>, limits: &RateLimits) -> sqlx::Result<Claim> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(lower($2)))")
            .bind(RECIPIENT_LOCK)
            .bind(entry.recipient)
            .execute(&mut *tx)
            .await?;
        let earlier = sqlx::query_as(
            "UPDATE outbound_ledger SET attempts = attempts + 1 WHERE event_id = $1 RETURNING status, reason, noted_at IS NOT NULL",
        )
        .bind(entry.event_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            tx.commit().await?;
            return Ok(Claim::of(row));
        }
        let skip = limit_reached(&mut tx, entry, limits).await?;
        let reason = skip.as_ref().map(Skip::to_string);
        insert(&mut tx, entry, if reason.is_some() { "skipped" } else { "sending" }, reason.as_deref()).await?;
        tx.commit().await?;
        Ok(match reason {
            Some(reason) => Claim::NotSent { reason, noted: false },
            None => Claim::Send,
        })
    }

    /// Records a ticket mail held back before any limit is counted (an undeliverable address),
    /// also over an unfinished earlier attempt; a finished row stays as it is. Never `Send`.
    #[tracing::instrument(skip_all, fields(event_id = %entry.event_id), err)]
    pub async fn skip(&self, entry: &Entry<'_>, reason: &str) -> sqlx::Result<Claim> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, entry, "skipped", Some(reason)).await?;
        let row = sqlx::query_as(
            "UPDATE outbound_ledger SET status = CASE status WHEN 'sending' THEN 'skipped' ELSE status END,
                 reason = CASE status WHEN 'sending' THEN $2 ELSE reason END
             WHERE event_id = $1 RETURNING status, reason, noted_at IS NOT NULL",
        )
        .bind(entry.event_id)
        .bind(reason)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claim::of(row))
    }

    /// The relay refused the mail for good: never sent again.
    #[tracing::instrument(skip(self, reason), err)]
    pub async fn refused(&self, event_id: Uuid, reason: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbound_ledger SET status = 'refused', reason = $2 WHERE event_id = $1")
            .bind(event_id)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The ticket now says why its mail was not sent.
    #[tracing::instrument(skip(self), err)]
    pub async fn noted(&self, event_id: Uuid) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbound_ledger SET noted_at = now() WHERE event_id = $1")
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
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
}

async fn insert(tx: &mut Transaction<'_, Postgres>, entry: &Entry<'_>, status: &str, reason: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outbound_ledger (event_id, kind, recipient, message_id, status, reason, ticket_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(entry.event_id)
    .bind(entry.kind)
    .bind(entry.recipient)
    .bind(entry.message_id)
    .bind(status)
    .bind(reason)
    .bind(entry.ticket)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which limit a new mail to `entry.recipient` would exceed. Only mail sent or being sent counts
/// (account mail included); skipped and refused rows do not.
async fn limit_reached(tx: &mut Transaction<'_, Postgres>, entry: &Entry<'_>, limits: &RateLimits) -> sqlx::Result<Option<Skip>> {
    let last_hour: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbound_ledger WHERE lower(recipient) = lower($1) AND status IN ('sending', 'sent')
         AND created_at > now() - interval '1 hour'",
    )
    .bind(entry.recipient)
    .fetch_one(&mut **tx)
    .await?;
    if last_hour >= limits.per_hour {
        return Ok(Some(Skip::HourlyLimit { per_hour: limits.per_hour }));
    }
    let Some((per_window, window_secs)) = limits.acknowledgements else { return Ok(None) };
    let in_window: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbound_ledger WHERE lower(recipient) = lower($1) AND kind = $2 AND status IN ('sending', 'sent')
         AND created_at > now() - make_interval(secs => $3)",
    )
    .bind(entry.recipient)
    .bind(entry.kind)
    .bind(window_secs as f64)
    .fetch_one(&mut **tx)
    .await?;
    Ok((in_window >= per_window).then_some(Skip::AcknowledgementFlood { per_window, window_secs }))
}
