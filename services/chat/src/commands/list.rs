//! `/ticket list`: the contact's own tickets from every channel (Discord, mail, the portal),
//! most recently updated first, as tickets shows them to her — at most [`SHOWN`], with a link to
//! the portal's My Tickets for the rest.

use helpdesk_proto::tickets::v1::{ListTicketsRequest, Queue, Scope, SortField, Ticket};
use serenity::model::user::User;

use super::{
    contact::acting_as,
    respond::{escape, went_wrong},
};
use crate::context::Chat;

/// Tickets shown in the answer.
const SHOWN: u32 = 10;
/// Characters of a subject shown in a line.
const SUBJECT_CHARS: usize = 80;

pub async fn list(chat: &Chat, user: &User) -> String {
    answer(chat, user).await.unwrap_or_else(|answer| answer)
}

async fn answer(chat: &Chat, user: &User) -> Result<String, String> {
    let contact = acting_as(chat, user).await?;
    let request = ListTicketsRequest {
        queue: Queue::All as i32,
        scope: Scope::Own as i32,
        sort: SortField::Updated as i32,
        ascending: false,
        page_size: SHOWN,
        ..Default::default()
    };
    let page = chat
        .tickets
        .clone()
        .list_tickets(contact.request(request).map_err(|error| went_wrong("a tickets request", error))?)
        .await
        .map_err(|error| went_wrong("listing the contact's tickets", error))?
        .into_inner();
    let my_tickets = format!("{}/tickets", chat.config.portal_url.trim_end_matches('/'));
    if page.tickets.is_empty() {
        return Ok("You have no tickets yet. Open one with `/ticket new`, or just write to me.".into());
    }
    let mut lines: Vec<String> = vec!["Your tickets:".into()];
    lines.extend(page.tickets.iter().map(line));
    if page.next_page_token.is_empty() {
        lines.push(format!("Also in My Tickets: <{my_tickets}>"));
    } else {
        lines.push(format!("More in My Tickets: <{my_tickets}>"));
    }
    Ok(lines.join("\n"))
}

/// `• #1001 Printer on fire — Open, updated 3 hours ago` (the time in Discord's own
/// relative-time markup, shown in her time zone).
fn line(ticket: &Ticket) -> String {
    let subject: String = ticket.subject.chars().take(SUBJECT_CHARS).collect();
    let status = ticket.status.as_ref().map_or("", |status| status.name.as_str());
    let updated = ticket.updated_at.as_ref().map(|at| format!(", updated <t:{}:R>", at.seconds)).unwrap_or_default();
    format!("• **#{}** {} — {status}{updated}", ticket.number, escape(&subject))
}
