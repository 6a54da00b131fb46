//! The use case of tickets' inbound consumer, callable without NATS: a channel's
//! `InboundMessage` becomes a ticket for a new-or-existing contact, or a reply on the ticket it
//! threads into (`threading`: mail's rules, or chat's conversation), recording which rule matched. Automatic mail is stored
//! but never reopens a ticket; delivery reports about our own mail become internal notes
//! (`delivery_report`). What a channel sends is cleaned and bounded here, at the edge
//! (`Incoming`, `domain::inbound`): nothing is refused for its length or its control characters,
//! and every message keeps a link to its raw original.
//!
//! The (channel, external id) row with its content hash makes a redelivery or a second copy a
//! no-op, while another message reusing the id is stored as its own. What cannot be stored says
//! whether retrying may help ([`Failure`]); the consumer (`super`) acts on that.

use std::collections::BTreeMap;

use helpdesk_kit::{blob::BlobStore, consumer::Failure, limits::MAX_MESSAGE_HTML_BYTES, text::prefix_within};
use helpdesk_proto::events::v1::{InboundChannel, InboundMessage};
use secrecy::SecretString;
use uuid::Uuid;

use super::identity_client::IdentityClient;
use crate::{
    domain::{
        Body, Channel, Subject,
        attachments::{clean_filename, sniff_content_type},
        inbound::{content_hash, fit_html, normalized_refs, text_of_html, without_controls},
        threading::NEW_TICKET,
    },
    store::{Author, ChannelFile, InboundKey, KIND_REPLY, NewMessage, NewTicket, Store},
};

/// Turns channel messages into tickets and replies.
pub struct Intake {
    pub store: Store,
    /// Finds or creates senders, and flags bounced addresses.
    pub identity: IdentityClient,
    /// Verifies the reply tokens in plus-addresses (see `kit::auth::reply_token`).
    pub reply_secret: SecretString,
    /// Where channels put attachments (shared with them).
    pub blobs: BlobStore,
}

/// What became of a message that needs no retry.
pub enum Received {
    /// Stored (or found stored already).
    Stored,
    /// To keep for admins as classified mail, not poison: a delivery report about no mail we sent.
    Unmatched(String),
}

impl Intake {
    /// Stores one channel message as a ticket or a reply (or finds it stored already).
    pub async fn receive(&self, inbound: &InboundMessage) -> Result<Received, Failure> {
        let channel = match InboundChannel::try_from(inbound.channel) {
            Ok(InboundChannel::Email) => Channel::Email,
            Ok(InboundChannel::Discord) => Channel::Chat,
            _ => return Err(Failure::poison(format!("unknown channel {}", inbound.channel))),
        };
        let external_id = without_controls(&inbound.external_id);
        let external_id = external_id.trim();
        if external_id.is_empty() || external_id.len() > 998 {
            return Err(Failure::poison("external_id must be 1-998 characters"));
        }
        let incoming = Incoming::from_wire(inbound);
        let Some(dedupe_id) = self.dedupe_id(channel, external_id, &incoming.content_hash).await? else {
            return Ok(Received::Stored);
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
        let sender = self.identity.contact_for(inbound, channel).await?;
        let thread = match channel {
            Channel::Email => self.thread(&incoming, external_id, &inbound.reply_token, &sender).await?,
            _ => self.chat_thread(&incoming, &inbound.reply_token).await?,
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
                let added = self.store.add_message(ticket, message, automatic, Some(key)).await?;
                tracing::info!(%ticket, rule, stored = added.is_some(), automatic, "inbound message threaded into a ticket");
                added.is_some()
            }
            None => {
                let category_id = self.category(&inbound.category).await?;
                let created = self
                    .store
                    .file_ticket(NewTicket {
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
                    }, false)
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
        Ok(Received::Stored)
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
            _ => Err(Failure::retry(format!("another message claimed {dedupe_id} at the same moment; retrying"))),
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
                .map_err(|e| Failure::retry(format!("attachment {}: {e}", blob.key)))?;
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

}

/// A channel message as it is stored: cleaned and bounded at this edge (`domain::inbound`).
pub(super) struct Incoming {
    pub(super) subject: Subject,
    pub(super) body: Body,
    pub(super) html: String,
    /// The channel's HTML before our sanitizing, kept as the message's original.
    pub(super) original: String,
    /// The text or HTML was cut at the one limit (here or by the channel).
    pub(super) truncated: bool,
    pub(super) thread_refs: Vec<String>,
    pub(super) content_hash: String,
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
