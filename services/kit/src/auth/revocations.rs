//! Revoked subjects: blocked contacts and deactivated staff, whose tokens every part must refuse
//! long before they expire. Tokens are verified locally, so each part keeps the list in memory
//! ([`Revocations`], consulted by the [`TokenVerifier`](super::TokenVerifier)) and keeps it current
//! itself ([`Follower`]): it reads the whole list from identity at start — before serving, so a part
//! started after a block refuses the token from its first call — then follows identity's
//! `SubjectAccessChanged` events on a plain NATS subscription (every replica needs every change, so
//! no shared durable consumer), and reads the list again every half minute in case it missed an
//! event while disconnected.
//!
//! An entry says either "blocked: refuse every token" or "refuse tokens issued before `since`"
//! (after an unblock, a reactivation or a role change, so tokens from before stay dead while new
//! ones work). Tokens carry their issue time in microseconds (`iat_us`; whole seconds could not
//! tell a token issued just before an unblock from one issued just after it).

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use helpdesk_proto::{
    events::v1::{Event, SubjectAccessChanged, event::Payload},
    identity::v1::{ListRevocationsRequest, Revocation as PbRevocation, token_service_client::TokenServiceClient},
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

use super::{bearer, service_token::ServiceTokens};
use crate::nats::Nats;

/// How often the whole list is read again, as a safety net for missed events.
const REFRESH: Duration = Duration::from_secs(30);
/// How soon to try again after a failed read (identity down or not started yet).
const RETRY: Duration = Duration::from_secs(2);
/// How long start-up waits for the first read before serving without it (and retrying).
const FIRST_READ: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub blocked: bool,
    pub since: DateTime<Utc>,
}

impl Revocation {
    fn refuses(&self, issued_us: i64) -> bool {
        self.blocked || issued_us < self.since.timestamp_micros()
    }
}

/// The in-memory list a part's token verifier consults.
#[derive(Debug, Default)]
pub struct Revocations {
    entries: RwLock<HashMap<Uuid, Revocation>>,
}

impl Revocations {
    /// Records a subject's state, unless a newer one is known already (events and list reads
    /// can arrive in any order).
    pub fn apply(&self, subject: Uuid, revocation: Revocation) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(&subject) {
            Some(known) if known.since > revocation.since => {}
            _ => {
                entries.insert(subject, revocation);
            }
        }
    }

    /// Whether a token for `subject` issued at `issued_us` (unix microseconds) must be refused.
    pub fn refuses(&self, subject: Uuid, issued_us: i64) -> bool {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(&subject).is_some_and(|r| r.refuses(issued_us))
    }

    /// Applies an event or a list entry from the wire; malformed ones are logged and skipped.
    fn apply_wire(&self, subject_id: &str, blocked: bool, since: Option<&prost_types::Timestamp>) {
        let subject = Uuid::parse_str(subject_id).ok();
        let since = since.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)));
        match (subject, since) {
            (Some(subject), Some(since)) => self.apply(subject, Revocation { blocked, since }),
            _ => tracing::warn!(subject_id, "ignoring a malformed revocation"),
        }
    }

    fn apply_list(&self, list: &[PbRevocation]) {
        for entry in list {
            self.apply_wire(&entry.subject_id, entry.blocked, entry.since.as_ref());
        }
    }
}

type Read = Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<PbRevocation>>> + Send>> + Send + Sync>;

/// Where the whole list comes from: identity's `ListRevocations` for every other part, identity's
/// own table for identity.
pub struct Source(Read);

