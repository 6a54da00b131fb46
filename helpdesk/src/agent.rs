//! Agent commands over gRPC: queue views, a ticket with its whole conversation (notes included),
//! reply, note, assign, status / priority / due date / category changes, time entries, and group
//! support time. The CLI calls as the internal service `cli`, so replies it writes are signed as
//! the system.

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient};

use crate::cli::Clients;

#[derive(Clone, Copy, ValueEnum)]
pub enum QueueArg {
    All,
    Pending,
    Completed,
    Unassigned,
}

#[derive(Subcommand)]
pub enum AgentCommand {
    /// A queue of every contact's tickets, newest first.
    Queue {
        #[arg(long, value_enum, default_value = "pending")]
        queue: QueueArg,
        /// Full-text search over subjects and conversations.
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long, default_value_t = 25)]
        limit: u32,
    },
    /// One ticket and its conversation, internal notes included.
    Show { number: i64 },
    /// Reply publicly.
    Reply {
        number: i64,
        #[arg(long)]
        message: String,
    },
    /// Add an internal note (never shown to the contact).
    Note {
        number: i64,
        #[arg(long)]
        message: String,
    },
    /// Change a ticket: assignee (`none` to unassign), status, priority, due date (RFC 3339 or
    /// `none`), category.
    Set {
        number: i64,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        due: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
    /// Log time spent on a ticket; it draws down the contact group's support time.
    LogTime {
        number: i64,
        #[arg(long)]
        minutes: i32,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Grant a contact group support minutes (negative corrects).
    GrantTime {
        group: String,
        #[arg(long, allow_negative_numbers = true)]
        minutes: i64,
        #[arg(long, default_value = "")]
        note: String,
    },
}

pub async fn run(clients: &Clients, command: AgentCommand) -> anyhow::Result<()> {
    let token = clients.service_token().await?;
    let mut tickets = clients.tickets();
    match command {
        AgentCommand::Queue { queue, search, limit } => {
            let queue = match queue {
                QueueArg::All => pb::Queue::All,
                QueueArg::Pending => pb::Queue::Pending,
                QueueArg::Completed => pb::Queue::Completed,
                QueueArg::Unassigned => pb::Queue::Unassigned,
            };
            let request = pb::ListTicketsRequest { queue: queue as i32, query: search, page_size: limit, ..Default::default() };
            for t in tickets.list_tickets(bearer(request, &token)?).await?.into_inner().tickets {
                let status = t.status.map(|s| s.name).unwrap_or_default();
                let priority = t.priority.map(|p| p.name).unwrap_or_default();
                println!("#{}\t{status}\t{priority}\t{}", t.number, t.subject);
            }
        }
        AgentCommand::Show { number } => {
            let ticket = by_number(clients, &token, number).await?;
            let status = ticket.status.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            println!("#{} {}\nstatus: {status}\ncontact: {}", ticket.number, ticket.subject, ticket.contact_id);
            for m in helpdesk_kit::pages::all_messages(&mut tickets, &token, &ticket.id).await? {
                let kind = pb::MessageKind::try_from(m.kind).map(|k| k.as_str_name()).unwrap_or("?");
                println!("--- {} ---\n{}", kind.trim_start_matches("MESSAGE_KIND_").to_lowercase(), m.text);
            }
        }
        AgentCommand::Reply { number, message } => {
            let id = by_number(clients, &token, number).await?.id;
            tickets.reply(bearer(pb::ReplyRequest { ticket_id: id, text: message, ..Default::default() }, &token)?).await?;
            println!("replied on #{number}");
        }
        AgentCommand::Note { number, message } => {
            let id = by_number(clients, &token, number).await?.id;
            tickets.add_note(bearer(pb::AddNoteRequest { ticket_id: id, text: message }, &token)?).await?;
            println!("noted on #{number}");
        }
        AgentCommand::Set { number, assignee, status, priority, due, category } => {
            let id = by_number(clients, &token, number).await?.id;
            let mut request = pb::UpdateTicketRequest {
                ticket_id: id,
                status_id: status,
                priority_id: priority,
                category_id: category,
                assignee_id: assignee.map(|a| if a == "none" { String::new() } else { a }),
                ..Default::default()
            };
            match due.as_deref() {
                None => {}
                Some("none") => request.clear_due_at = true,
                Some(raw) => {
                    let at = chrono::DateTime::parse_from_rfc3339(raw).context("--due expects RFC 3339, e.g. 2026-12-01T17:00:00Z")?;
                    request.due_at = Some(helpdesk_kit::events::timestamp(at.into()));
                }
            }
            let ticket = tickets.update_ticket(bearer(request, &token)?).await?.into_inner();
            let status = ticket.status.map(|s| s.name).unwrap_or_default();
            println!("#{} {status}", ticket.number);
        }
        AgentCommand::LogTime { number, minutes, note } => {
            let id = by_number(clients, &token, number).await?.id;
            tickets.log_time(bearer(pb::LogTimeRequest { ticket_id: id, minutes, note }, &token)?).await?;
            println!("logged {minutes} min on #{number}");
        }
        AgentCommand::GrantTime { group, minutes, note } => {
            let balance = TicketAdminServiceClient::new(clients.tickets_channel())
                .grant_group_time(bearer(pb::GrantGroupTimeRequest { group_id: group, minutes, note }, &token)?)
                .await?
                .into_inner();
            println!("remaining {} min", balance.remaining_minutes);
        }
    }
    Ok(())
}

async fn by_number(clients: &Clients, token: &str, number: i64) -> anyhow::Result<pb::Ticket> {
    let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Number(number)) };
    Ok(clients.tickets().get_ticket(bearer(request, token)?).await?.into_inner())
}
