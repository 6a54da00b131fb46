//! Everything the bot posts: a durable consumer (kit's runner, `durable::CHAT_TICKET_EVENTS`) of
//! tickets' events, one ticket's events in order (ordered by ticket id), many tickets side by side.
//!
//! - `TicketCreated` from chat: the conversation whose root message made the ticket learns its
//!   ticket, and gets the ticket's welcome with the Close button. A conversation chat has not
//!   stored yet is retried, never dropped.
//! - `MessageAdded`, a public reply (never a note or a system entry) on a ticket with a
//!   conversation, unless it came in from Discord: posted signed — an agent per
//!   `agent_display_format` ("**Ann (Support)**"), a contact's own reply from elsewhere as
//!   "**Maria (by email)**" — with its attachments re-uploaded (`post`).
//! - `TicketUpdated`, the status: completed → the conversation is closed, with a closing line;
//!   back to open → open again. A forum post's tags follow status and priority (`forum_tags`).
//!
//! A post Discord refuses for good becomes one internal note on the ticket (`lines::not_posted`);
//! a deleted thread or closed DM also marks the conversation gone. Either way the event is done, so
//! one broken channel never holds up other tickets. `peers` holds the calls to tickets and
//! identity, `lines` the words.

mod forum_tags;
mod lines;
mod peers;

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::Message;
use helpdesk_kit::{
    CancellationToken,
    consumer::{Backoff, Consumer, Durable, Failure, Handled, Handler},
    nats::{Subjects, durable},
};
use helpdesk_proto::{
    events::v1::{Event, MessageAdded, TicketCreated, TicketUpdated, event::Payload},
    tickets::v1::{self as pb, AuthorKind, Channel, MessageKind, StatusKind},
};
use prost::Message as _;
use serenity::builder::{CreateActionRow, CreateAttachment};
use uuid::Uuid;

use crate::{
    commands,
    config::ChatConfig,
    context::Chat,
    discord_error::DiscordFailure,
    post::{Post, Posted, post},
    store::{Conversation, ConversationKind, ConversationState},
};
use peers::Peers;

/// Tickets whose events are posted at once (one ticket's events stay in order).
const CONCURRENCY: usize = 32;
/// Discord's limits on one message's files: count and total size.
const MAX_FILES: usize = 10;
const MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// The reply poster, bound to its durable consumer.
pub struct Replies {
    chat: Arc<Chat>,
    consumer: Consumer,
}

/// The consumer's settings: `ack_wait` and `max_deliver` from `[chat]`; a failed event is tried
/// again after 1 s, doubling up to a minute.
fn durable(subjects: &Subjects, config: &ChatConfig) -> Durable {
    Durable {
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_deliver: Some(config.max_deliver),
        backoff: Backoff { first: Duration::from_secs(1), max: Duration::from_secs(60) },
        concurrency: CONCURRENCY,
        ..Durable::new(subjects.events_stream(), durable::CHAT_TICKET_EVENTS, subjects.event("tickets", ">"))
    }
}

impl Replies {
    /// Creates (or finds) the durable consumer, so a missing stream fails the start.
    pub async fn bind(chat: Arc<Chat>) -> anyhow::Result<Self> {
        let consumer = Consumer::bind(&chat.nats, durable(&chat.nats.subjects, &chat.config)).await?;
        Ok(Self { chat, consumer })
    }

    pub async fn run(self, shutdown: CancellationToken) {
        self.consumer.run(TicketEvents { chat: self.chat }, shutdown).await;
    }
}

struct TicketEvents {
    chat: Arc<Chat>,
}

impl Handler for TicketEvents {
    type Message = Event;

    fn decode(&self, message: &Message) -> Result<Event, Failure> {
        Event::decode(message.payload.as_ref()).map_err(|e| Failure::poison(format!("not an event: {e}")))
    }

    fn order_keys(&self, event: &Event) -> Vec<String> {
        let ticket = match &event.payload {
            Some(Payload::TicketCreated(created)) => &created.ticket_id,
            Some(Payload::TicketUpdated(updated)) => &updated.ticket_id,
            Some(Payload::MessageAdded(added)) => &added.ticket_id,
            _ => return Vec::new(),
        };
        vec![ticket.clone()]
    }

    async fn handle(&self, event: Event) -> Handled {
        let event_id = parse_id(&event.id)?;
        match event.payload {
            Some(Payload::TicketCreated(created)) if created.channel == Channel::Chat as i32 => self.ticket_created(event_id, created).await,
            Some(Payload::MessageAdded(added)) if is_reply_to_post(&added) => self.reply(added).await,
            Some(Payload::TicketUpdated(updated)) => self.ticket_updated(event_id, updated).await,
            _ => Ok(()),
        }
    }
}

