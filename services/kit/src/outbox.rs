//! The transactional outbox: a service writes each event into its own `outbox` table in the same
//! transaction as the state change ([`enqueue`]), and the [`Relay`] publishes committed rows to
//! JetStream with `Nats-Msg-Id` = event id, deleting a row only after the stream acknowledged it.
//! A crash between commit and publish loses nothing (the row waits); a crash between publish and
//! delete re-publishes, and the stream's duplicate window drops the copy.
//!
//! Every service's migrations create the same table:
//! `outbox (id uuid primary key, event bytea not null, created_at timestamptz not null default now())`.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use helpdesk_proto::events::v1::{Event, event::Payload};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{config::OutboxConfig, events, nats::Nats};

/// Writes an event in the caller's transaction; it is published only if that transaction commits.
pub async fn enqueue(conn: &mut PgConnection, payload: Payload) -> sqlx::Result<Event> {
    let event = events::new_event(payload);
    let id = Uuid::parse_str(&event.id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (id, event) VALUES ($1, $2)")
        .bind(id)
        .bind(event.encode_to_vec())
        .execute(conn)
        .await?;
    Ok(event)
}

/// Wakes the relay right after a commit, so events leave without waiting for the next poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Relay {
    pool: PgPool,
    nats: Nats,
    config: OutboxConfig,
    waker: Waker,
}

impl Relay {
    pub fn new(pool: PgPool, nats: Nats, config: OutboxConfig, waker: Waker) -> Self {
        Self {
            pool,
            nats,
            config,
            waker,
        }
    }

    /// Publishes until shut down. Several replicas may run relays on one table: rows are claimed
    /// with `FOR UPDATE SKIP LOCKED`.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let mut failures: u32 = 0;
        loop {
            let wait = match self.publish_batch().await {
                Ok(n) if n as i64 >= self.config.batch_size => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    poll
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "outbox relay could not publish; will retry");
                    poll * failures.min(20)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.waker.0.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT id, event FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.config.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut acks = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for (id, bytes) in rows {
            let subject = self.subject_for(&id, &bytes);
            let message = PublishMessage::build()
                .message_id(id.to_string())
                .payload(Bytes::from(bytes));
            acks.push(self.nats.jetstream.send_publish(subject, message).await?);
            ids.push(id);
        }
        for ack in acks {
            ack.await?;
        }
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::debug!(count = ids.len(), "published outbox events");
        Ok(ids.len())
    }

    /// Rows are written by [`enqueue`], so they always decode; should one not (a corrupted row), it
    /// still leaves, on a subject of its own, rather than block the outbox or vanish.
    fn subject_for(&self, id: &Uuid, bytes: &[u8]) -> String {
        match Event::decode(bytes).ok().and_then(|e| e.payload) {
            Some(payload) => events::subject_of(&self.nats.subjects, &payload),
            None => {
                tracing::error!(%id, "outbox row does not decode as an event");
                self.nats.subjects.event("outbox", "undecodable")
            }
        }
    }
}
