//! Tickets' SQL. Every change is committed together with its outbox event; an inbound message's
//! (channel, external id) row is written in the same transaction as the ticket it makes, so a
//! redelivery finds it and does nothing.
//!
//! What the gRPC handlers call answers [`TicketError`] (an unexpected database failure is its
//! `Database`, through `?`); so does what the consumers share with them (filing a ticket, adding
//! a message), and the consumers tell poison from a reason to retry by that `Database` error
//! (`events`). Queries only the consumers make answer the database's own `sqlx::Error`.
//!
//! - this module: the store handle, reading tickets, creating them;
//! - `list`: My Tickets and agent queues (filters, sorts, search, keyset pages, counts);
//! - `conversation`: replies, notes, system entries, ticket updates, self-close;
//! - `admin`: statuses, priorities, categories;
//! - `attachments`: uploads, and reading them behind the ticket's visibility;
//! - `groups`: identity's groups and settings as tickets keeps them;
//! - `held`: releasing a guest's ticket held until the address's owner confirmed it;
//! - `merge`: contacts identity merged (their tickets move; what comes in their name follows);
//! - `time`: the support-time ledger;
//! - `inbound`: the inbound-message rows (deduplication, threading lookups) and the quarantine.

mod admin;
mod attachments;
mod conversation;
mod groups;
mod held;
pub mod inbound;
mod list;
mod merge;
mod time;

pub use admin::{CategoryRow, PriorityRow, StatusRow};
pub use attachments::{AttachmentRow, ChannelFile};
pub use conversation::{NewMessage, StoredMessage, TicketChange};
pub use list::next_cursor;

use std::collections::BTreeMap;

use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{TicketCreated, event::Payload};
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::domain::{Body, Channel, Subject, Ticket, TicketError, fields::FieldValue};

/// `tickets.v1.MessageKind` numbers as stored.
pub const KIND_REPLY: i16 = 1;
pub const KIND_NOTE: i16 = 2;
pub const KIND_SYSTEM: i16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Contact(Uuid),
    Agent(Uuid),
    System,
}

impl Author {
    pub fn kind_and_id(&self) -> (i16, String) {
        match self {
            Author::Contact(id) => (1, id.to_string()),
            Author::Agent(id) => (2, id.to_string()),
            Author::System => (3, String::new()),
        }
    }
}

/// Who is asking: a contact sees their own tickets and their sharing groups'; staff see all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Contact(Uuid),
    Staff(Option<Uuid>),
}

/// The inbound message a ticket or reply is made from: its deduplication key and what its row
/// records (see `inbound::claim`).
pub struct InboundKey<'a> {
    pub channel: i16,
    /// The message's id on its channel as received (what events name, e.g. the Message-ID).
    pub external_id: &'a str,
    /// The deduplication key: the external id, or — for another message reusing it — the id
    /// with the content hash appended.
    pub dedupe_id: &'a str,
    pub content_hash: &'a str,
    /// Normalized references, so a parent arriving after its reply can find the reply's ticket.
    pub thread_refs: &'a [String],
    /// The text was cut at the one limit.
    pub text_truncated: bool,
}

pub struct NewTicket<'a> {
    pub contact_id: Uuid,
    pub subject: &'a Subject,
    pub body: &'a Body,
    pub html: &'a str,
    pub original: &'a str,
    pub channel: Channel,
    pub author: Author,
    pub priority: Option<&'a str>,
    pub category_id: Option<Uuid>,
    pub custom_fields: &'a BTreeMap<String, FieldValue>,
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub attachments: &'a [Uuid],
    /// Files a channel already stored in the blob store (a mail's attachments).
    pub files: &'a [ChannelFile],
    pub inbound: Option<InboundKey<'a>>,
    /// Auto-replies and bulk mail: recorded, but no acknowledgement goes out.
    pub automatic: bool,
    /// For channel messages: which threading rule applied (`new` for a new ticket).
    pub thread_rule: &'a str,
}