/// A public, non-automatic reply that did not come in from Discord itself.
fn is_reply_to_post(added: &MessageAdded) -> bool {
    let from_discord = added.channel == Channel::Chat as i32 && !added.inbound_external_id.is_empty();
    added.kind == MessageKind::Reply as i32 && !added.automatic && !from_discord
}

impl TicketEvents {
    fn peers(&self) -> Peers<'_> {
        Peers { chat: &self.chat }
    }

    async fn ticket_created(&self, event_id: Uuid, created: TicketCreated) -> Handled {
        let ticket = parse_id(&created.ticket_id)?;
        if created.inbound_external_id.is_empty() {
            // Opened on Discord by a slash command, not by a message: no conversation to welcome.
            return Ok(());
        }
        let root: u64 = created
            .inbound_external_id
            .parse()
            .map_err(|_| Failure::poison(format!("chat ticket {ticket} names no Discord message: {:?}", created.inbound_external_id)))?;
        let Some(conversation) = self.chat.store.attach_ticket(root, ticket, created.number).await? else {
            return Err(Failure::retry(format!("the conversation of Discord message {root} is not stored yet")));
        };
        let channel = where_to_post(&conversation)?;
        if conversation.state == ConversationState::Gone {
            return Ok(());
        }
        let welcome = Post {
            source: event_id,
            ticket,
            channel,
            text: lines::welcome(created.number),
            files: Vec::new(),
            components: vec![CreateActionRow::Buttons(vec![commands::close_button(ticket)])],
        };
        let posted = post(&self.chat, welcome).await?;
        self.settle(event_id, ticket, &conversation, posted).await?;
        if conversation.kind == ConversationKind::ForumPost && posted == Posted::Done {
            forum_tags::show_ticket(&self.chat, &self.peers(), &conversation, ticket).await?;
        }
        Ok(())
    }

    async fn reply(&self, added: MessageAdded) -> Handled {
        let ticket = parse_id(&added.ticket_id)?;
        let Some(conversation) = self.chat.store.conversation_of_ticket(ticket).await? else {
            return self.without_conversation(ticket).await;
        };
        let message_id = parse_id(&added.message_id)?;
        if conversation.state == ConversationState::Gone {
            return self.note_once(message_id, ticket, lines::CONVERSATION_GONE.to_string()).await;
        }
        let channel = where_to_post(&conversation)?;
        let peers = self.peers();
        let message = peers.message(ticket, &added.message_id).await?;
        let signature = if message.author_kind == AuthorKind::Contact as i32 {
            lines::contact_signature(peers.contact_name(&message.author_id).await?.as_deref(), message.channel)
        } else {
            lines::agent_signature(&self.chat.config.agent_display_format, peers.staff_name(&message.author_id).await?.as_deref())
        };
        let (files, left_out) = self.attachments(ticket, &message).await?;
        let mut text = lines::signed(&signature, &message.text);
        if !left_out.is_empty() {
            text = format!("{text}\n{}", lines::left_out(&left_out));
        }
        let posted = post(&self.chat, Post { source: message_id, ticket, channel, text, files, components: Vec::new() }).await?;
        self.settle(message_id, ticket, &conversation, posted).await
    }

    /// A reply on a ticket chat knows no conversation of: nothing to post — unless it is a chat
    /// ticket whose `TicketCreated` is still being retried (a retried event does not hold back
    /// the later events of its ticket), so the reply waits for it.
    async fn without_conversation(&self, ticket: Uuid) -> Handled {
        if self.peers().ticket(ticket).await?.channel == Channel::Chat as i32 {
            return Err(Failure::retry(format!("chat ticket {ticket} has no conversation yet")));
        }
        Ok(())
    }

    /// The reply's files that fit in one Discord message (downloaded from tickets), and the names
    /// and sizes of those that do not.
    async fn attachments(&self, ticket: Uuid, message: &pb::Message) -> Result<(Vec<CreateAttachment>, Vec<(String, u64)>), Failure> {
        let mut files = Vec::new();
        let mut left_out = Vec::new();
        let mut total = 0u64;
        for attachment in &message.attachments {
            if files.len() < MAX_FILES && total.saturating_add(attachment.size) <= MAX_UPLOAD_BYTES {
                let max = usize::try_from(MAX_UPLOAD_BYTES).unwrap_or(usize::MAX);
                let data = self.peers().download(ticket, &attachment.id, max).await?;
                total = total.saturating_add(attachment.size);
                files.push(CreateAttachment::bytes(data, attachment.filename.clone()));
            } else {
                left_out.push((attachment.filename.clone(), attachment.size));
            }
        }
        Ok((files, left_out))
    }

    async fn ticket_updated(&self, event_id: Uuid, updated: TicketUpdated) -> Handled {
        let changed = |field: &str| updated.changed_fields.iter().any(|f| f == field);
        if !changed("status") && !changed("priority") {
            return Ok(());
        }
        let ticket = parse_id(&updated.ticket_id)?;
        let Some(conversation) = self.chat.store.conversation_of_ticket(ticket).await? else {
            return Ok(());
        };
        if conversation.state == ConversationState::Gone {
            return Ok(());
        }
        let completed = updated.status_kind == StatusKind::Completed as i32;
        if changed("status") && completed && conversation.state == ConversationState::Open {
            // The line first, then the state: a redelivery after a crash between the two finds
            // the conversation still open and the line in the ledger.
            let line = lines::completed(updated.number, conversation.kind == ConversationKind::Dm);
            let closing = Post {
                source: event_id,
                ticket,
                channel: where_to_post(&conversation)?,
                text: line,
                files: Vec::new(),
                components: Vec::new(),
            };
            let posted = post(&self.chat, closing).await?;
            self.settle(event_id, ticket, &conversation, posted).await?;
            if posted != Posted::Done {
                return Ok(());
            }
            self.chat.store.set_state(conversation.id, ConversationState::Closed).await?;
        } else if changed("status") && !completed && conversation.state == ConversationState::Closed {
            self.reopen(&conversation).await?;
        }
        if conversation.kind == ConversationKind::ForumPost {
            forum_tags::show_ticket(&self.chat, &self.peers(), &conversation, ticket).await?;
        }
        Ok(())
    }

    /// A reopened ticket's conversation is open again — unless it is a DM where the user has
    /// started a new conversation since (a DM has one open conversation; replies still reach it).
    async fn reopen(&self, conversation: &Conversation) -> Handled {
        if conversation.kind == ConversationKind::Dm
            && let Some(channel) = conversation.channel_id
            && self.chat.store.open_dm(channel).await?.is_some()
        {
            return Ok(());
        }
        self.chat.store.set_state(conversation.id, ConversationState::Open).await?;
        Ok(())
    }

    /// A refused post as the ticket sees it: a deleted thread or closed DM makes the
    /// conversation gone; every refusal is one internal note.
    async fn settle(&self, source: Uuid, ticket: Uuid, conversation: &Conversation, posted: Posted) -> Handled {
        let Posted::Refused(failure) = posted else {
            return Ok(());
        };
        tracing::warn!(%ticket, ?failure, "Discord refused a post for good; noting it on the ticket");
        if matches!(failure, DiscordFailure::UnknownChannel | DiscordFailure::CannotDm) {
            self.chat.store.set_state(conversation.id, ConversationState::Gone).await?;
        }
        self.note_once(source, ticket, lines::not_posted(failure)).await
    }

    /// The internal note that `source` was not posted, written once however often it is asked.
    async fn note_once(&self, source: Uuid, ticket: Uuid, text: String) -> Handled {
        if self.chat.store.record_refused(source, ticket, &text).await? {
            return Ok(());
        }
        self.peers().add_note(ticket, text).await?;
        self.chat.store.refusal_noted(source).await?;
        Ok(())
    }
}

