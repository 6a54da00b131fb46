//! The durable consumer of `<prefix>.inbound.>`: each `InboundMessage` becomes a ticket for a
//! new-or-existing contact, or — for mail — a reply on the ticket it threads into (`threading`),
//! recording which rule matched. Automatic mail is stored but never reopens a ticket; delivery
//! reports about our own mail become internal notes (`delivery_report`). What a channel sends is
//! cleaned and bounded here, at the edge (`Incoming`, `domain::inbound`): nothing is refused for
//! its length or its control characters, and every message keeps a link to its raw original.
//!
//! A message is acked only after its ticket is committed; the (channel, external id) row with its
//! content hash makes a redelivery or a second copy a no-op, while another message reusing the id
//! is stored as its own. A message that cannot be decoded, or that the database refuses as data,
//! is quarantined at once; one that keeps failing for passing reasons after `max_deliver`
//! deliveries; either way it never blocks the messages behind it. Several messages are processed
//! at once, except that messages sharing an id (`InFlight`) run in stream order.

mod delivery_report;
mod threading;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use helpdesk_kit::{
    CancellationToken,
    auth::{bearer, service_token::ServiceTokens},
    limits::MAX_MESSAGE_HTML_BYTES,
    blob::BlobStore,
    nats::Nats,
    text::prefix_within,
};
use secrecy::SecretString;
use helpdesk_proto::{
    events::v1::{InboundChannel, InboundMessage},
    identity::v1::{
        ExternalIdentity, FindOrCreateContactRequest, contact_service_client::ContactServiceClient,
        find_or_create_contact_request::Key,
    },
};
use prost::Message as _;
use tokio::sync::Semaphore;
use tonic::transport::Channel as GrpcChannel;
use uuid::Uuid;

use super::ContactCache;
use crate::{
    domain::{
        Body, Channel, Subject,
        attachments::{clean_filename, sniff_content_type},
        inbound::{content_hash, fit_html, normalized_id, normalized_refs, text_of_html, without_controls},
        threading::NEW_TICKET,
    },
    store::{
        Author, ChannelFile, InboundKey, KIND_REPLY, NewMessage, NewTicket, Store,
        inbound::{POISON, UNMATCHED_BOUNCE},
    },
};

const DURABLE: &str = "tickets-inbound";

pub struct InboundConsumer {
    pub store: Store,
    pub nats: Nats,
    pub identity: ContactServiceClient<GrpcChannel>,
    pub tokens: Arc<ServiceTokens>,
    pub max_deliver: i64,
    pub ack_wait: Duration,
    /// Verifies the reply tokens in plus-addresses (see `kit::auth::reply_token`).
    pub reply_secret: SecretString,
    /// Where channels put attachments (shared with them).
    pub blobs: BlobStore,
    /// Messages processed at once (see `run`).
    pub concurrency: usize,
    /// Senders seen recently → their contact.
    pub contacts: ContactCache,
}

/// The messages being processed, under every id they touch (their own and their references):
/// each with the turn it was taken in and a token cancelled when it is done. A later message that
/// shares any of those ids waits for the earlier ones: a reply for the mail it answers, a second
/// copy for the first, and a parent for the reply that arrived before it.
#[derive(Default)]
struct InFlight(Mutex<HashMap<String, Vec<(u64, CancellationToken)>>>);

impl InFlight {
    /// Registers a message under `keys`; returns its done-token and those of the earlier messages
    /// in flight it must wait for.
    fn enter(&self, keys: &[String], turn: u64) -> (CancellationToken, Vec<CancellationToken>) {
        let done = CancellationToken::new();
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut earlier = Vec::new();
        for key in keys {
            let entries = map.entry(key.clone()).or_default();
            earlier.extend(entries.iter().map(|(_, token)| token.clone()));
            entries.push((turn, done.clone()));
        }
        (done, earlier)
    }

    fn leave(&self, keys: &[String], turn: u64, done: &CancellationToken) {
        done.cancel();
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in keys {
            if let Some(entries) = map.get_mut(key) {
                entries.retain(|(t, _)| *t != turn);
                if entries.is_empty() {
                    map.remove(key);
                }
            }
        }
    }
}

/// The ids a message is registered under in [`InFlight`]: its own and its references, normalized
/// alike so a reply's reference meets its parent's id.
fn in_flight_keys(inbound: &InboundMessage) -> Vec<String> {
    let own = normalized_id(&inbound.external_id);
    let mut keys = normalized_refs(&inbound.thread_refs);
    if !own.is_empty() && !keys.contains(&own) {
        keys.insert(0, own);
    }
    keys
}

