//! Per-channel order: every message of one channel — live from the gateway or fetched by a
//! backfill — is taken by that channel's lane, while many channels' lanes run side by side. A lane
//! takes what is queued in batches, each in id order. serenity hands every event to a task of its
//! own, so live messages can arrive slightly out of order; one that comes after a newer one is
//! looked up among the taken messages and taken if it is not there, never skipped for being
//! behind the mark. A lane's first job after a (re)connect backfills its channel from a little
//! before the channel's mark (for such a straggler still in flight when the process stopped), so
//! a live message can never move the mark past messages the bot missed while it was away: the
//! live message waits for its channel's backfill.
//!
//! A lane is a task with a queue, started by the first job for its channel and ended after a
//! minute without work; the session's [`Lanes`] hands jobs to them. Connecting again (READY,
//! RESUMED, a shard leaving the connected stage) starts a new *epoch*: each lane backfills once
//! more before its next job.
//!
//! A support channel the bot has never taken a message from has no mark yet: its lane gives it
//! one at the session's start (a minute early, for clocks that disagree), so what the channel held
//! before the bot first watched it is not tickets, and everything after — live, or posted while
//! the bot was down later — is paged from there.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use helpdesk_kit::CancellationToken;
use serenity::model::channel::Message;
use tokio::sync::{Semaphore, mpsc};

use super::{Change, Intake};
use crate::backfill;

/// A lane with nothing to do for this long ends (the next job starts it again, with a backfill).
const IDLE: Duration = Duration::from_secs(60);
/// Channels paged at once after a reconnect.
const BACKFILLS_AT_ONCE: usize = 8;
/// Tries of one message before an attachment that keeps failing is left out.
const TRIES_BEFORE_LEAVING_OUT: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds: snowflakes count from it.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// How much earlier than this machine's clock a new support channel's first mark is put.
const CLOCK_MARGIN: Duration = Duration::from_secs(60);
const LONGEST_RETRY: Duration = Duration::from_secs(30);
/// Jobs a lane takes off its queue at once (and sorts; see `Lane::work_through`).
const BATCH: usize = 256;
/// How far before its mark a channel is paged again after a reconnect, for messages that were
/// still on their way through serenity's tasks when the process stopped.
const STRAGGLER_WINDOW: Duration = Duration::from_secs(10);

pub enum Job {
    Message(Box<Message>),
    Change(Change),
    /// Only the backfill every lane does first.
    Backfill,
}

#[derive(Clone)]
pub struct Lanes {
    shared: Arc<Shared>,
}

struct Shared {
    intake: Arc<Intake>,
    queues: Mutex<HashMap<u64, mpsc::UnboundedSender<Job>>>,
    epoch: AtomicU64,
    /// The first mark of a support channel that has none: a snowflake from just before this
    /// session started.
    first_mark: u64,
    backfills: Semaphore,
    stop: CancellationToken,
}

impl Lanes {
    /// Lanes of one session; `stop` ends them all (what they are doing is idempotent).
    pub fn new(intake: Arc<Intake>, stop: CancellationToken) -> Self {
        Self {
            shared: Arc::new(Shared {
                intake,
                queues: Mutex::new(HashMap::new()),
                epoch: AtomicU64::new(1),
                first_mark: snowflake_at(SystemTime::now() - CLOCK_MARGIN),
                backfills: Semaphore::new(BACKFILLS_AT_ONCE),
                stop,
            }),
        }
    }

    pub fn intake(&self) -> &Arc<Intake> {
        &self.shared.intake
    }

