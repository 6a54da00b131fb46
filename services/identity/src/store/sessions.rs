//! Sessions: created at sign-in, found by the hash of the presented id, extended on use up to
//! the absolute limit, deleted at logout, and all deleted for a contact when the password changes
//! or the contact is blocked.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{Result, Store};

pub struct SessionTimes {
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

/// Inserts a session in the caller's transaction.
pub async fn create(
    conn: &mut PgConnection,
    id_hash: &[u8],
    contact_id: Uuid,
    idle: chrono::Duration,
    absolute: chrono::Duration,
) -> sqlx::Result<SessionTimes> {
    let now = Utc::now();
    let times = SessionTimes {
        idle_expires_at: now + idle.min(absolute),
        absolute_expires_at: now + absolute,
    };
    sqlx::query(
        "INSERT INTO sessions (id_hash, contact_id, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(contact_id)
    .bind(times.idle_expires_at)
    .bind(times.absolute_expires_at)
    .execute(conn)
    .await?;
    Ok(times)
}

/// Deletes every session of a contact, except `keep` if given.
pub async fn delete_all(conn: &mut PgConnection, contact_id: Uuid, keep: Option<&[u8]>) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM sessions WHERE contact_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)")
        .bind(contact_id)
        .bind(keep)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

impl Store {
    /// The live session's contact, its idle expiry pushed forward (never past the absolute one).
    /// Sessions of contacts that are no longer active end here too.
    #[tracing::instrument(skip_all, err)]
    pub async fn touch_session(&self, id_hash: &[u8], idle: chrono::Duration) -> Result<Option<(Uuid, SessionTimes)>> {
        let row = sqlx::query(
            "UPDATE sessions s SET idle_expires_at = LEAST(now() + $2, s.absolute_expires_at)
             FROM contacts c
             WHERE s.id_hash = $1 AND c.id = s.contact_id AND c.status = 'active'
               AND s.idle_expires_at > now() AND s.absolute_expires_at > now()
             RETURNING s.contact_id, s.idle_expires_at, s.absolute_expires_at",
        )
        .bind(id_hash)
        .bind(idle)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            (
                row.get("contact_id"),
                SessionTimes {
                    idle_expires_at: row.get("idle_expires_at"),
                    absolute_expires_at: row.get("absolute_expires_at"),
                },
            )
        }))
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn delete_session(&self, id_hash: &[u8]) -> Result<bool> {
        let result = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes sessions past their expiry (housekeeping; expired ones are refused anyway).
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE idle_expires_at <= now() OR absolute_expires_at <= now()")
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
