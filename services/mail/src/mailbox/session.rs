//! One IMAP connection's work on one mailbox, while holding its lease. Each round lists the mail
//! after the cursor (`UID last+1:*`, UID, size and flags only), fetches the bodies of a bounded
//! batch, archives and publishes them (or quarantines poison), waits until the stream has
//! acknowledged every message, and only then flags (or moves) the batch and advances the cursor.
//! A crash anywhere in between leaves the cursor behind: the batch is read again, the stream and
//! tickets drop what they already have, and mail already flagged is skipped. A changed
//! UIDVALIDITY restarts the cursor at 0 — the same rules make that rescan import nothing twice.

use std::{collections::HashMap, future::Future, time::Duration};

use anyhow::Context;
use async_imap::types::{Fetch, Flag};
use futures::{StreamExt, TryStreamExt};
use helpdesk_kit::{CancellationToken, lease::Lease};

use super::{
    Shared,
    imap::{self, Session as Imap},
};
use crate::{
    config::MailboxConfig,
    ingest::{Prepared, Source},
    store::{Cursor, MailRef},
};

/// The keyword that marks imported mail (with `\Seen`) when it is not moved.
const IMPORTED: &str = "$HelpdeskImported";
/// Bodies fetched at once, at most (the batch size bounds the count).
const BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// Mails archived and parsed side by side.
const PREPARE_AT_ONCE: usize = 8;

pub struct Session<'a> {
    mailbox: &'a MailboxConfig,
    shared: &'a Shared,
    lease: Lease,
    /// Mails imported (published, quarantined or skipped as already imported) in this session.
    pub imported: usize,
}

/// A mail in the listing of a round.
struct Listed {
    uid: u32,
    size: u64,
    imported: bool,
}

impl<'a> Session<'a> {
    pub fn new(mailbox: &'a MailboxConfig, shared: &'a Shared, lease: Lease) -> Self {
        Self { mailbox, shared, lease, imported: 0 }
    }

    pub fn into_lease(self) -> Lease {
        self.lease
    }

    /// Imports until shutdown (`Ok`) or a failure (`Err`: reconnect).
    pub async fn run(&mut self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let timeout = self.shared.settings.timeout;
        let mut imap = imap::login(self.mailbox, timeout).await?;
        if !self.mailbox.move_to.is_empty() {
            // Exists already on every later run: the server's NO is expected then.
            let _ = within(timeout, "CREATE", imap.create(&self.mailbox.move_to)).await;
        }
        let selected = within(timeout, "SELECT", imap.select(&self.mailbox.folder)).await?;
        let validity = selected.uid_validity.context("the server reports no UIDVALIDITY")?;
        let can_idle = within(timeout, "CAPABILITY", imap.capabilities()).await?.has_str("IDLE");
        let mut cursor = self.starting_cursor(validity).await?;
        tracing::info!(mailbox = self.mailbox.name, validity, last_uid = cursor.last_uid, can_idle, "reading mailbox");
        loop {
            while !shutdown.is_cancelled() && self.import_round(&mut imap, &mut cursor).await? > 0 {
                self.renew().await?;
            }
            self.renew().await?;
            if shutdown.is_cancelled() {
                let _ = within(timeout, "LOGOUT", imap.logout()).await;
                return Ok(());
            }
            imap = if can_idle {
                self.idle(imap, shutdown).await?
            } else {
                super::pause(self.shared.settings.wait, shutdown).await;
                within(timeout, "NOOP", imap.noop()).await?;
                imap
            };
            while imap.unsolicited_responses.try_recv().is_ok() {}
        }
    }

    async fn starting_cursor(&self, validity: u32) -> anyhow::Result<Cursor> {
        let fresh = Cursor { uid_validity: validity, last_uid: 0 };
        Ok(match self.shared.store.cursor(&self.mailbox.name).await? {
            Some(cursor) if cursor.uid_validity == validity => cursor,
            Some(old) => {
                tracing::warn!(
                    mailbox = self.mailbox.name,
                    old = old.uid_validity,
                    new = validity,
                    "UIDVALIDITY changed: reading the folder again (imported mail is recognised and skipped)"
                );
                fresh
            }
            None => fresh,
        })
    }

