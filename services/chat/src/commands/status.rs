//! `/ticket status` in a ticket's thread or DM: its status, priority and last update, as the
//! contact sees them.

use helpdesk_proto::tickets::v1::Ticket;
use serenity::model::{id::ChannelId, user::User};

use super::{
    contact::acting_as,
    conversation::{her_ticket, ticket_here},
    respond::escape,
};
use crate::context::Chat;

pub async fn status_here(chat: &Chat, user: &User, channel: ChannelId) -> String {
    answer(chat, user, channel).await.unwrap_or_else(|answer| answer)
}

async fn answer(chat: &Chat, user: &User, channel: ChannelId) -> Result<String, String> {
    let ticket = ticket_here(chat, channel).await?;
    let contact = acting_as(chat, user).await?;
    Ok(describe(&her_ticket(chat, &contact, ticket).await?))
}

/// `**#1001** Printer on fire` and `Status: Open · Priority: Normal · updated 3 minutes ago`.
fn describe(ticket: &Ticket) -> String {
    let status = ticket.status.as_ref().map_or("unknown", |status| status.name.as_str());
    let priority = ticket.priority.as_ref().map_or("none", |priority| priority.name.as_str());
    let updated = ticket.updated_at.as_ref().map(|at| format!(" · updated <t:{}:R>", at.seconds)).unwrap_or_default();
    format!("**#{}** {}\nStatus: {status} · Priority: {priority}{updated}", ticket.number, escape(&ticket.subject))
}
