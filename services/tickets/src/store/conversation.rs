//! The conversation and changes to a ticket: public replies, internal notes, system entries, and
//! field updates — each in one transaction with its events. A contact's reply reopens a completed
//! ticket (an automatic message never does); a contact's "mark complete" moves the ticket to the
//! configured status when the settings allow it.

use chrono::{DateTime, Utc};
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{MessageAdded, TicketUpdated, event::Payload};
use sqlx::{PgConnection, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{Author, ChannelFile, InboundKey, KIND_NOTE, KIND_REPLY, KIND_SYSTEM, Store, touch};
use crate::domain::{COMPLETED, Channel, TicketError, invalid};

pub struct NewMessage<'a> {
    pub kind: i16,
    pub author: Author,
    pub text: &'a str,
    pub html: &'a str,
    pub original: &'a str,
    pub channel: Channel,
    /// Attachments uploaded beforehand by this author, not yet attached to anything.
    pub attachments: &'a [Uuid],
    /// Files a channel already stored in the blob store (a mail's attachments).
    pub files: &'a [ChannelFile],
    /// For channel messages: which threading rule put it on this ticket.
    pub thread_rule: &'a str,
}

/// A stored message with its attachments' ids.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub kind: i16,
    pub author_kind: i16,
    pub author_id: String,
    pub text: String,
    pub html: String,
    pub channel: i16,
    pub created_at: DateTime<Utc>,
}

/// What an agent (or the contact's self-close) changes on a ticket.
#[derive(Debug, Clone, Default)]
pub struct TicketChange {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category: Option<(Option<Uuid>, serde_json::Value)>,
    pub assignee: Option<Option<Uuid>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub custom_fields: Option<serde_json::Value>,
}