/// The columns of a ticket as `ticket_from_row` reads them, over an alias `t` of `tickets`
/// joined with `TICKET_JOINS`.
const TICKET_COLUMNS: &str = "t.id, t.number, t.subject, t.contact_id, t.group_id, t.channel,
    t.status, s.name AS status_name, t.status_kind, t.priority, p.name AS priority_name, t.priority_rank,
    t.category_id, t.due_at, t.assignee_id, t.custom_fields, t.created_at, t.updated_at, t.unverified,
    (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id AND m.kind <> 2) AS message_count";
const TICKET_JOINS: &str = "JOIN statuses s ON s.id = t.status JOIN priorities p ON p.id = t.priority";

/// Contacts see a ticket that is theirs, or that belongs to a group they are in that shares —
/// never an unverified one (a guest's in their name, not confirmed yet; see `held`).
pub(crate) const CONTACT_MAY_SEE: &str = "(NOT t.unverified AND (t.contact_id = $2 OR t.group_id IN (
    SELECT gm.group_id FROM group_members gm JOIN contact_groups g ON g.id = gm.group_id
    WHERE gm.contact_id = $2 AND g.share_tickets)))";

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    relay: outbox::Waker,
}

impl Store {
    pub fn new(pool: PgPool, relay: outbox::Waker) -> Self {
        Self { pool, relay }
    }

    /// Files a ticket with its first message: held (`held`) means unverified — hidden from the
    /// contact and her group, and without `TicketCreated` until `release_held` (see `held`).
    /// `None` when `inbound` names a message that was already turned into a ticket. The
    /// contact's group is the one they are in now.
    #[tracing::instrument(skip(self, new), err)]
    pub async fn file_ticket(&self, new: NewTicket<'_>, held: bool) -> Result<Option<Ticket>, TicketError> {
        let ticket_id = Uuid::now_v7();
        let message_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        if let Some(inbound) = &new.inbound
            && !inbound::claim(&mut tx, inbound, ticket_id, message_id).await?
        {
            tx.rollback().await?;
            return Ok(None);
        }
        let contact_id = merge::surviving(&mut tx, new.contact_id).await?;
        let author = match new.author {
            Author::Contact(id) if id == new.contact_id => Author::Contact(contact_id),
            other => merge::surviving_author(&mut tx, other).await?,
        };
        // One statement resolves the default priority and the contact's group and returns the
        // whole row, so filing a ticket needs no lookups before it and no read-back after it.
        let sql = "WITH chosen AS (
                 SELECT p.id, p.rank, p.name FROM priorities p
                 WHERE p.id = coalesce($5, (SELECT id FROM priorities WHERE is_default), 'normal')),
             inserted AS (
                 INSERT INTO tickets AS t (id, subject, contact_id, channel, status, status_kind, priority, priority_rank,
                                          category_id, due_at, group_id, custom_fields, search, unverified)
                 SELECT $1, $2, $3, $4, 'open', 1, chosen.id, chosen.rank, $6, $7,
                        (SELECT gm.group_id FROM group_members gm WHERE gm.contact_id = $3 ORDER BY gm.group_id LIMIT 1),
                        $8, to_tsvector('english', $2 || ' ' || left($9, 4096)), $10
                 FROM chosen
                 RETURNING *)
             SELECT t.id, t.number, t.subject, t.contact_id, t.group_id, t.channel, t.status,
                    (SELECT name FROM statuses WHERE id = t.status) AS status_name, t.status_kind,
                    t.priority, chosen.name AS priority_name, t.priority_rank, t.category_id, t.due_at,
                    t.assignee_id, t.custom_fields, t.created_at, t.updated_at, t.unverified, 1::bigint AS message_count
             FROM inserted t, chosen";
        // Search indexes the first 4 KiB of each message, so a long thread stays within Postgres' limits.
        let row = sqlx::query(sql)
            .bind(ticket_id)
            .bind(new.subject.as_str())
            .bind(contact_id)
            .bind(new.channel as i16)
            .bind(new.priority)
            .bind(new.category_id)
            .bind(new.due_at)
            .bind(sqlx::types::Json(new.custom_fields))
            .bind(new.body.as_str())
            .bind(held)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let ticket = ticket_from_row(&row)?;
        let number = ticket.number;
        conversation::insert_message(
            &mut tx,
            ticket_id,
            message_id,
            &NewMessage {
                kind: KIND_REPLY,
                author,
                text: new.body.as_str(),
                html: new.html,
                original: new.original,
                channel: new.channel,
                attachments: new.attachments,
                files: new.files,
                thread_rule: new.thread_rule,
            },
        )
        .await?;
        // A held ticket is announced only when it is released: nothing reacts to it before.
        if !held {
            outbox::enqueue(
                &mut tx,
                Payload::TicketCreated(TicketCreated {
                    ticket_id: ticket_id.to_string(),
                    number,
                    contact_id: contact_id.to_string(),
                    subject: new.subject.as_str().to_string(),
                    channel: new.channel as i32,
                    first_message_id: message_id.to_string(),
                    inbound_external_id: new.inbound.as_ref().map(|i| i.external_id.to_string()).unwrap_or_default(),
                    automatic: new.automatic,
                }),
            )
            .await?;
        }
        tx.commit().await?;
        self.relay.wake();
        Ok(Some(ticket))
    }

    /// The ticket, if the viewer may see it.
    pub async fn ticket(&self, id: Uuid, viewer: Viewer) -> Result<Option<Ticket>, TicketError> {
        Ok(self.ticket_where("t.id = $1", id, viewer).await?)
    }

    pub async fn ticket_by_number(&self, number: i64, viewer: Viewer) -> Result<Option<Ticket>, TicketError> {
        Ok(self.ticket_where("t.number = $1", number, viewer).await?)
    }

    /// The one ticket matching `predicate` on `$1`, if the viewer may see it.
    async fn ticket_where<K>(&self, predicate: &str, key: K, viewer: Viewer) -> sqlx::Result<Option<Ticket>>
    where
        K: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets t {TICKET_JOINS} WHERE {predicate} AND ($3 OR {CONTACT_MAY_SEE})");
        let (contact, staff) = viewer_binds(viewer);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(contact)
            .bind(staff)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| ticket_from_row(&row))
            .transpose()
    }

    pub(crate) fn wake_relay(&self) {
        self.relay.wake();
    }
}

