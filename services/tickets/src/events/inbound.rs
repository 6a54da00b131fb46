//! The durable consumer of `<prefix>.inbound.>`: each `InboundMessage` becomes a ticket for a
//! new-or-existing contact, or — for mail — a reply on the ticket it threads into (a known
//! Message-ID, a signed reply token, or a ticket number in the subject from that ticket's own
//! contact or group), recording which rule matched. Automatic mail is stored but never reopens a
//! ticket; a bounce becomes an internal note and marks the address undeliverable. A message is
//! acked only after its ticket is committed; the (channel, external id) row makes a redelivery a
//! no-op; a message that fails `max_deliver` times, or cannot even be decoded, goes to the
//! quarantine table and is acked, so it never blocks the messages behind it. Several messages are
//! processed at once, except that a reply waits for the mail it answers while that is in flight.

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
    auth::{bearer, reply_token, service_token::ServiceTokens},
    blob::BlobStore,
    nats::Nats,
};
use secrecy::SecretString;
use helpdesk_proto::{
    events::v1::{InboundChannel, InboundMessage},
    identity::v1::{
        ExternalIdentity, FindOrCreateContactRequest, GetContactRequest, MarkEmailUndeliverableRequest,
        contact_service_client::ContactServiceClient,
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
        threading::{BY_MESSAGE_ID, BY_REPLY_TOKEN, BY_SUBJECT_NUMBER, NEW_TICKET, ticket_number_in_subject},
    },
    store::{Author, ChannelFile, InboundKey, KIND_NOTE, KIND_REPLY, NewMessage, NewTicket, Store, Viewer},
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

/// The messages being processed, by external id: each with the turn it was taken in and a token
/// cancelled when it is done (what later messages that depend on it wait for).
#[derive(Default)]
struct InFlight(Mutex<HashMap<String, (u64, CancellationToken)>>);

impl InFlight {
    /// Registers a message; returns its done-token and those of the earlier messages in flight it
    /// must wait for (same id, or an id among its references).
    fn enter(&self, id: &str, refs: &[String], turn: u64) -> (CancellationToken, Vec<CancellationToken>) {
        let done = CancellationToken::new();
        if id.is_empty() {
            return (done, Vec::new());
        }
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let earlier = std::iter::once(id)
            .chain(refs.iter().map(|r| r.trim()))
            .filter_map(|key| map.get(key).map(|(_, token)| token.clone()))
            .collect();
        map.insert(id.to_string(), (turn, done.clone()));
        (done, earlier)
    }

    fn leave(&self, id: &str, turn: u64, done: &CancellationToken) {
        done.cancel();
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.get(id).is_some_and(|(t, _)| *t == turn) {
            map.remove(id);
        }
    }
}

/// Why a message could not be processed this time.
enum Failure {
    /// Retrying cannot help (malformed message): quarantine now.
    Permanent(String),
    /// A peer or the database failed: let JetStream redeliver.
    Transient(String),
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
    /// stream order; one that repeats or refers to a message still in flight (a reply to a mail
    /// of the same burst, a second copy of a mail) waits for it, so threading sees the original's
    /// ticket. Everything else runs side by side.
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
                let (id, refs) = match &decoded {
                    Ok(inbound) => (inbound.external_id.trim().to_string(), inbound.thread_refs.clone()),
                    Err(_) => (String::new(), Vec::new()),
                };
                let (done, earlier) = in_flight.enter(&id, &refs, turn);
                tokio::spawn(async move {
                    for message in earlier {
                        message.cancelled().await;
                    }
                    this.handle(message, decoded).await;
                    in_flight.leave(&id, turn, &done);
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
        let ack = match outcome {
            Ok(()) => AckKind::Ack,
            Err(Failure::Transient(reason)) if delivered < self.max_deliver => {
                tracing::warn!(delivered, %reason, "inbound message failed; will be redelivered");
                AckKind::Nak(Some(Duration::from_secs(delivered.clamp(1, 30) as u64)))
            }
            Err(Failure::Transient(reason) | Failure::Permanent(reason)) => {
                match self
                    .store
                    .quarantine(message.subject.as_str(), &message.payload, &reason, delivered as i32)
                    .await
                {
                    Ok(id) => {
                        tracing::error!(quarantine = %id, %reason, "inbound message quarantined");
                        AckKind::Term
                    }
                    // Not even the quarantine is writable: leave it to redelivery, lose nothing.
                    Err(error) => {
                        tracing::error!(%error, "cannot quarantine inbound message");
                        AckKind::Nak(Some(Duration::from_secs(30)))
                    }
                }
            }
        };
        if let Err(error) = message.ack_with(ack).await {
            tracing::warn!(%error, "could not acknowledge inbound message; it will be redelivered");
        }
    }

    async fn process(&self, inbound: &InboundMessage) -> Result<(), Failure> {
        let channel = match InboundChannel::try_from(inbound.channel) {
            Ok(InboundChannel::Email) => Channel::Email,
            Ok(InboundChannel::Discord) => Channel::Chat,
            _ => return Err(Failure::Permanent(format!("unknown channel {}", inbound.channel))),
        };
        let external_id = inbound.external_id.trim();
        if external_id.is_empty() || external_id.len() > 998 {
            return Err(Failure::Permanent("external_id must be 1-998 characters".into()));
        }
        let key = InboundKey { channel: channel as i16, external_id };
        if self
            .store
            .ticket_for_inbound(key.channel, key.external_id)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?
            .is_some()
        {
            tracing::debug!(external_id, "inbound message already processed");
            return Ok(());
        }
        let body = Body::lenient(&inbound.text).map_err(|e| Failure::Permanent(e.to_string()))?;
        let subject = Subject::lenient(&inbound.subject);
        // Channels send sanitized HTML already; cleaning again costs little and trusts nobody.
        let html = ammonia::clean(&inbound.html);
        let flags = inbound.flags.clone().unwrap_or_default();
        let automatic = flags.auto_submitted || flags.bulk || flags.bounce || flags.loop_detected || flags.from_own_address;
        if flags.bounce {
            return self.bounce(inbound, key, &flags.bounced_message_id).await;
        }
        let contact_id = self.contact_for(inbound, channel).await?;
        let files = self.files(inbound).await?;
        let transient = |e: sqlx::Error| Failure::Transient(e.to_string());
        let thread = if channel == Channel::Email {
            self.thread(inbound, &subject, contact_id).await.map_err(transient)?
        } else {
            None
        };
        match thread {
            Some((ticket, rule)) => {
                let message = NewMessage {
                    kind: KIND_REPLY,
                    author: Author::Contact(contact_id),
                    text: body.as_str(),
                    html: &html,
                    original: &inbound.html,
                    channel,
                    attachments: &[],
                    files: &files,
                    thread_rule: rule,
                };
                let added = self
                    .store
                    .add_message(ticket, message, automatic, Some(key))
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                tracing::info!(%ticket, rule, stored = added.is_some(), automatic, "inbound message threaded into a ticket");
            }
            None => {
                let category_id = self.category(&inbound.category).await.map_err(transient)?;
                let created = self
                    .store
                    .create_ticket(NewTicket {
                        contact_id,
                        subject: &subject,
                        body: &body,
                        html: &html,
                        original: &inbound.html,
                        channel,
                        author: Author::Contact(contact_id),
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
                    .await
                    .map_err(transient)?;
                match created {
                    Some(ticket) => tracing::info!(ticket = %ticket.id, number = ticket.number, "ticket created from inbound message"),
                    None => tracing::debug!("inbound message processed concurrently by another consumer"),
                }
            }
        }
        Ok(())
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
            });
        }
        Ok(files)
    }

    /// The category a channel asks for (its id or name); unknown or inactive ones are ignored.
    async fn category(&self, wanted: &str) -> sqlx::Result<Option<Uuid>> {
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

    /// DESIGN.md §3.1's rules in order: a Message-ID we know for a ticket (one we stored, or one
    /// of ours, which carries the ticket's signed token); a signed reply token;
    /// a ticket number in the subject, only when the sender is that ticket's contact or in its
    /// group. `None` means a new ticket.
    async fn thread(
        &self,
        inbound: &InboundMessage,
        subject: &Subject,
        sender: Uuid,
    ) -> sqlx::Result<Option<(Uuid, &'static str)>> {
        if let Some(ticket) = self.ticket_for_message_ids(&inbound.thread_refs).await? {
            return Ok(Some((ticket, BY_MESSAGE_ID)));
        }
        if let Some(ticket) = reply_token::verify(&self.reply_secret, &inbound.reply_token)
            && self.store.ticket_exists(ticket).await?
        {
            return Ok(Some((ticket, BY_REPLY_TOKEN)));
        }
        if let Some(number) = ticket_number_in_subject(subject.as_str())
            && let Some(ticket) = self.store.ticket_by_number_for_sender(number, sender).await?
        {
            return Ok(Some((ticket, BY_SUBJECT_NUMBER)));
        }
        Ok(None)
    }

    /// The ticket one of these Message-IDs belongs to: a mail we stored for it, or one of our own
    /// mails, whose Message-ID starts with the ticket's signed reply token.
    async fn ticket_for_message_ids(&self, ids: &[String]) -> sqlx::Result<Option<Uuid>> {
        let ids: Vec<String> = ids
            .iter()
            .map(|r| r.trim().trim_matches(['<', '>']).to_string())
            .filter(|r| !r.is_empty())
            .take(50)
            .collect();
        if let Some(ticket) = self.store.ticket_for_references(&ids).await? {
            return Ok(Some(ticket));
        }
        for id in &ids {
            let token = id.split(['.', '@']).next().unwrap_or_default();
            if let Some(ticket) = reply_token::verify(&self.reply_secret, token)
                && self.store.ticket_exists(ticket).await?
            {
                return Ok(Some(ticket));
            }
        }
        Ok(None)
    }

    /// A bounce: an internal note on the ticket whose mail bounced, and the contact's address
    /// marked undeliverable at identity. A bounce for no ticket we know is quarantined.
    async fn bounce(&self, inbound: &InboundMessage, key: InboundKey<'_>, bounced_id: &str) -> Result<(), Failure> {
        let transient = |e: sqlx::Error| Failure::Transient(e.to_string());
        let mut references: Vec<String> = inbound.thread_refs.clone();
        if !bounced_id.is_empty() {
            references.insert(0, bounced_id.to_string());
        }
        let Some(ticket_id) = self.ticket_for_message_ids(&references).await.map_err(transient)? else {
            return Err(Failure::Permanent("a bounce for no ticket we know".into()));
        };
        let ticket = self
            .store
            .ticket(ticket_id, Viewer::Staff(None))
            .await
            .map_err(transient)?
            .ok_or_else(|| Failure::Transient("the bounced ticket vanished".into()))?;
        self.mark_undeliverable(ticket.contact_id).await?;
        let text = format!("Mail to the contact bounced.\n\n{}", inbound.text.chars().take(4000).collect::<String>());
        let note = NewMessage {
            kind: KIND_NOTE,
            author: Author::System,
            text: &text,
            html: "",
            original: "",
            channel: Channel::Email,
            attachments: &[],
            files: &[],
            thread_rule: "bounce",
        };
        self.store
            .add_message(ticket_id, note, true, Some(key))
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        Ok(())
    }

    async fn mark_undeliverable(&self, contact: Uuid) -> Result<(), Failure> {
        let token = self.tokens.token().await.map_err(|e| Failure::Transient(e.to_string()))?;
        let grpc = |status: tonic::Status| Failure::Transient(format!("identity: {status}"));
        let mut identity = self.identity.clone();
        let found = identity
            .get_contact(bearer(GetContactRequest { id: contact.to_string() }, &token).map_err(grpc)?)
            .await
            .map_err(grpc)?
            .into_inner();
        let Some(address) = found.emails.iter().find(|e| e.primary).map(|e| e.address.clone()) else {
            return Ok(());
        };
        identity
            .mark_email_undeliverable(
                bearer(MarkEmailUndeliverableRequest { address, reason: "bounced".into() }, &token).map_err(grpc)?,
            )
            .await
            .map_err(grpc)?;
        Ok(())
    }

    /// Finds or creates the sender at identity: by address for mail, by handle for chat.
    async fn contact_for(&self, inbound: &InboundMessage, channel: Channel) -> Result<Uuid, Failure> {
        let sender = inbound.sender.clone().unwrap_or_default();
        let key = match channel {
            Channel::Email if !sender.address.trim().is_empty() => Key::Email(sender.address.clone()),
            Channel::Chat if !sender.handle.trim().is_empty() => Key::ExternalIdentity(ExternalIdentity {
                provider: "discord".into(),
                subject: sender.handle.clone(),
            }),
            _ => return Err(Failure::Permanent("the sender has no address or handle".into())),
        };
        let cache_key = match &key {
            Key::Email(address) => format!("email:{}", address.trim().to_lowercase()),
            Key::ExternalIdentity(identity) => format!("{}:{}", identity.provider, identity.subject),
        };
        if let Some(contact) = self.contacts.get(&cache_key) {
            return Ok(contact);
        }
        let token = self.tokens.token().await.map_err(|e| Failure::Transient(e.to_string()))?;
        let request = bearer(
            FindOrCreateContactRequest {
                key: Some(key),
                name: sender.display_name,
            },
            &token,
        )
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
        let contact = Uuid::parse_str(&contact.id).map_err(|_| Failure::Transient("identity answered a malformed contact id".into()))?;
        self.contacts.put(cache_key, contact);
        Ok(contact)
    }
}