/// Why a message could not be processed this time.
#[derive(Debug)]
enum Failure {
    /// Retrying cannot help (malformed message, data the database refuses): quarantine now.
    Permanent(String),
    /// A peer or the database failed: let JetStream redeliver.
    Transient(String),
}

impl From<sqlx::Error> for Failure {
    /// A data error (SQLSTATE class 22 data exception, 23 integrity violation other than a unique
    /// conflict, 54 program limit) comes back the same on every delivery: permanent at once.
    /// Everything else — connections, timeouts, serialization, pool, I/O — may pass: transient.
    fn from(error: sqlx::Error) -> Self {
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        match code {
            Some(code) if sqlstate_is_permanent(&code) => {
                Failure::Permanent(format!("the database refused the message (SQLSTATE {code}): {error}"))
            }
            _ => Failure::Transient(error.to_string()),
        }
    }
}

fn sqlstate_is_permanent(code: &str) -> bool {
    match code.get(..2) {
        Some("22" | "54") => true,
        // 23505: a concurrent writer won a unique key; the next delivery sees its row.
        Some("23") => code != "23505",
        _ => false,
    }
}

/// What became of a message that needs no retry.
enum Outcome {
    /// Stored (or found stored already).
    Stored,
    /// Kept for admins as classified mail, not poison: a delivery report about no mail we sent.
    Unmatched(String),
}

impl InboundConsumer {
    pub async fn consumer(&self) -> anyhow::Result<PullConsumer> {
        let stream = self.nats.jetstream.get_stream(self.nats.subjects.inbound_stream()).await?;
        Ok(stream
            .get_or_create_consumer(
                DURABLE,
                pull::Config {
                    durable_name: Some(DURABLE.into()),
                    filter_subject: self.nats.subjects.all_inbound(),
                    ack_policy: AckPolicy::Explicit,
                    max_deliver: self.max_deliver,
                    ack_wait: self.ack_wait,
                    ..Default::default()
                },
            )
            .await?)
    }

    /// Consumes until shutdown, up to `concurrency` messages at once. Messages are taken in
    /// stream order; one that shares an id with a message still in flight (a reply to a mail of
    /// the same burst, a second copy of a mail, the parent of a reply taken just before) waits for
    /// it, so threading sees the other's ticket. As messages only ever wait for ones taken
    /// earlier, nothing can deadlock. Everything else runs side by side.
    pub async fn run(self, consumer: PullConsumer, shutdown: CancellationToken) {
        let concurrency = self.concurrency.max(1);
        let this = Arc::new(self);
        let in_flight = Arc::new(InFlight::default());
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut taken: u64 = 0;
        helpdesk_kit::consumer::run(DURABLE, consumer, shutdown, |message| {
            taken += 1;
            let turn = taken;
            let (this, in_flight, slots) = (this.clone(), in_flight.clone(), slots.clone());
            async move {
                let Ok(slot) = slots.acquire_owned().await else { return };
                let decoded = InboundMessage::decode(message.payload.as_ref());
                let keys = decoded.as_ref().map(in_flight_keys).unwrap_or_default();
                let (done, earlier) = in_flight.enter(&keys, turn);
                tokio::spawn(async move {
                    for message in earlier {
                        message.cancelled().await;
                    }
                    this.handle(message, decoded).await;
                    in_flight.leave(&keys, turn, &done);
                    drop(slot);
                });
            }
        })
        .await;
    }

    #[tracing::instrument(skip_all, fields(subject = %message.subject))]
    async fn handle(&self, message: Message, decoded: Result<InboundMessage, prost::DecodeError>) {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let outcome = match decoded {
            Ok(inbound) => self.process(&inbound).await,
            Err(error) => Err(Failure::Permanent(format!("not an InboundMessage: {error}"))),
        };
        let (kind, reason) = match outcome {
            Ok(Outcome::Stored) => (None, String::new()),
            Ok(Outcome::Unmatched(reason)) => (Some(UNMATCHED_BOUNCE), reason),
            Err(Failure::Transient(reason)) if delivered < self.max_deliver => {
                tracing::warn!(delivered, %reason, "inbound message failed; will be redelivered");
                let delay = Duration::from_secs(delivered.clamp(1, 30) as u64);
                return self.acknowledge(&message, AckKind::Nak(Some(delay))).await;
            }
            Err(Failure::Transient(reason) | Failure::Permanent(reason)) => (Some(POISON), reason),
        };
        let ack = match kind {
            None => AckKind::Ack,
            Some(kind) => match self
                .store
                .quarantine(kind, message.subject.as_str(), &message.payload, &reason, delivered as i32)
                .await
            {
                Ok(id) if kind == POISON => {
                    tracing::error!(quarantine = %id, %reason, "inbound message quarantined");
                    AckKind::Term
                }
                Ok(id) => {
                    tracing::info!(quarantine = %id, %reason, "inbound message kept as classified mail");
                    AckKind::Ack
                }
                // Not even the quarantine is writable: leave it to redelivery, lose nothing.
                Err(error) => {
                    tracing::error!(%error, "cannot quarantine inbound message");
                    AckKind::Nak(Some(Duration::from_secs(30)))
                }
            },
        };
        self.acknowledge(&message, ack).await;
    }