    /// Queues `job` on `channel`'s lane, starting the lane if it is not running.
    pub fn push(&self, channel: u64, job: Job) {
        let mut queues = self.shared.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let job = match queues.get(&channel) {
            Some(queue) => match queue.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (queue, jobs) = mpsc::unbounded_channel();
        // A fresh receiver is open, so this send cannot fail.
        let _ = queue.send(job);
        queues.insert(channel, queue);
        let lane = Lane { channel, shared: self.shared.clone(), backfilled_epoch: 0, mark: None };
        tokio::spawn(lane.run(jobs));
    }

    /// The connection was (re)established: every lane backfills again before its next job.
    pub fn reconnected(&self) {
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

struct Lane {
    channel: u64,
    shared: Arc<Shared>,
    backfilled_epoch: u64,
    /// The channel's mark as this lane knows it: messages at or below it are taken already.
    mark: Option<u64>,
}

impl Lane {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        loop {
            let job = tokio::select! {
                job = jobs.recv() => job,
                () = tokio::time::sleep(IDLE) => {
                    let mut queues = self.shared.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if jobs.is_empty() {
                        queues.remove(&self.channel);
                        return;
                    }
                    continue;
                }
                () = self.shared.stop.cancelled() => return,
            };
            let Some(first) = job else { return };
            let mut batch = vec![first];
            while batch.len() < BATCH
                && let Ok(job) = jobs.try_recv()
            {
                batch.push(job);
            }
            if !self.backfill_if_reconnected().await {
                return;
            }
            if !self.work_through(batch).await {
                return;
            }
        }
    }

    /// Takes a batch of jobs: its messages in id order, then its edits and deletes (which change
    /// messages taken before them or in this batch). serenity hands every event to a task of its
    /// own, so a channel's messages can reach its lane slightly out of order; sorting what is
    /// queued puts most of them back, and [`Lane::take`] still takes a straggler that comes after
    /// a newer message. `false` when stopped.
    async fn work_through(&mut self, batch: Vec<Job>) -> bool {
        let mut messages = Vec::new();
        let mut changes = Vec::new();
        for job in batch {
            match job {
                Job::Message(message) => messages.push(message),
                Job::Change(change) => changes.push(change),
                Job::Backfill => {}
            }
        }
        messages.sort_by_key(|message| message.id);
        for message in messages {
            if !self.take(&message).await {
                return false;
            }
        }
        for change in changes {
            self.record(change).await;
        }
        true
    }

    /// Pages the channel's history after its mark, once per epoch; `false` when stopped.
    async fn backfill_if_reconnected(&mut self) -> bool {
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        if self.backfilled_epoch == epoch {
            return true;
        }
        let mut wait = FIRST_RETRY;
        loop {
            match self.page_history().await {
                Ok(going_on) => {
                    self.backfilled_epoch = epoch;
                    return going_on;
                }
                Err(error) => {
                    tracing::warn!(channel = self.channel, error = format!("{error:#}"), "backfill failed; trying again");
                    if !self.pause(&mut wait).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Takes every message after the channel's stored mark, oldest first, page by page until an
    /// empty page; `false` when stopped.
    async fn page_history(&mut self) -> anyhow::Result<bool> {
        let shared = self.shared.clone();
        let chat = shared.intake.chat();
        let _permit = shared.backfills.acquire().await?;
        self.mark = match chat.store.cursor(self.channel).await? {
            None if chat.config.support_channels.contains(&self.channel) => {
                chat.store.advance_cursor(self.channel, shared.first_mark).await?;
                chat.store.cursor(self.channel).await?
            }
            mark => mark,
        };
        // From a little before the mark: a message that reached the lane after a newer one (see
        // `work_through`) may have been in flight when the process stopped.
        let Some(mut after) = self.mark.map(|mark| mark.saturating_sub(snowflake_span(STRAGGLER_WINDOW))) else { return Ok(true) };
        loop {
            if shared.stop.is_cancelled() {
                return Ok(false);
            }
            let page = backfill::page_after(chat, self.channel, after).await?;
            let Some(last) = page.last() else { return Ok(true) };
            after = last.id.get();
            for message in &page {
                if !self.take(message).await {
                    return Ok(false);
                }
            }
        }
    }

    /// Takes `message` unless it was taken before, trying again until it is taken; `false` when
    /// stopped. Past the mark a message is new; at or below it, it is a straggler (or a page's
    /// overlap) and is looked up first.
    async fn take(&mut self, message: &Message) -> bool {
        let id = message.id.get();
        if self.mark.is_some_and(|mark| id <= mark) && self.taken_before(id).await {
            return true;
        }
        let mut wait = FIRST_RETRY;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.shared.intake.take(message, attempt >= TRIES_BEFORE_LEAVING_OUT).await {
                Ok(()) => {
                    self.mark = Some(self.mark.map_or(id, |mark| mark.max(id)));
                    return true;
                }
                Err(error) => {
                    tracing::warn!(channel = self.channel, message = id, attempt, error = format!("{error:#}"), "message not taken yet; trying again");
                    if !self.pause(&mut wait).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Records an edit or delete: first here, in order after the message it changes; if that
    /// fails (tickets away, the ticket not known yet), again and again off the lane, so the
    /// channel's messages do not wait for it.
    async fn record(&self, change: Change) {
        let intake = self.shared.intake.clone();
        if intake.record_change(&change).await.is_ok() {
            return;
        }
        let stop = self.shared.stop.clone();
        tokio::spawn(async move {
            let mut wait = FIRST_RETRY;
            loop {
                match intake.record_change(&change).await {
                    Ok(()) => return,
                    Err(error) => tracing::warn!(?change, error = format!("{error:#}"), "edit or delete not recorded yet; trying again"),
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {
                        tracing::error!(?change, "edit or delete of a Discord message not recorded on its ticket: the session ended first");
                        return;
                    }
                }
                wait = (wait * 2).min(LONGEST_RETRY);
            }
        });
    }

    /// Whether message `id` was taken before; a failed lookup counts as not taken, which is safe:
    /// taking is idempotent (the stream's `Nats-Msg-Id`, tickets' external id).
    async fn taken_before(&self, id: u64) -> bool {
        match self.shared.intake.chat().store.taken_conversation(id).await {
            Ok(taken) => taken.is_some(),
            Err(error) => {
                tracing::warn!(channel = self.channel, message = id, error = format!("{error:#}"), "could not look up whether a message was taken; taking it");
                false
            }
        }
    }

    /// Waits before the next try; `false` when stopped meanwhile.
    async fn pause(&self, wait: &mut Duration) -> bool {
        let waited = tokio::select! {
            () = tokio::time::sleep(*wait) => true,
            () = self.shared.stop.cancelled() => false,
        };
        *wait = (*wait * 2).min(LONGEST_RETRY);
        waited
    }
}

/// The difference between the snowflakes of messages made `span` apart.
fn snowflake_span(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX >> 22) << 22
}

/// The smallest snowflake of a message created at `time`.
fn snowflake_at(time: SystemTime) -> u64 {
    let millis = time.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    millis.saturating_sub(DISCORD_EPOCH_MS) << 22
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_of_time_is_the_snowflake_distance_of_messages_made_that_far_apart() {
        let earlier = snowflake_at(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000));
        let later = snowflake_at(UNIX_EPOCH + Duration::from_millis(1_700_000_010_000));
        assert_eq!(later - earlier, snowflake_span(Duration::from_secs(10)));
        assert_eq!(5u64.saturating_sub(snowflake_span(STRAGGLER_WINDOW)), 0, "no mark before Discord's epoch");
    }

    #[test]
    fn a_snowflake_at_a_time_has_that_times_milliseconds() {
        // Discord's documented example: 175928847299117063 was made at 1462015105796 ms.
        let made = UNIX_EPOCH + Duration::from_millis(1_462_015_105_796);
        assert_eq!(snowflake_at(made) >> 22, 175_928_847_299_117_063 >> 22);
        assert!(snowflake_at(made) <= 175_928_847_299_117_063);
        assert_eq!(snowflake_at(UNIX_EPOCH), 0, "before Discord's epoch: no negative ids");
    }
}
