//! The revocation list: written in the same transaction as the block, unblock, deactivation or
//! role change that causes it, with its `SubjectAccessChanged` event, so the list and the event
//! cannot disagree. Every part reads the list at start (`ListRevocations`) and follows the events.

use chrono::{DateTime, Utc};
use helpdesk_kit::{events::timestamp, outbox};
use helpdesk_proto::{
    events::v1::{SubjectAccessChanged, event::Payload},
    identity::v1::Revocation,
};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{Result, Store};

/// Records the subject's new state and announces it, in the caller's transaction.
pub async fn record(conn: &mut PgConnection, subject: Uuid, blocked: bool) -> sqlx::Result<()> {
    // Microseconds, as Postgres stores them, so the event and the row carry the same instant.
    let since = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now);
    sqlx::query(
        "INSERT INTO revocations (subject_id, blocked, since) VALUES ($1, $2, $3)
         ON CONFLICT (subject_id) DO UPDATE SET blocked = $2, since = $3",
    )
    .bind(subject)
    .bind(blocked)
    .bind(since)
    .execute(&mut *conn)
    .await?;
    let change = SubjectAccessChanged { subject_id: subject.to_string(), blocked, since: Some(timestamp(since)) };
    outbox::enqueue(conn, Payload::SubjectAccessChanged(change)).await.map(|_event| ())
}

impl Store {
    /// Entries that can still refuse a token: every block, and the changes younger than the
    /// longest a token lives (older tokens have expired anyway).
    pub async fn revocations(&self, token_ttl: chrono::Duration) -> Result<Vec<Revocation>> {
        let rows = sqlx::query("SELECT subject_id, blocked, since FROM revocations WHERE blocked OR since > $1")
            .bind(Utc::now() - token_ttl)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Revocation {
                    subject_id: row.try_get::<Uuid, _>("subject_id")?.to_string(),
                    blocked: row.try_get("blocked")?,
                    since: Some(timestamp(row.try_get("since")?)),
                })
            })
            .collect()
    }
}
