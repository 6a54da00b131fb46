//! `TicketService`: create, read and list tickets. A contact files and sees only their own tickets
//! (anything else answers NOT_FOUND); agents, admins and services see all and may file on a
//! contact's behalf.

use helpdesk_kit::auth::{Caller, caller};
use helpdesk_proto::tickets::v1::{self as pb, ticket_service_server::TicketService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{Body, Channel, Cursor, QueueFilter, Subject, Ticket, TicketError, page_size},
    grpc::{db_error, ticket_to_pb},
    store::{Author, NewTicket, Store, Visibility},
};

pub struct TicketsGrpc {
    store: Store,
}

impl TicketsGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// What a caller may see; anonymous callers see nothing and must authenticate.
fn visibility(caller: &Caller) -> Result<Visibility, TicketError> {
    match caller {
        Caller::Anonymous => Err(TicketError::Unauthenticated),
        Caller::Contact { id } => Ok(Visibility::OwnedBy(*id)),
        Caller::Staff { .. } | Caller::Service { .. } => Ok(Visibility::Everything),
    }
}

fn visible(visibility: Visibility, ticket: &Ticket) -> bool {
    match visibility {
        Visibility::OwnedBy(owner) => ticket.contact_id == owner,
        Visibility::Everything => true,
    }
}

fn later(issue: &str) -> Status {
    Status::unimplemented(format!("arrives with {issue}"))
}

#[tonic::async_trait]
impl TicketService for TicketsGrpc {
    #[tracing::instrument(skip_all)]
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let (contact_id, author, channel) = match &caller {
            Caller::Anonymous => return Err(TicketError::Unauthenticated.into()),
            Caller::Contact { id } => {
                if !request.contact_id.is_empty() && request.contact_id != id.to_string() {
                    return Err(TicketError::PermissionDenied.into());
                }
                (*id, Author::Contact(*id), Channel::Portal)
            }
            Caller::Staff { id, .. } => (on_behalf_of(&request.contact_id)?, Author::Agent(*id), requested_channel(request.channel)),
            Caller::Service { .. } => (on_behalf_of(&request.contact_id)?, Author::System, requested_channel(request.channel)),
        };
        let subject = Subject::parse(&request.subject)?;
        let body = Body::parse(&request.text)?;
        let ticket = self
            .store
            .create_ticket(NewTicket {
                contact_id,
                subject: &subject,
                body: &body,
                html: "",
                channel,
                author,
                inbound: None,
                automatic: false,
            })
            .await
            .map_err(db_error)?
            .ok_or_else(|| helpdesk_kit::error::internal("a new ticket without an inbound key was not created"))?;
        tracing::info!(ticket = %ticket.id, number = ticket.number, "ticket created");
        Ok(Response::new(ticket_to_pb(ticket)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let visibility = visibility(&caller(&request))?;
        let ticket = match request.into_inner().key {
            Some(pb::get_ticket_request::Key::Id(id)) => {
                let id = helpdesk_kit::error::parse_id(&id, "ticket")?;
                self.store.ticket_by_id(id).await
            }
            Some(pb::get_ticket_request::Key::Number(number)) => self.store.ticket_by_number(number).await,
            None => return Err(TicketError::Invalid { field: "key", reason: "give id or number".into() }.into()),
        }
        .map_err(db_error)?
        .filter(|ticket| visible(visibility, ticket))
        .ok_or(TicketError::NotFound)?;
        Ok(Response::new(ticket_to_pb(ticket)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let visibility = visibility(&caller(&request))?;
        let request = request.into_inner();
        let queue = match pb::Queue::try_from(request.queue).unwrap_or(pb::Queue::Unspecified) {
            pb::Queue::Unspecified | pb::Queue::All => QueueFilter::All,
            pb::Queue::Pending => QueueFilter::Pending,
            pb::Queue::Completed => QueueFilter::Completed,
            pb::Queue::Mine | pb::Queue::Unassigned => return Err(later("the tickets issue (#4)")),
        };
        let cursor = match request.page_token.as_str() {
            "" => None,
            token => Some(Cursor::decode(token)?),
        };
        let limit = page_size(request.page_size);
        // One extra row tells whether another page follows.
        let mut tickets = self
            .store
            .list(visibility, queue, cursor, limit + 1)
            .await
            .map_err(db_error)?;
        let next_page_token = if tickets.len() > limit as usize {
            tickets.truncate(limit as usize);
            tickets
                .last()
                .map(|t| Cursor { created_at: t.created_at, id: t.id }.encode())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: tickets.into_iter().map(ticket_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn count_tickets(
        &self,
        _request: Request<pb::CountTicketsRequest>,
    ) -> Result<Response<pb::CountTicketsResponse>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn list_messages(
        &self,
        _request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn reply(&self, _request: Request<pb::ReplyRequest>) -> Result<Response<pb::Message>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn add_note(&self, _request: Request<pb::AddNoteRequest>) -> Result<Response<pb::Message>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn update_ticket(&self, _request: Request<pb::UpdateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn complete_ticket(
        &self,
        _request: Request<pb::CompleteTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn log_time(&self, _request: Request<pb::LogTimeRequest>) -> Result<Response<pb::TimeEntry>, Status> {
        Err(later("the tickets issue (#4)"))
    }

    async fn get_attachment(
        &self,
        _request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<pb::AttachmentRef>, Status> {
        Err(later("the tickets issue (#4)"))
    }
}

/// Staff and services file for a contact they name.
fn on_behalf_of(contact_id: &str) -> Result<Uuid, TicketError> {
    Uuid::parse_str(contact_id).map_err(|_| TicketError::Invalid {
        field: "contact_id",
        reason: "agents and services must name the contact the ticket is for".into(),
    })
}

fn requested_channel(raw: i32) -> Channel {
    Channel::from_i32(raw).unwrap_or(Channel::Api)
}