/// The channel a conversation continues in; a thread not created yet is a retry.
fn where_to_post(conversation: &Conversation) -> Result<u64, Failure> {
    conversation
        .channel_id
        .ok_or_else(|| Failure::retry(format!("conversation {} has no channel yet (its thread is being created)", conversation.id)))
}

fn parse_id(raw: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(raw).map_err(|_| Failure::poison(format!("bad id {raw:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(kind: MessageKind, channel: Channel, inbound: &str) -> MessageAdded {
        MessageAdded { kind: kind as i32, channel: channel as i32, inbound_external_id: inbound.into(), ..Default::default() }
    }

    #[test]
    fn only_public_replies_that_did_not_come_from_discord_are_posted() {
        assert!(is_reply_to_post(&added(MessageKind::Reply, Channel::Api, "")));
        assert!(is_reply_to_post(&added(MessageKind::Reply, Channel::Email, "<m@x>")), "a contact's mail reply");
        assert!(!is_reply_to_post(&added(MessageKind::InternalNote, Channel::Api, "")));
        assert!(!is_reply_to_post(&added(MessageKind::System, Channel::Api, "")));
        assert!(!is_reply_to_post(&added(MessageKind::Reply, Channel::Chat, "1234")), "it is on Discord already");
        assert!(!is_reply_to_post(&MessageAdded { automatic: true, ..added(MessageKind::Reply, Channel::Email, "<a@x>") }));
    }
}
