//! Reading the support mailboxes. One worker per configured mailbox: it takes the mailbox's lease
//! (`kit::lease`), logs in (`imap`), and runs a session (`session`) that imports everything after the
//! stored cursor, then waits with IDLE (or polls) and imports again, renewing the lease between
//! rounds. Any failure — server gone, NATS or Postgres down, lease lost — ends the session, gives
//! the lease up and starts over after a backoff; nothing was flagged or moved that is not safely
//! published, so starting over loses nothing and publishes nothing twice.

mod imap;
mod session;

use std::{sync::Arc, time::Duration};

use helpdesk_kit::{CancellationToken, lease::Leases};

use crate::{config::MailboxConfig, ingest::Ingest, store::Mailboxes};

/// What every worker shares.
pub struct Shared {
    pub ingest: Arc<Ingest>,
    pub store: Mailboxes,
    pub leases: Leases,
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub batch: usize,
    /// Longest wait between import rounds (IDLE or polling); kept under a third of the lease.
    pub wait: Duration,
    pub timeout: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Reads `mailbox` until shutdown.
pub async fn run(mailbox: MailboxConfig, shared: Arc<Shared>, shutdown: CancellationToken) {
    let name = mailbox.name.clone();
    let mut backoff = Duration::from_secs(1);
    while !shutdown.is_cancelled() {
        let lease = match shared.leases.acquire(&name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tracing::debug!(mailbox = name, "another replica reads this mailbox");
                pause(shared.settings.wait, &shutdown).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(mailbox = name, %error, "cannot take the mailbox lease; retrying in {backoff:?}");
                pause(backoff, &shutdown).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let mut session = session::Session::new(&mailbox, &shared, lease);
        let outcome = session.run(&shutdown).await;
        let progressed = session.imported > 0;
        shared.leases.release(session.into_lease()).await;
        match outcome {
            Ok(()) => return,
            Err(error) => {
                if progressed {
                    backoff = Duration::from_secs(1);
                }
                tracing::warn!(mailbox = name, error = format!("{error:#}"), "mailbox session ended; reconnecting in {backoff:?}");
                pause(backoff, &shutdown).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn pause(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
