//! The ticket a command is about: the one its button names, or else the ticket of the thread,
//! forum post or DM it is used in (chat's own conversations; the ticket is known once tickets'
//! TicketCreated named it) — read as the contact, so only her own.

use helpdesk_proto::tickets::v1::{GetTicketRequest, Ticket, get_ticket_request::Key};
use serenity::model::id::ChannelId;
use tonic::Code;
use uuid::Uuid;

use super::{contact::ActingContact, respond::went_wrong};
use crate::context::Chat;

/// Told when `/ticket status` or `/ticket close` is used outside a ticket's conversation.
pub const NOT_A_TICKET_CONVERSATION: &str =
    "This is not a ticket's conversation. Use it in your ticket's thread or in our DM, or see all your tickets with `/ticket list`.";

/// Told when the ticket is not the user's (also a stranger clicking a ticket's Close button).
const NOT_HERS: &str = "This is not your ticket, so I cannot show or change it. `/ticket list` shows yours.";

/// Told while the conversation's ticket is being opened.
const OPENING: &str = "Your ticket is still being opened. Please try again in a moment.";

/// The ticket of the conversation in `channel`; `Err` is the answer to give instead.
pub async fn ticket_here(chat: &Chat, channel: ChannelId) -> Result<Uuid, String> {
    let looked_up = async {
        match chat.store.thread_conversation(channel.get()).await? {
            Some(conversation) => Ok(Some(conversation)),
            None => chat.store.open_dm(channel.get()).await,
        }
    };
    match looked_up.await {
        Ok(Some(conversation)) => conversation.ticket_id.ok_or_else(|| OPENING.to_string()),
        Ok(None) => Err(NOT_A_TICKET_CONVERSATION.to_string()),
        Err(error) => Err(went_wrong("looking up the channel's conversation", error)),
    }
}

/// The ticket as the contact may see it; `Err` is the answer to give instead. Tickets answers
/// NOT_FOUND for a ticket that is not hers (nor her group's), as for one that does not exist.
pub async fn her_ticket(chat: &Chat, contact: &ActingContact, ticket: Uuid) -> Result<Ticket, String> {
    let request = GetTicketRequest { key: Some(Key::Id(ticket.to_string())) };
    let request = contact.request(request).map_err(|error| went_wrong("a ticket request", error))?;
    match chat.tickets.clone().get_ticket(request).await {
        Ok(found) => Ok(found.into_inner()),
        Err(status) if status.code() == Code::NotFound => Err(NOT_HERS.to_string()),
        Err(status) => Err(went_wrong("reading a ticket for a contact", status)),
    }
}