    async fn acknowledge(&self, message: &Message, ack: AckKind) {
        if let Err(error) = message.ack_with(ack).await {
            tracing::warn!(%error, "could not acknowledge inbound message; it will be redelivered");
        }
    }

    async fn process(&self, inbound: &InboundMessage) -> Result<Outcome, Failure> {
        let channel = match InboundChannel::try_from(inbound.channel) {
            Ok(InboundChannel::Email) => Channel::Email,
            Ok(InboundChannel::Discord) => Channel::Chat,
            _ => return Err(Failure::Permanent(format!("unknown channel {}", inbound.channel))),
        };
        let external_id = without_controls(&inbound.external_id);
        let external_id = external_id.trim();
        if external_id.is_empty() || external_id.len() > 998 {
            return Err(Failure::Permanent("external_id must be 1-998 characters".into()));
        }
        let incoming = Incoming::from_wire(inbound);
        let Some(dedupe_id) = self.dedupe_id(channel, external_id, &incoming.content_hash).await? else {
            return Ok(Outcome::Stored);
        };
        let key = InboundKey {
            channel: channel as i16,
            external_id,
            dedupe_id: &dedupe_id,
            content_hash: &incoming.content_hash,
            thread_refs: &incoming.thread_refs,
            text_truncated: incoming.truncated,
        };
        if incoming.truncated {
            tracing::info!(external_id, "inbound text cut at the limit; the whole message is in its raw original");
        }
        let mut files = self.files(inbound).await?;
        files.extend(raw_original(inbound, channel));
        let flags = inbound.flags.clone().unwrap_or_default();
        if flags.bounce || flags.delivery_delayed {
            return self.delivery_report(inbound, &incoming, key, &flags, &files).await;
        }
        let automatic = flags.auto_submitted || flags.bulk || flags.loop_detected || flags.from_own_address;
        let sender = self.contact_for(inbound, channel).await?;
        let thread = if channel == Channel::Email {
            self.thread(&incoming, external_id, &inbound.reply_token, &sender).await?
        } else {
            None
        };
        let stored = match thread {
            Some((ticket, rule)) => {
                let message = NewMessage {
                    kind: KIND_REPLY,
                    author: Author::Contact(sender.id),
                    text: incoming.body.as_str(),
                    html: &incoming.html,
                    original: &incoming.original,
                    channel,
                    attachments: &[],
                    files: &files,
                    thread_rule: rule,
                };
                let added = self.store.add_message_sql(ticket, message, automatic, Some(key)).await?;
                tracing::info!(%ticket, rule, stored = added.is_some(), automatic, "inbound message threaded into a ticket");
                added.is_some()
            }
            None => {
                let category_id = self.category(&inbound.category).await?;
                let created = self
                    .store
                    .create_ticket(NewTicket {
                        contact_id: sender.id,
                        subject: &incoming.subject,
                        body: &incoming.body,
                        html: &incoming.html,
                        original: &incoming.original,
                        channel,
                        author: Author::Contact(sender.id),
                        priority: None,
                        category_id,
                        custom_fields: &BTreeMap::new(),
                        due_at: None,
                        attachments: &[],
                        files: &files,
                        inbound: Some(key),
                        automatic,
                        thread_rule: NEW_TICKET,
                    })
                    .await?;
                if let Some(ticket) = &created {
                    tracing::info!(ticket = %ticket.id, number = ticket.number, "ticket created from inbound message");
                }
                created.is_some()
            }
        };
        if !stored {
            self.claimed_concurrently(channel, &dedupe_id, &incoming.content_hash).await?;
        }
        Ok(Outcome::Stored)
    }

