//! `/api/v1/tickets`: file, list and read tickets as the signed-in contact.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use helpdesk_proto::tickets::v1::{self as pb, ticket_service_client::TicketServiceClient};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use crate::{
    api::{as_caller, rfc3339},
    auth::Bearer,
    error::ApiError,
};

#[derive(Deserialize)]
pub struct CreateTicket {
    subject: String,
    message: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// `all` (default), `pending` or `completed`.
    queue: Option<String>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize)]
pub struct TicketJson {
    id: String,
    number: i64,
    subject: String,
    status: String,
    status_kind: &'static str,
    channel: &'static str,
    contact_id: String,
    message_count: u32,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Serialize)]
pub struct TicketPage {
    tickets: Vec<TicketJson>,
    next_page_token: Option<String>,
}

fn ticket_json(ticket: pb::Ticket) -> TicketJson {
    let status = ticket.status.unwrap_or_default();
    TicketJson {
        status_kind: match pb::StatusKind::try_from(status.kind) {
            Ok(pb::StatusKind::Completed) => "completed",
            _ => "pending",
        },
        channel: match pb::Channel::try_from(ticket.channel) {
            Ok(pb::Channel::Portal) => "portal",
            Ok(pb::Channel::Email) => "email",
            Ok(pb::Channel::Chat) => "chat",
            _ => "api",
        },
        created_at: rfc3339(ticket.created_at.as_ref()),
        updated_at: rfc3339(ticket.updated_at.as_ref()),
        id: ticket.id,
        number: ticket.number,
        subject: ticket.subject,
        status: status.name,
        contact_id: ticket.contact_id,
        message_count: ticket.message_count,
    }
}

pub async fn create(
    State(mut tickets): State<TicketServiceClient<Channel>>,
    Bearer(token): Bearer,
    Json(body): Json<CreateTicket>,
) -> Result<(StatusCode, Json<TicketJson>), ApiError> {
    let request = pb::CreateTicketRequest {
        subject: body.subject,
        text: body.message,
        ..Default::default()
    };
    let ticket = tickets.create_ticket(as_caller(request, Some(&token))?).await?.into_inner();
    Ok((StatusCode::CREATED, Json(ticket_json(ticket))))
}

pub async fn list(
    State(mut tickets): State<TicketServiceClient<Channel>>,
    Bearer(token): Bearer,
    Query(query): Query<ListQuery>,
) -> Result<Json<TicketPage>, ApiError> {
    let queue = match query.queue.as_deref() {
        None | Some("all") => pb::Queue::All,
        Some("pending") => pb::Queue::Pending,
        Some("completed") => pb::Queue::Completed,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "queue: must be all, pending or completed",
            ));
        }
    };
    let request = pb::ListTicketsRequest {
        queue: queue as i32,
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
        ..Default::default()
    };
    let page = tickets.list_tickets(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(TicketPage {
        tickets: page.tickets.into_iter().map(ticket_json).collect(),
        next_page_token: Some(page.next_page_token).filter(|t| !t.is_empty()),
    }))
}

pub async fn get(
    State(mut tickets): State<TicketServiceClient<Channel>>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<TicketJson>, ApiError> {
    let request = pb::GetTicketRequest {
        key: Some(pb::get_ticket_request::Key::Id(id)),
    };
    let ticket = tickets.get_ticket(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(ticket_json(ticket)))
}
