//! Attachment rows: an upload is recorded with its uploader and no message; a message claims it
//! (see `conversation::insert_message`); reading one requires seeing its ticket, and contacts never
//! reach one on an internal note. A channel message's raw original (the archived .eml) is a row
//! marked `raw`, for staff only: it carries our servers' headers and filters' verdicts.

use sqlx::Row;
use uuid::Uuid;

use super::{CONTACT_MAY_SEE, KIND_NOTE, Store, Viewer};
use crate::domain::TicketError;

#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub id: Uuid,
    pub message_id: Option<Uuid>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub blob_key: String,
}

fn from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        blob_key: row.try_get("blob_key")?,
    })
}

/// A file a channel stored in the blob store itself (a mail's attachment): recorded with its
/// message in the message's transaction, by the consumer that checked its type.
#[derive(Debug, Clone)]
pub struct ChannelFile {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub blob_key: String,
    /// The message's raw original (staff only), not one of its attachments.
    pub raw: bool,
}

impl Store {
    pub async fn record_upload(&self, row: &AttachmentRow, uploader: &str) -> Result<(), TicketError> {
        sqlx::query(
            "INSERT INTO attachments (id, uploader, filename, content_type, size, blob_key) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row.id)
        .bind(uploader)
        .bind(&row.filename)
        .bind(&row.content_type)
        .bind(row.size)
        .bind(&row.blob_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The attachment on this ticket, if the viewer may see the ticket and the message it is on.
    pub async fn attachment(&self, ticket_id: Uuid, attachment_id: Uuid, viewer: Viewer) -> Result<Option<AttachmentRow>, TicketError> {
        let (contact, staff) = super::viewer_binds(viewer);
        let sql = format!(
            "SELECT a.id, a.message_id, a.filename, a.content_type, a.size, a.blob_key
             FROM attachments a JOIN messages m ON m.id = a.message_id JOIN tickets t ON t.id = a.ticket_id
             WHERE a.ticket_id = $1 AND a.id = $4 AND ($3 OR ({CONTACT_MAY_SEE} AND m.kind <> {KIND_NOTE} AND NOT a.raw))"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ticket_id)
            .bind(contact)
            .bind(staff)
            .bind(attachment_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// The attachments of these messages (their raw originals are not among them).
    pub async fn attachments_of(&self, message_ids: &[Uuid]) -> Result<Vec<AttachmentRow>, TicketError> {
        self.files_of(message_ids, false).await
    }

    /// The raw originals of these messages (staff only).
    pub async fn raw_originals_of(&self, message_ids: &[Uuid]) -> Result<Vec<AttachmentRow>, TicketError> {
        self.files_of(message_ids, true).await
    }

    async fn files_of(&self, message_ids: &[Uuid], raw: bool) -> Result<Vec<AttachmentRow>, TicketError> {
        let rows = sqlx::query(
            "SELECT id, message_id, filename, content_type, size, blob_key FROM attachments
             WHERE message_id = ANY($1) AND raw = $2 ORDER BY created_at, id",
        )
        .bind(message_ids)
        .bind(raw)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<sqlx::Result<_>>()?)
    }
}
