//! Per-channel order: every message of one channel — live from the gateway or fetched by a
//! backfill — is taken by that channel's lane, one at a time in id order, while many channels'
//! lanes run side by side. A lane's first job after a (re)connect backfills its channel from the
//! channel's mark before anything else, so a live message can never move the mark past messages
//! the bot missed while it was away: the live message waits for its channel's backfill.
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
            let Some(job) = job else { return };
            if !self.backfill_if_reconnected().await {
                return;
            }
            match job {
                Job::Message(message) => {
                    if !self.take(&message).await {
                        return;
                    }
                }
                Job::Change(change) => self.record(change).await,
                Job::Backfill => {}
            }
        }
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
        let Some(mut after) = self.mark else { return Ok(true) };
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

    /// Takes `message` unless it is at or below the mark, trying again until it is taken;
    /// `false` when stopped.
    async fn take(&mut self, message: &Message) -> bool {
        let id = message.id.get();
        if self.mark.is_some_and(|mark| id <= mark) {
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

/// The smallest snowflake of a message created at `time`.
fn snowflake_at(time: SystemTime) -> u64 {
    let millis = time.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    millis.saturating_sub(DISCORD_EPOCH_MS) << 22
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_at_a_time_has_that_times_milliseconds() {
        // Discord's documented example: 175928847299117063 was made at 1462015105796 ms.
        let made = UNIX_EPOCH + Duration::from_millis(1_462_015_105_796);
        assert_eq!(snowflake_at(made) >> 22, 175_928_847_299_117_063 >> 22);
        assert!(snowflake_at(made) <= 175_928_847_299_117_063);
        assert_eq!(snowflake_at(UNIX_EPOCH), 0, "before Discord's epoch: no negative ids");
    }
}