/// Binds for `$2` (the contact) and `$3` (true for staff, who see everything).
pub(crate) fn viewer_binds(viewer: Viewer) -> (Uuid, bool) {
    match viewer {
        Viewer::Contact(id) => (id, false),
        Viewer::Staff(_) => (Uuid::nil(), true),
    }
}

pub(crate) fn ticket_from_row(row: &PgRow) -> sqlx::Result<Ticket> {
    let fields: sqlx::types::Json<BTreeMap<String, FieldValue>> = row.try_get("custom_fields")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        subject: row.try_get("subject")?,
        contact_id: row.try_get("contact_id")?,
        group_id: row.try_get("group_id")?,
        channel: row.try_get("channel")?,
        status: row.try_get("status")?,
        status_name: row.try_get("status_name")?,
        status_kind: row.try_get("status_kind")?,
        priority: row.try_get("priority")?,
        priority_name: row.try_get("priority_name")?,
        priority_rank: row.try_get("priority_rank")?,
        category_id: row.try_get("category_id")?,
        due_at: row.try_get("due_at")?,
        assignee_id: row.try_get("assignee_id")?,
        custom_fields: fields.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        message_count: row.try_get("message_count")?,
        unverified: row.try_get("unverified")?,
    })
}

/// Marks the ticket as updated now.
pub(crate) async fn touch(conn: &mut PgConnection, ticket_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET updated_at = now() WHERE id = $1")
        .bind(ticket_id)
        .execute(conn)
        .await?;
    Ok(())
}
