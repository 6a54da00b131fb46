//! What the reply poster asks tickets and identity, as the service `chat` (its service token):
//! a ticket, one of its messages, an attachment's bytes, who wrote a message, statuses and
//! priorities by name, and the internal note saying a post did not reach Discord. A peer's answer
//! becomes the consumer's `Failure` here, once: what the event names that is not there (or not
//! readable) will not be later — poison; anything else may pass — retry.

use helpdesk_kit::{auth::bearer, consumer::Failure};
use helpdesk_proto::{
    identity::v1::{GetContactRequest, GetStaffRequest},
    tickets::v1::{self as pb, get_ticket_request::Key},
};
use uuid::Uuid;

use crate::context::Chat;

pub struct Peers<'a> {
    pub chat: &'a Chat,
}

impl Peers<'_> {
    async fn token(&self) -> Result<String, Failure> {
        self.chat.tokens.token().await.map_err(|e| Failure::retry(format!("chat's service token from identity: {e:#}")))
    }

    async fn request<T>(&self, message: T) -> Result<tonic::Request<T>, Failure> {
        bearer(message, &self.token().await?).map_err(grpc)
    }

    pub async fn ticket(&self, ticket: Uuid) -> Result<pb::Ticket, Failure> {
        let request = self.request(pb::GetTicketRequest { key: Some(Key::Id(ticket.to_string())) }).await?;
        Ok(self.chat.tickets.clone().get_ticket(request).await.map_err(grpc)?.into_inner())
    }

    /// One message of a ticket; a retry while tickets does not list it yet.
    pub async fn message(&self, ticket: Uuid, message: &str) -> Result<pb::Message, Failure> {
        let token = self.token().await?;
        let messages = helpdesk_kit::pages::all_messages(&mut self.chat.tickets.clone(), &token, &ticket.to_string()).await.map_err(grpc)?;
        messages
            .into_iter()
            .find(|m| m.id == message)
            .ok_or_else(|| Failure::retry(format!("message {message} of ticket {ticket} is not readable yet")))
    }

    /// An attachment's bytes; the answer may be as large as Discord takes in one message.
    pub async fn download(&self, ticket: Uuid, attachment: &str, max_bytes: usize) -> Result<Vec<u8>, Failure> {
        let request = self.request(pb::GetAttachmentRequest { ticket_id: ticket.to_string(), attachment_id: attachment.to_string() }).await?;
        let mut tickets = self.chat.tickets.clone().max_decoding_message_size(max_bytes.saturating_add(64 * 1024));
        Ok(tickets.download_attachment(request).await.map_err(grpc)?.into_inner().data)
    }

    /// A staff member's display name; `None` when identity does not know them (any more).
    pub async fn staff_name(&self, staff: &str) -> Result<Option<String>, Failure> {
        let request = self.request(GetStaffRequest { id: staff.to_string() }).await?;
        name(self.chat.staff.clone().get_staff(request).await.map(|staff| staff.into_inner().name))
    }

    /// A contact's name; `None` when it is empty or the contact is unknown.
    pub async fn contact_name(&self, contact: &str) -> Result<Option<String>, Failure> {
        let request = self.request(GetContactRequest { id: contact.to_string() }).await?;
        name(self.chat.contacts.clone().get_contact(request).await.map(|contact| contact.into_inner().name))
    }

    pub async fn statuses(&self) -> Result<Vec<pb::Status>, Failure> {
        let request = self.request(pb::ListStatusesRequest {}).await?;
        Ok(self.chat.ticket_admin.clone().list_statuses(request).await.map_err(grpc)?.into_inner().statuses)
    }

    pub async fn priorities(&self) -> Result<Vec<pb::Priority>, Failure> {
        let request = self.request(pb::ListPrioritiesRequest {}).await?;
        Ok(self.chat.ticket_admin.clone().list_priorities(request).await.map_err(grpc)?.into_inner().priorities)
    }

    /// An internal note on the ticket, written as the service `chat`.
    pub async fn add_note(&self, ticket: Uuid, text: String) -> Result<(), Failure> {
        let request = self.request(pb::AddNoteRequest { ticket_id: ticket.to_string(), text }).await?;
        self.chat.tickets.clone().add_note(request).await.map_err(grpc)?;
        Ok(())
    }
}

/// A person's name as identity answers it: `None` for an empty name or someone it does not know
/// (a reply is then signed without a name, never held up).
fn name(answer: Result<String, tonic::Status>) -> Result<Option<String>, Failure> {
    match answer {
        Ok(name) => Ok(Some(name).filter(|n| !n.trim().is_empty())),
        Err(status) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument) => Ok(None),
        Err(status) => Err(grpc(status)),
    }
}

/// A peer that cannot find or read what the event names will not later: give up; else retry.
fn grpc(status: tonic::Status) -> Failure {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument => Failure::poison(status.to_string()),
        _ => Failure::retry(status.to_string()),
    }
}