pub(super) async fn insert_message(
    conn: &mut PgConnection,
    ticket_id: Uuid,
    message_id: Uuid,
    message: &NewMessage<'_>,
) -> Result<(), TicketError> {
    let (author_kind, author_id) = message.author.kind_and_id();
    sqlx::query(
        "INSERT INTO messages (id, ticket_id, kind, author_kind, author_id, body_text, body_html, body_original, channel, thread_rule)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(message_id)
    .bind(ticket_id)
    .bind(message.kind)
    .bind(author_kind)
    .bind(&author_id)
    .bind(message.text)
    .bind(message.html)
    .bind(message.original)
    .bind(message.channel as i16)
    .bind(message.thread_rule)
    .execute(&mut *conn)
    .await?;
    if !message.attachments.is_empty() {
        let attached = sqlx::query(
            "UPDATE attachments SET ticket_id = $1, message_id = $2
             WHERE id = ANY($3) AND uploader = $4 AND message_id IS NULL",
        )
        .bind(ticket_id)
        .bind(message_id)
        .bind(message.attachments)
        .bind(&author_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if attached != message.attachments.len() as u64 {
            // Someone else's upload, one already used, or no such upload: refuse the whole message.
            return Err(invalid("attachments", "an attachment is not one you uploaded, or is already attached"));
        }
    }
    for file in message.files {
        sqlx::query(
            "INSERT INTO attachments (id, uploader, filename, content_type, size, blob_key, ticket_id, message_id, raw)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(&author_id)
        .bind(&file.filename)
        .bind(&file.content_type)
        .bind(file.size)
        .bind(&file.blob_key)
        .bind(ticket_id)
        .bind(message_id)
        .bind(file.raw)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn system_entry(tx: &mut Transaction<'_, Postgres>, ticket_id: Uuid, text: &str) -> Result<(), TicketError> {
    insert_message(
        tx,
        ticket_id,
        Uuid::now_v7(),
        &NewMessage {
            kind: KIND_SYSTEM,
            author: Author::System,
            text,
            html: "",
            original: "",
            channel: Channel::Api,
            attachments: &[],
            files: &[],
            thread_rule: "",
        },
    )
    .await
}

async fn set_status(tx: &mut Transaction<'_, Postgres>, ticket_id: Uuid, status: &str) -> sqlx::Result<i16> {
    sqlx::query_scalar(
        "UPDATE tickets SET status = s.id, status_kind = s.kind, updated_at = now()
         FROM statuses s WHERE s.id = $2 AND tickets.id = $1 RETURNING s.kind",
    )
    .bind(ticket_id)
    .bind(status)
    .fetch_one(&mut **tx)
    .await
}

async fn enqueue_updated(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: Uuid,
    changed: Vec<String>,
    actor: &str,
) -> sqlx::Result<()> {
    let row = sqlx::query("SELECT number, status, status_kind FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_one(&mut **tx)
        .await?;
    outbox::enqueue(
        tx,
        Payload::TicketUpdated(TicketUpdated {
            ticket_id: ticket_id.to_string(),
            number: row.try_get("number")?,
            changed_fields: changed,
            status_id: row.try_get("status")?,
            status_kind: i32::from(row.try_get::<i16, _>("status_kind")?),
            actor_id: actor.to_string(),
        }),
    )
    .await?;
    Ok(())
}

impl Store {
    /// Adds a reply or note. A contact's (non-automatic) reply on a completed ticket reopens it.
    /// `None` when `inbound` names a channel message that was already stored.
    #[tracing::instrument(skip(self, message, inbound), err)]
    pub async fn add_message(
        &self,
        ticket_id: Uuid,
        message: NewMessage<'_>,
        automatic: bool,
        inbound: Option<InboundKey<'_>>,
    ) -> Result<Option<StoredMessage>, TicketError> {
        let id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &inbound
            && !super::inbound::claim(&mut tx, key, ticket_id, id).await?
        {
            tx.rollback().await?;
            return Ok(None);
        }
        let locked: Option<(i64, i16)> =
            sqlx::query_as("SELECT number, status_kind FROM tickets WHERE id = $1 FOR UPDATE")
                .bind(ticket_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (number, status_kind) = locked.ok_or(TicketError::NotFound)?;
        let message = NewMessage { author: super::merge::surviving_author(&mut tx, message.author).await?, ..message };
        insert_message(&mut tx, ticket_id, id, &message).await?;
        if message.kind == KIND_REPLY {
            sqlx::query("UPDATE tickets SET search = search || to_tsvector('english', left($1, 4096)) WHERE id = $2")
                .bind(message.text)
                .bind(ticket_id)
                .execute(&mut *tx)
                .await?;
        }
        touch(&mut tx, ticket_id).await?;
        let (author_kind, author_id) = message.author.kind_and_id();
        if matches!(message.author, Author::Contact(_)) && status_kind == COMPLETED && !automatic {
            set_status(&mut tx, ticket_id, "open").await?;
            system_entry(&mut tx, ticket_id, "Reopened by the contact's reply").await?;
            enqueue_updated(&mut tx, ticket_id, vec!["status".into()], &author_id).await?;
        }
        outbox::enqueue(
            &mut tx,
            Payload::MessageAdded(MessageAdded {
                ticket_id: ticket_id.to_string(),
                number,
                message_id: id.to_string(),
                kind: i32::from(message.kind),
                author_kind: i32::from(author_kind),
                author_id: author_id.clone(),
                channel: message.channel as i32,
                automatic,
                inbound_external_id: inbound.as_ref().map(|k| k.external_id.to_string()).unwrap_or_default(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.wake_relay();
        Ok(Some(StoredMessage {
            id,
            ticket_id,
            kind: message.kind,
            author_kind,
            author_id,
            text: message.text.to_string(),
            html: message.html.to_string(),
            channel: message.channel as i16,
            created_at: Utc::now(),
        }))
    }

    /// Applies an agent's changes (validated by the caller) with a system entry and an event.
    #[tracing::instrument(skip(self, change), err)]
    pub async fn update_ticket(&self, ticket_id: Uuid, change: TicketChange, actor: &str) -> Result<(), TicketError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?;
        exists.ok_or(TicketError::NotFound)?;
        let mut changed = Vec::new();
        if let Some(status) = &change.status {
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM statuses WHERE id = $1")
                .bind(status)
                .fetch_optional(&mut *tx)
                .await?;
            let name = name.ok_or_else(|| invalid("status_id", "is not a status"))?;
            set_status(&mut tx, ticket_id, status).await?;
            system_entry(&mut tx, ticket_id, &format!("Status changed to {name}")).await?;
            changed.push("status".to_string());
        }
        if let Some(priority) = &change.priority {
            let updated = sqlx::query(
                "UPDATE tickets SET priority = p.id, priority_rank = p.rank FROM priorities p
                 WHERE p.id = $2 AND tickets.id = $1",
            )
            .bind(ticket_id)
            .bind(priority)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(invalid("priority_id", "is not a priority"));
            }
            changed.push("priority".to_string());
        }
        if let Some((category, fields)) = &change.category {
            sqlx::query("UPDATE tickets SET category_id = $2, custom_fields = $3 WHERE id = $1")
                .bind(ticket_id)
                .bind(category)
                .bind(fields)
                .execute(&mut *tx)
                .await?;
            changed.push("category".to_string());
        } else if let Some(fields) = &change.custom_fields {
            sqlx::query("UPDATE tickets SET custom_fields = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(fields)
                .execute(&mut *tx)
                .await?;
            changed.push("custom_fields".to_string());
        }
        if let Some(assignee) = change.assignee {
            sqlx::query("UPDATE tickets SET assignee_id = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(assignee)
                .execute(&mut *tx)
                .await?;
            changed.push("assignee".to_string());
        }
        if let Some(due_at) = change.due_at {
            sqlx::query("UPDATE tickets SET due_at = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(due_at)
                .execute(&mut *tx)
                .await?;
            changed.push("due_at".to_string());
        }
        if changed.is_empty() {
            return Ok(());
        }
        touch(&mut tx, ticket_id).await?;
        enqueue_updated(&mut tx, ticket_id, changed, actor).await?;
        tx.commit().await?;
        self.wake_relay();
        Ok(())
    }

    /// A contact marks their ticket complete, if the settings allow it.
    #[tracing::instrument(skip(self), err)]
    pub async fn self_close(&self, ticket_id: Uuid, contact: Uuid) -> Result<(), TicketError> {
        let (allowed, target): (bool, String) =
            sqlx::query_as("SELECT contacts_may_close, self_close_status FROM settings")
                .fetch_one(&self.pool)
                .await?;
        if !allowed {
            return Err(TicketError::FailedPrecondition("contacts may not close tickets here".into()));
        }
        let mut tx = self.pool.begin().await?;
        set_status(&mut tx, ticket_id, &target).await?;
        system_entry(&mut tx, ticket_id, "Marked complete by the contact").await?;
        enqueue_updated(&mut tx, ticket_id, vec!["status".into()], &contact.to_string()).await?;
        tx.commit().await?;
        self.wake_relay();
        Ok(())
    }

    /// A page of the conversation, oldest first, after `after` (the (created_at, id) of the last
    /// message of the previous page); internal notes only when `with_notes`. `limit` + 1 rows are
    /// asked for, so the caller knows whether another page follows.
    pub async fn messages(
        &self,
        ticket_id: Uuid,
        with_notes: bool,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, TicketError> {
        Ok(sqlx::query(
            "SELECT id, ticket_id, kind, author_kind, author_id, body_text, body_html, channel, created_at
             FROM messages WHERE ticket_id = $1 AND ($2 OR kind <> $3)
               AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5))
             ORDER BY created_at, id LIMIT $6",
        )
        .bind(ticket_id)
        .bind(with_notes)
        .bind(KIND_NOTE)
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StoredMessage {
                id: row.try_get("id")?,
                ticket_id: row.try_get("ticket_id")?,
                kind: row.try_get("kind")?,
                author_kind: row.try_get("author_kind")?,
                author_id: row.try_get("author_id")?,
                text: row.try_get("body_text")?,
                html: row.try_get("body_html")?,
                channel: row.try_get("channel")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<sqlx::Result<_>>()?)
    }
}
