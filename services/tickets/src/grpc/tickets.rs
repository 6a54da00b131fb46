//! `TicketService`: filing, reading, listing and counting tickets, the conversation, agents'
//! changes, self-close and time entries. Contacts act only on tickets they may see (their own, and
//! their sharing groups'); anything else answers NOT_FOUND. Internal notes never reach a contact.
//! The conversation is keyset-paged on (created_at, id), oldest first; an assignee must be an
//! active staff member (asked of identity through `directory`).

use std::collections::BTreeMap;

use helpdesk_kit::{
    auth::{Caller, caller},
    blob::BlobStore,
};
use helpdesk_proto::tickets::v1::{self as pb, ticket_service_server::TicketService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        Body, Channel, Subject, TicketError,
        attachments::MAX_PER_MESSAGE,
        fields::{FieldValue, validate_values},
        invalid, parse_slug_id,
        query::{Cursor, Sort, page_size},
        time::parse_entry_minutes,
    },
    grpc::{
        Directory, actor_id, attachments, author,
        convert::{list_query, message_to_pb, ticket_to_pb, time_from_pb, uuid_field, values_from_pb},
        require_staff, ticket_id, viewer,
    },
    store::{Author, KIND_NOTE, KIND_REPLY, NewMessage, NewTicket, Store, StoredMessage, TicketChange, Viewer, next_cursor},
};

pub struct TicketsGrpc {
    store: Store,
    blobs: BlobStore,
    attachment_max_bytes: usize,
    directory: Directory,
}

/// A conversation page token: the ticket lists' keyset cursor, on (created_at, id) ascending.
fn message_cursor(message: &StoredMessage) -> String {
    Cursor { sort: Sort::Created, ascending: true, value: message.created_at.timestamp_micros(), id: message.id }.encode()
}

fn after_message(token: &str) -> Result<Option<(chrono::DateTime<chrono::Utc>, Uuid)>, TicketError> {
    if token.is_empty() {
        return Ok(None);
    }
    let cursor = Cursor::decode(token, Sort::Created, true)?;
    let at = chrono::DateTime::from_timestamp_micros(cursor.value)
        .ok_or_else(|| invalid("page_token", "is not a token this service issued"))?;
    Ok(Some((at, cursor.id)))
}

impl TicketsGrpc {
    pub fn new(store: Store, blobs: BlobStore, attachment_max_bytes: usize, directory: Directory) -> Self {
        Self { store, blobs, attachment_max_bytes, directory }
    }

    /// Messages as the wire shows them, each with its attachments.
    /// The messages with their attachments; `with_raw` (staff and services) adds each mail's raw
    /// original, which carries our servers' headers.
    async fn with_attachments(&self, messages: Vec<StoredMessage>, with_raw: bool) -> Result<Vec<pb::Message>, Status> {
        let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
        let mut files = self.store.attachments_of(&ids).await?;
        let mut raws = if with_raw { self.store.raw_originals_of(&ids).await? } else { Vec::new() };
        Ok(messages
            .into_iter()
            .map(|m| {
                let id = m.id;
                let mut message = message_to_pb(m);
                message.attachments = files
                    .extract_if(.., |a| a.message_id == Some(id))
                    .map(attachments::attachment_to_pb)
                    .collect();
                message.raw = raws.extract_if(.., |a| a.message_id == Some(id)).map(attachments::attachment_to_pb).next();
                message
            })
            .collect())
    }

    /// An assignee change names an active agent or admin, or clears the assignee.
    async fn checked_assignee(&self, raw: &str) -> Result<Option<Uuid>, Status> {
        let assignee = uuid_field("assignee_id", raw)?;
        if let Some(id) = assignee
            && !self.directory.is_active_staff(id).await?
        {
            return Err(invalid("assignee_id", "is not an active agent or admin").into());
        }
        Ok(assignee)
    }

    /// The ticket if the caller may see it, else NOT_FOUND.
    async fn visible(&self, caller: &Caller, id: Uuid) -> Result<crate::domain::Ticket, Status> {
        let viewer = viewer(caller)?;
        Ok(self.store.ticket(id, viewer).await?.ok_or(TicketError::NotFound)?)
    }

