//! The IMAP side of schema `mail`: one (UIDVALIDITY, last UID) cursor per mailbox, and the
//! quarantine of mail that could not become a message.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::MailError;

#[derive(Clone)]
pub struct Mailboxes {
    pool: PgPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uid_validity: u32,
    pub last_uid: u32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Quarantined {
    pub id: Uuid,
    pub mailbox: String,
    pub uid_validity: i64,
    pub uid: i64,
    pub raw_key: String,
    pub size: i64,
    pub reason: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub retried_at: Option<DateTime<Utc>>,
}

/// Where a quarantined mail came from.
pub struct MailRef<'a> {
    pub mailbox: &'a str,
    pub uid_validity: u32,
    pub uid: u32,
    pub raw_key: &'a str,
    pub size: usize,
}

impl Mailboxes {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn cursor(&self, mailbox: &str) -> Result<Option<Cursor>, MailError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT uid_validity, last_uid FROM mailbox_cursors WHERE mailbox = $1")
                .bind(mailbox)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(validity, last)| Cursor {
            uid_validity: u32::try_from(validity).unwrap_or_default(),
            last_uid: u32::try_from(last).unwrap_or_default(),
        }))
    }

    pub async fn advance(&self, mailbox: &str, cursor: Cursor) -> Result<(), MailError> {
        sqlx::query(
            "INSERT INTO mailbox_cursors (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox) DO UPDATE SET uid_validity = $2, last_uid = $3, updated_at = now()",
        )
        .bind(mailbox)
        .bind(i64::from(cursor.uid_validity))
        .bind(i64::from(cursor.last_uid))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a poison mail; seeing the same mail again (a rescan) counts another attempt.
    pub async fn quarantine(&self, mail: &MailRef<'_>, reason: &str) -> Result<Uuid, MailError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO quarantine (id, mailbox, uid_validity, uid, raw_key, size, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE SET reason = $7, attempts = quarantine.attempts + 1
             RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(mail.mailbox)
        .bind(i64::from(mail.uid_validity))
        .bind(i64::from(mail.uid))
        .bind(mail.raw_key)
        .bind(i64::try_from(mail.size).unwrap_or(i64::MAX))
        .bind(reason)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn quarantined(&self, limit: i64) -> Result<Vec<Quarantined>, MailError> {
        Ok(sqlx::query_as(
            "SELECT id, mailbox, uid_validity, uid, raw_key, size, reason, attempts, created_at, retried_at
             FROM quarantine ORDER BY created_at DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn quarantined_one(&self, id: Uuid) -> Result<Option<Quarantined>, MailError> {
        Ok(sqlx::query_as(
            "SELECT id, mailbox, uid_validity, uid, raw_key, size, reason, attempts, created_at, retried_at
             FROM quarantine WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A retry failed again: keep the row with the new reason.
    pub async fn retry_failed(&self, id: Uuid, reason: &str) -> Result<(), MailError> {
        sqlx::query("UPDATE quarantine SET reason = $2, attempts = attempts + 1, retried_at = now() WHERE id = $1")
            .bind(id)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A retry published the mail: it is no longer quarantined.
    pub async fn release(&self, id: Uuid) -> Result<(), MailError> {
        sqlx::query("DELETE FROM quarantine WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}
