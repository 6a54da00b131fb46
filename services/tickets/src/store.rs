//! Tickets' SQL. Every change is committed together with its outbox event; an inbound message's
//! (channel, external id) row is written in the same transaction as the ticket it makes, so a
//! redelivery finds it and does nothing.

use chrono::{DateTime, Utc};
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{TicketCreated, event::Payload};
use sqlx::{PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::domain::{Body, Channel, Cursor, QueueFilter, Subject, Ticket, TicketStatus};

/// `tickets.v1.MessageKind` and `AuthorKind` numbers, as stored.
const KIND_REPLY: i16 = 1;

#[derive(Debug, Clone, Copy)]
pub enum Author {
    Contact(Uuid),
    Agent(Uuid),
    System,
}

impl Author {
    fn kind_and_id(&self) -> (i16, String) {
        match self {
            Author::Contact(id) => (1, id.to_string()),
            Author::Agent(id) => (2, id.to_string()),
            Author::System => (3, String::new()),
        }
    }
}

/// The inbound message a ticket is made from, by its deduplication key.
pub struct InboundKey<'a> {
    pub channel: i16,
    pub external_id: &'a str,
}

pub struct NewTicket<'a> {
    pub contact_id: Uuid,
    pub subject: &'a Subject,
    pub body: &'a Body,
    pub html: &'a str,
    pub channel: Channel,
    pub author: Author,
    pub inbound: Option<InboundKey<'a>>,
    /// Auto-replies and bulk mail: recorded, but no acknowledgement goes out.
    pub automatic: bool,
}

/// Who is listing: a contact sees their own tickets, staff see all.
#[derive(Debug, Clone, Copy)]
pub enum Visibility {
    OwnedBy(Uuid),
    Everything,
}

/// Contacts never count internal notes (kind 2), so neither does the message count.
const TICKET_COLUMNS: &str = "t.id, t.number, t.subject, t.contact_id, t.channel, t.status, t.created_at, t.updated_at,
    (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id AND m.kind <> 2) AS message_count";

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    relay: outbox::Waker,
}

impl Store {
    pub fn new(pool: PgPool, relay: outbox::Waker) -> Self {
        Self { pool, relay }
    }

    /// Creates the ticket with its first message. `None` when `inbound` names a message that was
    /// already turned into a ticket.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_ticket(&self, new: NewTicket<'_>) -> sqlx::Result<Option<Ticket>> {
        let ticket_id = Uuid::now_v7();
        let message_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        if let Some(inbound) = &new.inbound {
            let claimed = sqlx::query(
                "INSERT INTO inbound_messages (channel, external_id, ticket_id, message_id)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(inbound.channel)
            .bind(inbound.external_id)
            .bind(ticket_id)
            .bind(message_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO tickets (id, subject, contact_id, channel) VALUES ($1, $2, $3, $4) RETURNING number",
        )
        .bind(ticket_id)
        .bind(new.subject.as_str())
        .bind(new.contact_id)
        .bind(new.channel as i16)
        .fetch_one(&mut *tx)
        .await?;
        let (author_kind, author_id) = new.author.kind_and_id();
        sqlx::query(
            "INSERT INTO messages (id, ticket_id, kind, author_kind, author_id, body_text, body_html, channel)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(message_id)
        .bind(ticket_id)
        .bind(KIND_REPLY)
        .bind(author_kind)
        .bind(author_id)
        .bind(new.body.as_str())
        .bind(new.html)
        .bind(new.channel as i16)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Payload::TicketCreated(TicketCreated {
                ticket_id: ticket_id.to_string(),
                number,
                contact_id: new.contact_id.to_string(),
                subject: new.subject.as_str().to_string(),
                channel: new.channel as i32,
                first_message_id: message_id.to_string(),
                inbound_external_id: new.inbound.as_ref().map(|i| i.external_id.to_string()).unwrap_or_default(),
                automatic: new.automatic,
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        self.ticket_by_id(ticket_id).await
    }

    pub async fn ticket_by_id(&self, id: Uuid) -> sqlx::Result<Option<Ticket>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| ticket_from_row(&row))
            .transpose()
    }

    pub async fn ticket_by_number(&self, number: i64) -> sqlx::Result<Option<Ticket>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.number = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| ticket_from_row(&row))
            .transpose()
    }

    /// One page, newest first, after `cursor`.
    #[tracing::instrument(skip(self), err)]
    pub async fn list(
        &self,
        visibility: Visibility,
        queue: QueueFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> sqlx::Result<Vec<Ticket>> {
        let owner = match visibility {
            Visibility::OwnedBy(id) => Some(id),
            Visibility::Everything => None,
        };
        let status = match queue {
            QueueFilter::All => None,
            QueueFilter::Pending => Some("open"),
            QueueFilter::Completed => Some("completed"),
        };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets t
             WHERE ($1::uuid IS NULL OR t.contact_id = $1)
               AND ($2::text IS NULL OR t.status = $2)
               AND ($3::timestamptz IS NULL OR (t.created_at, t.id) < ($3, $4))
             ORDER BY t.created_at DESC, t.id DESC
             LIMIT $5"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(status)
            .bind(cursor.map(|c| c.created_at))
            .bind(cursor.map(|c| c.id))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ticket_from_row)
            .collect()
    }

    /// The ticket an inbound message already became, if it did.
    pub async fn ticket_for_inbound(&self, channel: i16, external_id: &str) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT ticket_id FROM inbound_messages WHERE channel = $1 AND external_id = $2")
            .bind(channel)
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Keeps a message that cannot be processed, whole, for an admin to inspect and retry.
    #[tracing::instrument(skip(self, payload), err)]
    pub async fn quarantine(&self, subject: &str, payload: &[u8], reason: &str, attempts: i32) -> sqlx::Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO quarantine (id, subject, payload, reason, attempts) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(subject)
            .bind(payload)
            .bind(reason)
            .bind(attempts)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }
}

fn ticket_from_row(row: &PgRow) -> sqlx::Result<Ticket> {
    Ok(Ticket {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        subject: row.try_get("subject")?,
        contact_id: row.try_get("contact_id")?,
        channel: row.try_get("channel")?,
        status: TicketStatus::from_db(row.try_get("status")?),
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
        message_count: row.try_get("message_count")?,
    })
}