    /// Custom-field values checked against the category (or refused when there is none).
    async fn checked_fields(
        &self,
        category: Option<Uuid>,
        values: BTreeMap<String, FieldValue>,
    ) -> Result<BTreeMap<String, FieldValue>, Status> {
        match category {
            None if values.is_empty() => Ok(values),
            None => Err(invalid("custom_fields", "need a category").into()),
            Some(id) => {
                let category = self
                    .store
                    .category(id)
                    .await?
                    .filter(|c| c.active)
                    .ok_or_else(|| invalid("category_id", "is not an active category"))?;
                Ok(validate_values(&category.fields, values)?)
            }
        }
    }
}

/// Text of a message, with its HTML sanitized and the original kept.
fn body_and_html(text: &str, html: &str) -> Result<(Body, String), TicketError> {
    let body = Body::parse(text)?;
    if html.len() > crate::domain::MAX_BODY_BYTES {
        return Err(invalid("html", "is too large"));
    }
    Ok((body, if html.is_empty() { String::new() } else { ammonia::clean(html) }))
}

fn attachment_ids(refs: &[pb::AttachmentRef]) -> Result<Vec<Uuid>, TicketError> {
    if refs.len() > MAX_PER_MESSAGE {
        return Err(invalid("attachments", format!("at most {MAX_PER_MESSAGE} per message")));
    }
    refs.iter()
        .map(|a| Uuid::parse_str(&a.id).map_err(|_| invalid("attachments", "names an unknown attachment")))
        .collect()
}