    /// The key to store a message under, or `None` when it is stored already. A message whose
    /// external id is taken by one with other content (a reused Message-ID) is another message:
    /// it is stored under the id with its hash appended, and the collision is logged.
    async fn dedupe_id(&self, channel: Channel, external_id: &str, hash: &str) -> Result<Option<String>, Failure> {
        let channel = channel as i16;
        match self.store.inbound_content_hash(channel, external_id).await? {
            None => Ok(Some(external_id.to_string())),
            Some(stored) if stored.is_empty() || stored == hash => {
                tracing::info!(external_id, "a second copy of a stored inbound message was suppressed");
                Ok(None)
            }
            Some(stored) => {
                let suffixed = format!("{external_id}#{hash}");
                if self.store.inbound_content_hash(channel, &suffixed).await?.is_some() {
                    tracing::info!(external_id = suffixed, "a second copy of a stored inbound message was suppressed");
                    return Ok(None);
                }
                tracing::warn!(
                    external_id,
                    stored_hash = stored,
                    hash,
                    "another message reuses a stored message's external id with other content; stored as its own message"
                );
                Ok(Some(suffixed))
            }
        }
    }

    /// The claim was lost to a message stored at the same moment (another consumer): the same
    /// content is a duplicate, done; other content must not be dropped, so it is retried, and
    /// the next delivery stores it under its own key.
    async fn claimed_concurrently(&self, channel: Channel, dedupe_id: &str, hash: &str) -> Result<(), Failure> {
        match self.store.inbound_content_hash(channel as i16, dedupe_id).await? {
            Some(stored) if stored.is_empty() || stored == hash => {
                tracing::debug!(dedupe_id, "inbound message processed concurrently by another consumer");
                Ok(())
            }
            _ => Err(Failure::Transient(format!("another message claimed {dedupe_id} at the same moment; retrying"))),
        }
    }
    /// The channel's files, as attachments: the type comes from the bytes (as for uploads), never
    /// from the sender's claim, and the name is cleaned.
    async fn files(&self, inbound: &InboundMessage) -> Result<Vec<ChannelFile>, Failure> {
        let mut files = Vec::with_capacity(inbound.attachments.len());
        for blob in &inbound.attachments {
            let data = self
                .blobs
                .get(&blob.key)
                .await
                .map_err(|e| Failure::Transient(format!("attachment {}: {e}", blob.key)))?;
            files.push(ChannelFile {
                filename: clean_filename(&blob.filename),
                content_type: sniff_content_type(&data).to_string(),
                size: i64::try_from(data.len()).unwrap_or(i64::MAX),
                blob_key: blob.key.clone(),
                raw: false,
            });
        }
        Ok(files)
    }

    /// The category a channel asks for (its id or name); unknown or inactive ones are ignored.
    async fn category(&self, wanted: &str) -> Result<Option<Uuid>, Failure> {
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Ok(None);
        }
        let category = self.store.active_category_by_id_or_name(wanted).await?;
        if category.is_none() {
            tracing::warn!(category = wanted, "the channel names an unknown category; the ticket gets none");
        }
        Ok(category)
    }

    /// Finds or creates the sender at identity: by address for mail, by handle for chat. Mail
    /// with no readable sender is filed under the one shared "unknown sender" contact (agents can
    /// fix it); a chat message without a handle is malformed.
    async fn contact_for(&self, inbound: &InboundMessage, channel: Channel) -> Result<SenderContact, Failure> {
        let sender = inbound.sender.clone().unwrap_or_default();
        let address = without_controls(&sender.address).trim().to_string();
        let handle = without_controls(&sender.handle).trim().to_string();
        let (key, name, known) = match channel {
            Channel::Email if !address.is_empty() => (Key::Email(address), without_controls(&sender.display_name).into_owned(), true),
            Channel::Email => (
                Key::ExternalIdentity(ExternalIdentity { provider: UNKNOWN_SENDER.0.into(), subject: UNKNOWN_SENDER.1.into() }),
                "Unknown sender".to_string(),
                false,
            ),
            Channel::Chat if !handle.is_empty() => (
                Key::ExternalIdentity(ExternalIdentity { provider: "discord".into(), subject: handle }),
                without_controls(&sender.display_name).into_owned(),
                true,
            ),
            _ => return Err(Failure::Permanent("the sender has no address or handle".into())),
        };
        let cache_key = match &key {
            Key::Email(address) => format!("email:{}", address.to_lowercase()),
            Key::ExternalIdentity(identity) => format!("{}:{}", identity.provider, identity.subject),
        };
        if let Some(id) = self.contacts.get(&cache_key) {
            return Ok(SenderContact { id, known });
        }
        let token = self.tokens.token().await.map_err(|e| Failure::Transient(e.to_string()))?;
        let request = bearer(FindOrCreateContactRequest { key: Some(key), name }, &token)
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let response = self.identity.clone().find_or_create_contact(request).await.map_err(|status| {
            if status.code() == tonic::Code::InvalidArgument {
                Failure::Permanent(format!("identity refused the sender: {}", status.message()))
            } else {
                Failure::Transient(format!("identity: {status}"))
            }
        })?;
        let contact = response
            .into_inner()
            .contact
            .ok_or_else(|| Failure::Transient("identity answered without a contact".into()))?;
        let id = Uuid::parse_str(&contact.id).map_err(|_| Failure::Transient("identity answered a malformed contact id".into()))?;
        self.contacts.put(cache_key, id);
        Ok(SenderContact { id, known })
    }
}