impl Source {
    pub fn new<F, Fut>(read: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<PbRevocation>>> + Send + 'static,
    {
        Self(Box::new(move || Box::pin(read())))
    }

    /// Identity's `ListRevocations`, called with this part's service token.
    pub fn identity(channel: Channel, tokens: Arc<ServiceTokens>) -> Self {
        Self::new(move || {
            let (channel, tokens) = (channel.clone(), tokens.clone());
            async move {
                let token = tokens.token().await?;
                let response = TokenServiceClient::new(channel)
                    .list_revocations(bearer(ListRevocationsRequest {}, &token)?)
                    .await?;
                Ok(response.into_inner().revocations)
            }
        })
    }
}

/// Keeps a part's [`Revocations`] current; see the module docs.
pub struct Follower {
    revocations: Arc<Revocations>,
    source: Source,
    events: Option<async_nats::Subscriber>,
    stale: bool,
}

impl Follower {
    /// Subscribes first (so nothing changes unseen between the read and the subscription), then
    /// reads the whole list, waiting for it at most a few seconds.
    pub async fn start(revocations: Arc<Revocations>, nats: &Nats, source: Source) -> anyhow::Result<Self> {
        let subject = crate::events::subject_of(&nats.subjects, &Payload::SubjectAccessChanged(SubjectAccessChanged::default()));
        let events = nats.client.subscribe(subject).await?;
        let mut follower = Self { revocations, source, events: Some(events), stale: true };
        match tokio::time::timeout(FIRST_READ, follower.read()).await {
            Ok(()) => {}
            Err(_) => tracing::warn!("the revocation list could not be read at start; retrying in the background"),
        }
        Ok(follower)
    }

    async fn read(&mut self) {
        match (self.source.0)().await {
            Ok(list) => {
                self.revocations.apply_list(&list);
                self.stale = false;
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the revocation list; blocked subjects may pass until it is read");
                self.stale = true;
            }
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut next_read = tokio::time::Instant::now() + if self.stale { RETRY } else { REFRESH };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(next_read) => {
                    self.read().await;
                    next_read = tokio::time::Instant::now() + if self.stale { RETRY } else { REFRESH };
                }
                message = next_event(&mut self.events) => match message {
                    Some(message) => self.apply_event(&message.payload),
                    None => {
                        tracing::warn!("the revocation subscription ended; only the periodic reads keep the list current");
                        self.events = None;
                    }
                },
            }
        }
    }

    fn apply_event(&self, payload: &[u8]) {
        match Event::decode(payload).map(|e| e.payload) {
            Ok(Some(Payload::SubjectAccessChanged(change))) => {
                tracing::info!(subject = %change.subject_id, blocked = change.blocked, "subject access changed");
                self.revocations.apply_wire(&change.subject_id, change.blocked, change.since.as_ref());
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ignoring an undecodable revocation event"),
        }
    }
}

/// The next event, or never once the subscription has ended.
async fn next_event(events: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match events {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("time")
    }

    fn us(seconds: i64) -> i64 {
        seconds * 1_000_000
    }

    #[test]
    fn a_blocked_subject_has_every_token_refused_and_others_are_untouched() {
        let list = Revocations::default();
        let (blocked, other) = (Uuid::new_v4(), Uuid::new_v4());
        list.apply(blocked, Revocation { blocked: true, since: at(100) });
        assert!(list.refuses(blocked, us(50)));
        assert!(list.refuses(blocked, us(5_000)), "even tokens issued after the block");
        assert!(!list.refuses(other, us(50)));
    }

    #[test]
    fn after_an_unblock_only_tokens_from_before_it_are_refused() {
        let list = Revocations::default();
        let subject = Uuid::new_v4();
        list.apply(subject, Revocation { blocked: true, since: at(100) });
        list.apply(subject, Revocation { blocked: false, since: at(200) });
        assert!(list.refuses(subject, us(150)));
        assert!(list.refuses(subject, us(200) - 1), "a microsecond before the unblock");
        assert!(!list.refuses(subject, us(200)));
        assert!(!list.refuses(subject, us(201)));
    }

    #[test]
    fn an_older_state_arriving_late_does_not_undo_a_newer_one() {
        let list = Revocations::default();
        let subject = Uuid::new_v4();
        list.apply(subject, Revocation { blocked: true, since: at(300) });
        list.apply(subject, Revocation { blocked: false, since: at(200) });
        assert!(list.refuses(subject, us(1_000)));
    }

    #[test]
    fn malformed_wire_entries_are_skipped() {
        let list = Revocations::default();
        list.apply_wire("not-a-uuid", true, Some(&prost_types::Timestamp { seconds: 1, nanos: 0 }));
        list.apply_wire(&Uuid::new_v4().to_string(), true, None);
        assert!(list.entries.read().expect("lock").is_empty());
    }
}