#[tonic::async_trait]
impl TicketService for TicketsGrpc {
    #[tracing::instrument(skip_all)]
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let (contact_id, channel) = match &caller {
            Caller::Anonymous => return Err(TicketError::Unauthenticated.into()),
            Caller::Contact { id } => {
                if !request.contact_id.is_empty() && request.contact_id != id.to_string() {
                    return Err(TicketError::PermissionDenied.into());
                }
                (*id, Channel::Portal)
            }
            Caller::Staff { .. } | Caller::Service { .. } => (
                uuid_field("contact_id", &request.contact_id)?
                    .ok_or_else(|| invalid("contact_id", "agents and services must name the contact"))?,
                Channel::from_i32(request.channel).unwrap_or(Channel::Api),
            ),
        };
        // Only a service (the gateway, for a guest writing in an existing contact's name) holds a
        // ticket; a contact or an agent filing one has nothing to confirm.
        let held = request.hold_for_confirmation;
        if held && !matches!(caller, Caller::Service { .. }) {
            return Err(TicketError::PermissionDenied.into());
        }
        let subject = Subject::parse(&request.subject)?;
        let (body, html) = body_and_html(&request.text, &request.html)?;
        let category_id = uuid_field("category_id", &request.category_id)?;
        let custom_fields = self.checked_fields(category_id, values_from_pb(request.custom_fields)).await?;
        let priority = match request.priority_id.as_str() {
            "" => None,
            raw => {
                let id = parse_slug_id("priority_id", raw)?;
                if !self.store.priority_exists(&id).await? {
                    return Err(invalid("priority_id", "is not a priority").into());
                }
                Some(id)
            }
        };
        let attachments = attachment_ids(&request.attachments)?;
        let new = NewTicket {
            contact_id,
            subject: &subject,
            body: &body,
            html: &html,
            original: &request.html,
            channel,
            // A service files a contact's own words (a guest's portal form, a channel).
            author: match caller {
                Caller::Service { .. } => Author::Contact(contact_id),
                _ => author(&caller),
            },
            priority: priority.as_deref(),
            category_id,
            custom_fields: &custom_fields,
            due_at: time_from_pb("due_at", request.due_at)?,
            attachments: &attachments,
            files: &[],
            inbound: None,
            automatic: false,
            thread_rule: "",
        };
        let ticket = self
            .store
            .file_ticket(new, held)
            .await?
            .ok_or_else(|| helpdesk_kit::error::internal("a ticket without an inbound key was not created"))?;
        tracing::info!(ticket = %ticket.id, number = ticket.number, held, "ticket created");
        Ok(Response::new(ticket_to_pb(ticket)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = caller(&request);
        let ticket = match request.into_inner().key {
            Some(pb::get_ticket_request::Key::Id(id)) => self.visible(&caller, ticket_id(&id)?).await?,
            Some(pb::get_ticket_request::Key::Number(number)) => self
                .store
                .ticket_by_number(number, viewer(&caller)?)
                .await?
                .ok_or(TicketError::NotFound)?,
            None => return Err(invalid("key", "give id or number").into()),
        };
        Ok(Response::new(ticket_to_pb(ticket)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_tickets(&self, request: Request<pb::ListTicketsRequest>) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let caller = caller(&request);
        let viewer = viewer(&caller)?;
        let query = list_query(request.into_inner(), matches!(viewer, Viewer::Staff(_)))?;
        let mut tickets = self.store.list(viewer, &query).await?;
        let next_page_token = if tickets.len() > query.limit as usize {
            tickets.truncate(query.limit as usize);
            tickets.last().map(|t| next_cursor(&query, t).encode()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: tickets.into_iter().map(ticket_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn count_tickets(&self, request: Request<pb::CountTicketsRequest>) -> Result<Response<pb::CountTicketsResponse>, Status> {
        let viewer = viewer(&caller(&request))?;
        let scope = match pb::Scope::try_from(request.into_inner().scope) {
            Ok(pb::Scope::Group) => crate::domain::query::Scope::Group,
            _ => crate::domain::query::Scope::Own,
        };
        let counts = self.store.counts(viewer, scope).await?;
        let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Response::new(pb::CountTicketsResponse {
            pending: as_u64(counts.pending),
            completed: as_u64(counts.completed),
            all: as_u64(counts.pending + counts.completed),
            by_category: counts.by_category.into_iter().map(|(c, n)| (c.to_string(), as_u64(n))).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_messages(&self, request: Request<pb::ListMessagesRequest>) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let caller = caller(&request);
        let ticket = self.visible(&caller, ticket_id(&request.get_ref().ticket_id)?).await?;
        let with_notes = caller.is_staff_or_service();
        let request = request.into_inner();
        let limit = page_size(request.page_size);
        let after = after_message(&request.page_token)?;
        let mut messages = self.store.messages(ticket.id, with_notes, after, limit).await?;
        let next_page_token = if messages.len() > limit as usize {
            messages.truncate(limit as usize);
            messages.last().map(message_cursor).unwrap_or_default()
        } else {
            String::new()
        };
        let messages = self.with_attachments(messages, with_notes).await?;
        Ok(Response::new(pb::ListMessagesResponse { messages, next_page_token }))
    }

    #[tracing::instrument(skip_all)]
    async fn reply(&self, request: Request<pb::ReplyRequest>) -> Result<Response<pb::Message>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let ticket = self.visible(&caller, ticket_id(&request.ticket_id)?).await?;
        let (body, html) = body_and_html(&request.text, &request.html)?;
        let attachments = attachment_ids(&request.attachments)?;
        let message = self
            .store
            .add_message(
                ticket.id,
                NewMessage {
                    kind: KIND_REPLY,
                    author: author(&caller),
                    text: body.as_str(),
                    html: &html,
                    original: &request.html,
                    channel: if matches!(caller, Caller::Contact { .. }) { Channel::Portal } else { Channel::Api },
                    attachments: &attachments,
                    files: &[],
                    thread_rule: "",
                },
                false,
                None,
            )
            .await?
            .ok_or_else(|| helpdesk_kit::error::internal("a reply without an inbound key was not stored"))?;
        let message = self.with_attachments(vec![message], false).await?.pop();
        Ok(Response::new(message.ok_or_else(|| helpdesk_kit::error::internal("the stored reply vanished"))?))
    }

    #[tracing::instrument(skip_all)]
    async fn add_note(&self, request: Request<pb::AddNoteRequest>) -> Result<Response<pb::Message>, Status> {
        let caller = caller(&request);
        require_staff(&caller)?;
        let request = request.into_inner();
        let ticket = self.visible(&caller, ticket_id(&request.ticket_id)?).await?;
        let body = Body::parse(&request.text)?;
        let message = self
            .store
            .add_message(
                ticket.id,
                NewMessage {
                    kind: KIND_NOTE,
                    author: author(&caller),
                    text: body.as_str(),
                    html: "",
                    original: "",
                    channel: Channel::Api,
                    attachments: &[],
                    files: &[],
                    thread_rule: "",
                },
                false,
                None,
            )
            .await?
            .ok_or_else(|| helpdesk_kit::error::internal("a note without an inbound key was not stored"))?;
        Ok(Response::new(message_to_pb(message)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_ticket(&self, request: Request<pb::UpdateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = caller(&request);
        require_staff(&caller)?;
        let request = request.into_inner();
        let ticket = self.visible(&caller, ticket_id(&request.ticket_id)?).await?;
        let assignee = match request.assignee_id.as_deref() {
            Some(raw) => Some(self.checked_assignee(raw).await?),
            None => None,
        };
        let mut change = TicketChange {
            status: request.status_id.as_deref().map(|s| parse_slug_id("status_id", s)).transpose()?,
            priority: request.priority_id.as_deref().map(|p| parse_slug_id("priority_id", p)).transpose()?,
            assignee,
            ..Default::default()
        };
        if request.clear_due_at {
            change.due_at = Some(None);
        } else if let Some(due) = time_from_pb("due_at", request.due_at)? {
            change.due_at = Some(Some(due));
        }
        let values = values_from_pb(request.custom_fields);
        if let Some(raw) = request.category_id.as_deref() {
            let category = uuid_field("category_id", raw)?;
            let fields = self.checked_fields(category, values).await?;
            change.category = Some((category, serde_json::to_value(fields).map_err(helpdesk_kit::error::internal)?));
        } else if !values.is_empty() {
            let fields = self.checked_fields(ticket.category_id, values).await?;
            change.custom_fields = Some(serde_json::to_value(fields).map_err(helpdesk_kit::error::internal)?);
        }
        self.store.update_ticket(ticket.id, change, &actor_id(&caller)).await?;
        Ok(Response::new(ticket_to_pb(self.visible(&caller, ticket.id).await?)))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_ticket(&self, request: Request<pb::CompleteTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = caller(&request);
        let ticket = self.visible(&caller, ticket_id(&request.get_ref().ticket_id)?).await?;
        match &caller {
            Caller::Contact { id } => self.store.self_close(ticket.id, *id).await?,
            _ => {
                let change = TicketChange { status: Some("completed".into()), ..Default::default() };
                self.store.update_ticket(ticket.id, change, &actor_id(&caller)).await?;
            }
        }
        Ok(Response::new(ticket_to_pb(self.visible(&caller, ticket.id).await?)))
    }

    #[tracing::instrument(skip_all)]
    async fn log_time(&self, request: Request<pb::LogTimeRequest>) -> Result<Response<pb::TimeEntry>, Status> {
        let caller = caller(&request);
        require_staff(&caller)?;
        let request = request.into_inner();
        let ticket = self.visible(&caller, ticket_id(&request.ticket_id)?).await?;
        let minutes = parse_entry_minutes(request.minutes)?;
        if request.note.chars().count() > 1000 {
            return Err(invalid("note", "is longer than 1000 characters").into());
        }
        let entry = self
            .store
            .log_time(ticket.id, &actor_id(&caller), minutes, request.note.trim())
            .await?
            .ok_or(TicketError::NotFound)?;
        Ok(Response::new(pb::TimeEntry {
            id: entry.id.to_string(),
            ticket_id: ticket.id.to_string(),
            agent_id: entry.agent_id,
            minutes: entry.minutes,
            note: entry.note,
            created_at: Some(helpdesk_kit::events::timestamp(entry.created_at)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_attachment(&self, request: Request<pb::GetAttachmentRequest>) -> Result<Response<pb::AttachmentRef>, Status> {
        let row = attachments::visible(&self.store, &caller(&request), request.get_ref()).await?;
        Ok(Response::new(attachments::attachment_to_pb(row)))
    }

    #[tracing::instrument(skip_all)]
    async fn upload_attachment(&self, request: Request<pb::UploadAttachmentRequest>) -> Result<Response<pb::AttachmentRef>, Status> {
        let caller = caller(&request);
        let uploaded = attachments::upload(&self.store, &self.blobs, self.attachment_max_bytes, &caller, request.into_inner()).await?;
        Ok(Response::new(uploaded))
    }

    #[tracing::instrument(skip_all)]
    async fn download_attachment(&self, request: Request<pb::GetAttachmentRequest>) -> Result<Response<pb::AttachmentData>, Status> {
        let row = attachments::visible(&self.store, &caller(&request), request.get_ref()).await?;
        Ok(Response::new(attachments::download(&self.blobs, row).await?))
    }
}
