//! The support-time ledger: admins' grants and agents' time entries in one table, the balance
//! computed from it, and the alert state with an event whenever it changes.

use chrono::{DateTime, Utc};
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{GroupTimeAlertChanged, TimeLogged, event::Payload};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{CONTACT_MAY_SEE, Store, Viewer, viewer_binds};
use crate::domain::{
    TicketError,
    time::{Alert, Balance, alert},
};

#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub kind: String,
    pub ticket_id: Option<Uuid>,
    pub agent_id: String,
    pub minutes: i32,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// An agent's time on a ticket; draws down the ticket's group's balance, if it has a group.
    #[tracing::instrument(skip(self, note), err)]
    pub async fn log_time(&self, ticket_id: Uuid, agent: &str, minutes: i32, note: &str) -> Result<Option<LedgerEntry>, TicketError> {
        let mut tx = self.pool.begin().await?;
        let group: Option<Option<Uuid>> = sqlx::query_scalar("SELECT group_id FROM tickets WHERE id = $1 FOR UPDATE")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(group) = group else {
            return Ok(None);
        };
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO time_ledger (id, kind, group_id, ticket_id, agent_id, minutes, note)
             VALUES ($1, 'entry', $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(group)
        .bind(ticket_id)
        .bind(agent)
        .bind(minutes)
        .bind(note)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Payload::TimeLogged(TimeLogged {
                ticket_id: ticket_id.to_string(),
                group_id: group.map(|g| g.to_string()).unwrap_or_default(),
                minutes,
            }),
        )
        .await?;
        if let Some(group) = group {
            update_alert(&mut tx, group).await?;
        }
        tx.commit().await?;
        self.wake_relay();
        Ok(Some(LedgerEntry {
            id,
            kind: "entry".into(),
            ticket_id: Some(ticket_id),
            agent_id: agent.to_string(),
            minutes,
            note: note.to_string(),
            created_at: Utc::now(),
        }))
    }

    /// An admin's grant (or correction) of minutes to a group.
    #[tracing::instrument(skip(self, note), err)]
    pub async fn grant_time(&self, group: Uuid, minutes: i64, admin: &str, note: &str) -> Result<(), TicketError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO time_ledger (id, kind, group_id, agent_id, minutes, note) VALUES ($1, 'grant', $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(group)
        .bind(admin)
        .bind(i32::try_from(minutes).unwrap_or(i32::MAX))
        .bind(note)
        .execute(&mut *tx)
        .await?;
        update_alert(&mut tx, group).await?;
        tx.commit().await?;
        self.wake_relay();
        Ok(())
    }

    pub async fn balance(&self, group: Uuid) -> Result<(Balance, i64, Alert), TicketError> {
        let mut conn = self.pool.acquire().await?;
        let balance = balance(&mut conn, group).await?;
        let threshold = threshold(&mut conn).await?;
        Ok((balance, threshold, alert(balance.remaining(), threshold)))
    }

    /// The group's history, newest first, as `viewer` may see it: staff see every entry; a
    /// member sees the grants and the entries on tickets she may see — a colleague's ticket in a
    /// group that does not share tickets stays invisible, with its agent's notes.
    pub async fn ledger(&self, group: Uuid, viewer: Viewer) -> Result<Vec<LedgerEntry>, TicketError> {
        let sql = format!(
            "SELECT l.id, l.kind, l.ticket_id, l.agent_id, l.minutes, l.note, l.created_at
             FROM time_ledger l LEFT JOIN tickets t ON t.id = l.ticket_id
             WHERE l.group_id = $1 AND ($3 OR l.ticket_id IS NULL OR {CONTACT_MAY_SEE})
             ORDER BY l.created_at DESC, l.id DESC LIMIT 500"
        );
        let (contact, staff) = viewer_binds(viewer);
        sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(group)
        .bind(contact)
        .bind(staff)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(LedgerEntry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                ticket_id: r.try_get("ticket_id")?,
                agent_id: r.try_get("agent_id")?,
                minutes: r.try_get("minutes")?,
                note: r.try_get("note")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
    }
}

async fn balance(conn: &mut PgConnection, group: Uuid) -> sqlx::Result<Balance> {
    let (granted, used): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(minutes) FILTER (WHERE kind = 'grant'), 0)::bigint,
                coalesce(sum(minutes) FILTER (WHERE kind = 'entry'), 0)::bigint
         FROM time_ledger WHERE group_id = $1",
    )
    .bind(group)
    .fetch_one(conn)
    .await?;
    Ok(Balance { granted, used })
}

async fn threshold(conn: &mut PgConnection) -> sqlx::Result<i64> {
    let threshold: i32 = sqlx::query_scalar("SELECT time_alert_threshold FROM settings").fetch_one(conn).await?;
    Ok(i64::from(threshold))
}

/// Recomputes the group's alert and publishes `GroupTimeAlertChanged` when it moved.
async fn update_alert(conn: &mut PgConnection, group: Uuid) -> sqlx::Result<()> {
    let balance = balance(conn, group).await?;
    let now = alert(balance.remaining(), threshold(conn).await?);
    let before: Option<i16> = sqlx::query_scalar("SELECT alert FROM group_time_alerts WHERE group_id = $1 FOR UPDATE")
        .bind(group)
        .fetch_optional(&mut *conn)
        .await?;
    if before.map(Alert::from_i16) == Some(now) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO group_time_alerts (group_id, alert) VALUES ($1, $2)
         ON CONFLICT (group_id) DO UPDATE SET alert = $2",
    )
    .bind(group)
    .bind(now as i16)
    .execute(&mut *conn)
    .await?;
    outbox::enqueue(
        conn,
        Payload::GroupTimeAlertChanged(GroupTimeAlertChanged {
            group_id: group.to_string(),
            remaining_minutes: balance.remaining(),
            alert: now as i32,
        }),
    )
    .await?;
    Ok(())
}
