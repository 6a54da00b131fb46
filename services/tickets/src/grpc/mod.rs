//! Tickets' gRPC surface: handlers, the one mapping from [`TicketError`] to `Status`, and domain →
//! proto conversions.

mod tickets;

pub use tickets::TicketsGrpc;

use helpdesk_kit::events::timestamp;
use helpdesk_proto::tickets::v1 as pb;
use tonic::Status;

use crate::domain::{Ticket, TicketError, TicketStatus};

impl From<TicketError> for Status {
    fn from(error: TicketError) -> Self {
        match error {
            TicketError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            TicketError::NotFound => helpdesk_kit::error::not_found("ticket"),
            TicketError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            TicketError::PermissionDenied => helpdesk_kit::error::permission_denied(),
        }
    }
}

fn db_error(error: sqlx::Error) -> Status {
    helpdesk_kit::error::internal(error)
}

fn status_to_pb(status: TicketStatus) -> pb::Status {
    match status {
        TicketStatus::Open => pb::Status {
            id: "open".into(),
            name: "Open".into(),
            kind: pb::StatusKind::Pending as i32,
            position: 0,
        },
        TicketStatus::Completed => pb::Status {
            id: "completed".into(),
            name: "Completed".into(),
            kind: pb::StatusKind::Completed as i32,
            position: 1,
        },
    }
}

fn ticket_to_pb(ticket: Ticket) -> pb::Ticket {
    pb::Ticket {
        id: ticket.id.to_string(),
        number: ticket.number,
        subject: ticket.subject,
        status: Some(status_to_pb(ticket.status)),
        channel: i32::from(ticket.channel),
        contact_id: ticket.contact_id.to_string(),
        created_at: Some(timestamp(ticket.created_at)),
        updated_at: Some(timestamp(ticket.updated_at)),
        message_count: u32::try_from(ticket.message_count).unwrap_or(u32::MAX),
        ..Default::default()
    }
}