    async fn renew(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.shared.leases.renew(&mut self.lease).await?, "lost the mailbox lease to another replica");
        Ok(())
    }

    /// One batch: returns how many mails it took care of (0: nothing new).
    async fn import_round(&mut self, imap: &mut Imap, cursor: &mut Cursor) -> anyhow::Result<usize> {
        let settings = self.shared.settings;
        let listing = within(settings.timeout, "UID FETCH (listing)", async {
            imap.uid_fetch(format!("{}:*", u64::from(cursor.last_uid) + 1), "(UID RFC822.SIZE FLAGS)")
                .await?
                .try_collect::<Vec<Fetch>>()
                .await
        })
        .await?;
        let batch = choose_batch(&listing, cursor.last_uid, settings.batch);
        let Some(last) = batch.last().map(|m| m.uid) else { return Ok(0) };
        let wanted: Vec<u32> = batch.iter().filter(|m| !m.imported).map(|m| m.uid).collect();
        let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
        if !wanted.is_empty() {
            let fetched = within(settings.timeout, "UID FETCH (bodies)", async {
                imap.uid_fetch(uid_set(&wanted), "(UID BODY.PEEK[])").await?.try_collect::<Vec<Fetch>>().await
            })
            .await?;
            for fetch in fetched {
                if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                    bodies.insert(uid, body.to_vec());
                }
            }
        }
        let mut acks = Vec::with_capacity(wanted.len());
        for (uid, size, prepared) in self.prepare_all(&wanted, bodies).await {
            match prepared? {
                Prepared::Message { message, dedupe_id } => acks.push(self.shared.ingest.publish(&message, &dedupe_id).await?),
                Prepared::Poison { reason, raw_key } => {
                    let mail = MailRef {
                        mailbox: &self.mailbox.name,
                        uid_validity: cursor.uid_validity,
                        uid,
                        raw_key: &raw_key,
                        size,
                    };
                    let id = self.shared.store.quarantine(&mail, &reason).await?;
                    tracing::warn!(mailbox = self.mailbox.name, uid, quarantine = %id, reason, "mail quarantined");
                }
            }
        }
        for ack in acks {
            ack.await.context("the stream did not confirm a message")?;
        }
        self.mark_imported(imap, &batch, &wanted).await?;
        *cursor = Cursor { uid_validity: cursor.uid_validity, last_uid: last };
        self.shared.store.advance(&self.mailbox.name, *cursor).await?;
        self.imported += batch.len();
        tracing::debug!(mailbox = self.mailbox.name, count = batch.len(), last, "batch imported");
        Ok(batch.len())
    }

    /// Archives and parses the fetched mails on all cores, a few at a time, answering in UID order:
    /// (UID, size, outcome).
    async fn prepare_all(
        &self,
        wanted: &[u32],
        mut bodies: HashMap<u32, Vec<u8>>,
    ) -> Vec<(u32, usize, anyhow::Result<Prepared>)> {
        let fetched: Vec<(u32, Vec<u8>)> = wanted
            .iter()
            .filter_map(|uid| match bodies.remove(uid) {
                Some(raw) => Some((*uid, raw)),
                None => {
                    tracing::warn!(mailbox = self.mailbox.name, uid, "mail expunged before it could be fetched");
                    None
                }
            })
            .collect();
        futures::stream::iter(fetched)
            .map(|(uid, raw)| {
                let ingest = self.shared.ingest.clone();
                let (mailbox, category) = (self.mailbox.name.clone(), self.mailbox.default_category.clone());
                async move {
                    let task = tokio::spawn(async move {
                        let source = Source { mailbox: &mailbox, default_category: &category };
                        (raw.len(), ingest.prepare(&source, &raw).await)
                    });
                    match task.await {
                        Ok((size, prepared)) => (uid, size, prepared),
                        Err(error) => (uid, 0, Err(anyhow::anyhow!("preparing mail {uid}: {error}"))),
                    }
                }
            })
            .buffered(PREPARE_AT_ONCE)
            .collect()
            .await
    }

    /// Flags the newly imported mail, or moves the whole batch to `move_to`.
    async fn mark_imported(&self, imap: &mut Imap, batch: &[Listed], wanted: &[u32]) -> anyhow::Result<()> {
        let timeout = self.shared.settings.timeout;
        if self.mailbox.move_to.is_empty() {
            if !wanted.is_empty() {
                within(timeout, "UID STORE", async {
                    imap.uid_store(uid_set(wanted), format!("+FLAGS.SILENT (\\Seen {IMPORTED})"))
                        .await?
                        .try_collect::<Vec<Fetch>>()
                        .await
                })
                .await?;
            }
        } else {
            let all: Vec<u32> = batch.iter().map(|m| m.uid).collect();
            within(timeout, "UID MOVE", imap.uid_mv(uid_set(&all), &self.mailbox.move_to)).await?;
        }
        Ok(())
    }

    /// IDLE until the server reports a change, the wait is over, or shutdown.
    async fn idle(&self, imap: Imap, shutdown: &CancellationToken) -> anyhow::Result<Imap> {
        let timeout = self.shared.settings.timeout;
        let mut idle = imap.idle();
        within(timeout, "IDLE", idle.init()).await?;
        {
            let (wait, _interrupt) = idle.wait_with_timeout(self.shared.settings.wait);
            tokio::select! {
                response = wait => { response.context("IDLE")?; }
                () = shutdown.cancelled() => {}
            }
        }
        within(timeout, "DONE", idle.done()).await
    }
}

/// The mails after `last_uid` in UID order, as many as fit in one batch (at least one).
fn choose_batch(listing: &[Fetch], last_uid: u32, max_count: usize) -> Vec<Listed> {
    let mut mails: Vec<Listed> = listing
        .iter()
        .filter_map(|f| {
            let uid = f.uid.filter(|uid| *uid > last_uid)?;
            let imported = f.flags().any(|flag| matches!(&flag, Flag::Custom(k) if k.eq_ignore_ascii_case(IMPORTED)));
            Some(Listed { uid, size: u64::from(f.size.unwrap_or(0)), imported })
        })
        .collect();
    mails.sort_by_key(|m| m.uid);
    mails.dedup_by_key(|m| m.uid);
    let mut bytes = 0;
    let mut batch = Vec::new();
    for mail in mails {
        bytes += mail.size;
        if !batch.is_empty() && (batch.len() >= max_count.max(1) || bytes > BATCH_BYTES) {
            break;
        }
        batch.push(mail);
    }
    batch
}

/// `1:3,7,9:10` for sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &uid in uids {
        match ranges.last_mut() {
            Some((_, end)) if uid == end.saturating_add(1) => *end = uid,
            _ => ranges.push((uid, uid)),
        }
    }
    ranges
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") })
        .collect::<Vec<_>>()
        .join(",")
}

/// An IMAP command with a deadline.
async fn within<T, E>(timeout: Duration, what: &str, command: impl Future<Output = Result<T, E>>) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(timeout, command)
        .await
        .map_err(|_| anyhow::anyhow!("{what} timed out after {timeout:?}"))?
        .with_context(|| what.to_string())
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }
}