/// The external identity (provider, subject) of the contact that mail without a readable sender is
/// filed under.
const UNKNOWN_SENDER: (&str, &str) = ("helpdesk", "unknown-sender");

/// The contact a message is from; `known` is false for the shared "unknown sender".
struct SenderContact {
    id: Uuid,
    known: bool,
}

/// A channel message as it is stored: cleaned and bounded at this edge (`domain::inbound`).
struct Incoming {
    subject: Subject,
    body: Body,
    html: String,
    /// The channel's HTML before our sanitizing, kept as the message's original.
    original: String,
    /// The text or HTML was cut at the one limit (here or by the channel).
    truncated: bool,
    thread_refs: Vec<String>,
    content_hash: String,
}

impl Incoming {
    fn from_wire(inbound: &InboundMessage) -> Self {
        let (html, html_cut) = fit_html(&inbound.html);
        let (mut body, mut text_cut) = Body::lenient(&inbound.text);
        // A stored message is never empty when the message had words, even in HTML only.
        if body.as_str().trim().is_empty() && !html.is_empty() {
            (body, text_cut) = Body::lenient(&text_of_html(&html));
        }
        let sender = inbound.sender.clone().unwrap_or_default();
        let who = if sender.address.trim().is_empty() { sender.handle } else { sender.address };
        Self {
            subject: Subject::lenient(&inbound.subject),
            original: prefix_within(&without_controls(&inbound.html), MAX_MESSAGE_HTML_BYTES).to_string(),
            truncated: text_cut || html_cut || inbound.text_truncated,
            thread_refs: normalized_refs(&inbound.thread_refs),
            content_hash: content_hash(&who, &inbound.subject, &inbound.text),
            body,
            html,
        }
    }
}

/// The channel's raw original (the archived mail) as a file of the message, staff only.
fn raw_original(inbound: &InboundMessage, channel: Channel) -> Option<ChannelFile> {
    let raw = inbound.raw.as_ref().filter(|raw| !raw.key.trim().is_empty())?;
    let (name, content_type) = match channel {
        Channel::Email => ("original.eml", "message/rfc822"),
        _ => ("original", "application/octet-stream"),
    };
    Some(ChannelFile {
        filename: name.to_string(),
        content_type: content_type.to_string(),
        size: i64::try_from(raw.size).unwrap_or(i64::MAX),
        blob_key: raw.key.clone(),
        raw: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_permanent_and_outages_transient() {
        for code in ["22021", "22001", "23502", "23503", "23514", "54000"] {
            assert!(sqlstate_is_permanent(code), "{code}");
        }
        for code in ["23505", "08006", "40001", "40P01", "53300", "57014", "57P01", "XX000", ""] {
            assert!(!sqlstate_is_permanent(code), "{code}");
        }
    }

    #[test]
    fn a_parent_and_its_early_reply_share_a_key_in_flight() {
        let parent = InboundMessage { external_id: "<p@x>".into(), ..Default::default() };
        let reply = InboundMessage { external_id: "r@x".into(), thread_refs: vec!["<p@x>".into(), "q@x".into()], ..Default::default() };
        assert_eq!(in_flight_keys(&parent), vec!["p@x"]);
        assert_eq!(in_flight_keys(&reply), vec!["r@x", "p@x", "q@x"]);
        let in_flight = InFlight::default();
        let (reply_done, reply_waits) = in_flight.enter(&in_flight_keys(&reply), 1);
        assert!(reply_waits.is_empty());
        let (_, parent_waits) = in_flight.enter(&in_flight_keys(&parent), 2);
        assert_eq!(parent_waits.len(), 1, "the parent waits for the reply taken before it");
        in_flight.leave(&in_flight_keys(&reply), 1, &reply_done);
        assert!(parent_waits[0].is_cancelled());
        let (_, later) = in_flight.enter(&["r@x".to_string()], 3);
        assert!(later.is_empty(), "a finished message is forgotten");
    }
}
