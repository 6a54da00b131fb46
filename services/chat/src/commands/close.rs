//! `/ticket close` in a ticket's thread or DM, and the Close button (`helpdesk:close:<ticket
//! id>`, stateless): the contact completes her ticket. Tickets decides: the ticket must be hers
//! (NOT_FOUND otherwise, so a stranger's click is refused) and the portal setting must let
//! contacts close tickets (FAILED_PRECONDITION otherwise).

use helpdesk_proto::tickets::v1::{CompleteTicketRequest, StatusKind};
use serenity::model::{id::ChannelId, user::User};
use tonic::Code;
use uuid::Uuid;

use super::{
    contact::acting_as,
    conversation::{her_ticket, ticket_here},
    respond::went_wrong,
};
use crate::context::Chat;

/// Told when the portal setting keeps contacts from closing tickets.
const CLOSING_IS_OFF: &str = "Tickets cannot be closed from here: our team closes them once they are done. Write in the ticket if it can be closed.";

/// `/ticket close`: the ticket of the conversation it is used in.
pub async fn close_here(chat: &Chat, user: &User, channel: ChannelId) -> String {
    match ticket_here(chat, channel).await {
        Ok(ticket) => close(chat, user, ticket).await,
        Err(answer) => answer,
    }
}

/// Completes `ticket` as the user's contact.
pub async fn close(chat: &Chat, user: &User, ticket: Uuid) -> String {
    answer(chat, user, ticket).await.unwrap_or_else(|answer| answer)
}

async fn answer(chat: &Chat, user: &User, ticket: Uuid) -> Result<String, String> {
    let contact = acting_as(chat, user).await?;
    let current = her_ticket(chat, &contact, ticket).await?;
    if current.status.as_ref().is_some_and(|status| status.kind == StatusKind::Completed as i32) {
        return Ok(format!("Ticket #{} is completed already.", current.number));
    }
    let request = contact
        .request(CompleteTicketRequest { ticket_id: ticket.to_string() })
        .map_err(|error| went_wrong("a ticket request", error))?;
    match chat.tickets.clone().complete_ticket(request).await {
        Ok(completed) => Ok(format!("Ticket #{} is completed. Thank you! Write in its conversation if you need us again.", completed.into_inner().number)),
        Err(status) if status.code() == Code::FailedPrecondition => Err(CLOSING_IS_OFF.into()),
        Err(status) => Err(went_wrong("completing a ticket for a contact", status)),
    }
}
