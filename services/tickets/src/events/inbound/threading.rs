//! Which ticket an inbound mail belongs to, by DESIGN.md §3.1's rules in order (the names recorded
//! are in `domain::threading`):
//!
//! 1. a Message-ID we know, taken in the channel's order of preference — In-Reply-To first, then
//!    the References newest to oldest — so the mail answered directly wins over older history
//!    that may name another ticket: a mail we stored, or one of ours (its Message-ID begins with
//!    the ticket's signed reply token);
//! 2. a signed reply token (the plus-address);
//! 3. a stored mail that names this one among its references: the reply arrived before its parent
//!    (clock skew, delivery order), and the parent joins the reply's ticket. Like rule 1 this
//!    trusts a Message-ID as knowledge: naming one before it reached us means having received
//!    that mail, i.e. being in its conversation;
//! 4. a ticket number in the subject, only from that ticket's contact or group member (and never
//!    for the shared "unknown sender", whose tickets are strangers').
//!
//! A chat message continues the conversation its channel names: chat puts the Discord message
//! that opened the conversation in `thread_refs` (it owns the conversation ↔ ticket link, and
//! tickets finds the ticket that message made), or its signed reply token once it knows the
//! ticket. Chat's refs are trusted as chat's knowledge, like mail's Message-IDs; no subject
//! numbers or child references there.
//!
//! Delivery reports use only [`Intake::our_ticket`]: a bounce is about mail *we* sent, so
//! a customer's own Message-IDs quoted in it never count.

use helpdesk_kit::{auth::reply_token, consumer::Failure};
use uuid::Uuid;

use super::{identity_client::SenderContact, intake::{Incoming, Intake}};
use crate::domain::{
    Channel,
    inbound::normalized_id,
    threading::{BY_CHILD_REFERENCE, BY_CONVERSATION, BY_MESSAGE_ID, BY_REPLY_TOKEN, BY_SUBJECT_NUMBER, ticket_number_in_subject},
};

impl Intake {
    /// The ticket and the rule that put the mail there; `None` means a new ticket.
    pub(super) async fn thread(
        &self,
        incoming: &Incoming,
        external_id: &str,
        reply_token: &str,
        sender: &SenderContact,
    ) -> Result<Option<(Uuid, &'static str)>, Failure> {
        if let Some(ticket) = self.ticket_for_message_ids(&incoming.thread_refs).await? {
            return Ok(Some((ticket, BY_MESSAGE_ID)));
        }
        if let Some(ticket) = self.ticket_of_token(reply_token).await? {
            return Ok(Some((ticket, BY_REPLY_TOKEN)));
        }
        if let Some(ticket) = self.store.ticket_of_child(&normalized_id(external_id)).await? {
            return Ok(Some((ticket, BY_CHILD_REFERENCE)));
        }
        if sender.known
            && let Some(number) = ticket_number_in_subject(incoming.subject.as_str())
            && let Some(ticket) = self.store.ticket_by_number_for_sender(number, sender.id).await?
        {
            return Ok(Some((ticket, BY_SUBJECT_NUMBER)));
        }
        Ok(None)
    }

    /// The ticket a chat message continues; `None` opens a ticket.
    pub(super) async fn chat_thread(&self, incoming: &Incoming, reply_token: &str) -> Result<Option<(Uuid, &'static str)>, Failure> {
        if let Some((_, ticket)) = self.store.first_known_reference(Channel::Chat, &incoming.thread_refs).await? {
            return Ok(Some((ticket, BY_CONVERSATION)));
        }
        Ok(self.ticket_of_token(reply_token).await?.map(|ticket| (ticket, BY_REPLY_TOKEN)))
    }

    /// The ticket of the first of these (normalized) Message-IDs, in order, that is a mail we
    /// stored or one of ours.
    async fn ticket_for_message_ids(&self, ids: &[String]) -> Result<Option<Uuid>, Failure> {
        let stored = self.store.first_known_reference(Channel::Email, ids).await?;
        for (position, id) in ids.iter().enumerate() {
            if let Some((found, ticket)) = stored
                && found <= position
            {
                return Ok(Some(ticket));
            }
            if let Some(ticket) = self.ticket_of_our_message_id(id).await? {
                return Ok(Some(ticket));
            }
        }
        Ok(stored.map(|(_, ticket)| ticket))
    }

    /// The ticket a delivery report is about: the first of these Message-IDs that is one of ours,
    /// else the reply token it came back to. Mail we merely received never matches.
    pub(super) async fn our_ticket(&self, ids: &[String], reply_token: &str) -> Result<Option<Uuid>, Failure> {
        for id in ids {
            if let Some(ticket) = self.ticket_of_our_message_id(id).await? {
                return Ok(Some(ticket));
            }
        }
        self.ticket_of_token(reply_token).await
    }

    /// Our Message-IDs are `<reply-token.event-id@domain>`.
    async fn ticket_of_our_message_id(&self, id: &str) -> Result<Option<Uuid>, Failure> {
        self.ticket_of_token(id.split(['.', '@']).next().unwrap_or_default()).await
    }

    async fn ticket_of_token(&self, token: &str) -> Result<Option<Uuid>, Failure> {
        match reply_token::verify(&self.reply_secret, token) {
            Some(ticket) if self.store.ticket_exists(ticket).await? => Ok(Some(ticket)),
            _ => Ok(None),
        }
    }
}
