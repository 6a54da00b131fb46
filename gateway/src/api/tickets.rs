//! `/api/v1/tickets` and friends: what the contact portal needs — file a ticket (with category,
//! priority, due date and custom fields), My Tickets (queues, scope, filters, sort, search, keyset
//! pages, counts), the conversation, replies, marking complete — plus the reference lists
//! (statuses, priorities, categories) and a group's support time. Every call carries the caller's
//! own token; the tickets service decides what they may see.

use std::collections::HashMap;

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, FromRef, State},
    handler::Handler,
    http::{StatusCode, header},
    middleware,
    response::Response,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use helpdesk_proto::tickets::v1::{
    self as pb, ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tonic::transport::Channel;

use crate::{
    api::{as_caller, rfc3339},
    auth::{Bearer, MaybeBearer},
    client_ip::ClientIp,
    error::ApiError,
    extract::{Json, Multipart, Path, Query},
    identity::Identity,
    rate_limit::{RateLimit, limit_guests},
};
use helpdesk_proto::identity::v1 as pb_identity;

/// The gRPC clients these handlers use.
#[derive(Clone)]
pub struct TicketClients {
    pub tickets: TicketServiceClient<Channel>,
    /// For guests (no sign-in) when the portal settings allow them to file tickets.
    pub identity: Identity,
    pub admin: TicketAdminServiceClient<Channel>,
    /// Largest multipart upload body accepted.
    pub upload_limit: usize,
    /// Largest file tickets stores (the portal's forms state it and size their body limit by it).
    pub attachment_max_bytes: usize,
    /// Per-client limit on guests' submissions.
    pub guest_limit: RateLimit,
}

/// Room for a gRPC message's envelope around the largest attachment it carries.
pub(crate) const ENVELOPE_BYTES: usize = 64 * 1024;

impl TicketClients {
    /// The tickets service's limit on one attachment (what forms state next to the field).
    pub(crate) fn attachment_max_bytes(&self) -> usize {
        self.upload_limit.saturating_sub(ENVELOPE_BYTES)
    }
}

impl FromRef<TicketClients> for Identity {
    fn from_ref(clients: &TicketClients) -> Self {
        clients.identity.clone()
    }
}

pub fn routes(clients: TicketClients) -> Router {
    Router::new()
        .route(
            "/api/v1/tickets",
            get(list).post(create.layer(middleware::from_fn_with_state(clients.guest_limit.clone(), limit_guests))),
        )
        .route("/api/v1/tickets/confirm", post(confirm))
        .route("/api/v1/tickets/counts", get(counts))
        .route("/api/v1/tickets/{id}", get(get_one))
        .route("/api/v1/tickets/{id}/messages", get(messages).post(reply))
        .route("/api/v1/tickets/{id}/complete", post(complete))
        .route("/api/v1/tickets/{id}/attachments/{attachment_id}", get(download))
        .route("/api/v1/attachments", post(upload).layer(DefaultBodyLimit::max(clients.upload_limit)))
        .route("/api/v1/statuses", get(statuses))
        .route("/api/v1/priorities", get(priorities))
        .route("/api/v1/categories", get(categories))
        .route("/api/v1/groups/{id}/time", get(group_time))
        .with_state(clients)
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

// ---------------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
pub struct TicketJson {
    id: String,
    number: i64,
    subject: String,
    status: String,
    status_name: String,
    status_kind: &'static str,
    priority: String,
    priority_name: String,
    category_id: Option<String>,
    due_at: Option<String>,
    assignee_id: Option<String>,
    group_id: Option<String>,
    channel: &'static str,
    contact_id: String,
    custom_fields: serde_json::Map<String, Value>,
    message_count: u32,
    /// A guest's ticket in an existing contact's name, not confirmed yet (only staff see these).
    unverified: bool,
    created_at: Option<String>,
    updated_at: Option<String>,
}

fn non_empty(raw: String) -> Option<String> {
    Some(raw).filter(|s| !s.is_empty())
}

/// A status's kind as the contact sees it: `pending` or `completed` (the portal shares it).
pub(crate) fn status_kind(kind: i32) -> &'static str {
    match pb::StatusKind::try_from(kind) {
        Ok(pb::StatusKind::Completed) => "completed",
        _ => "pending",
    }
}

fn value_json(value: pb::FieldValue) -> Value {
    use pb::field_value::Value as V;
    match value.value {
        Some(V::Text(t) | V::Date(t)) => Value::String(t),
        Some(V::Number(n)) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
        Some(V::Checkbox(b)) => Value::Bool(b),
        Some(V::Options(o)) => Value::Array(o.values.into_iter().map(Value::String).collect()),
        None => Value::Null,
    }
}

/// JSON field values to proto: strings, finite numbers, booleans, arrays of strings.
fn values_pb(values: serde_json::Map<String, Value>) -> Result<HashMap<String, pb::FieldValue>, ApiError> {
    use pb::field_value::Value as V;
    values
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => V::Text(s),
                Value::Number(n) => V::Number(n.as_f64().ok_or_else(|| unprocessable(format!("custom_fields: {key}: not a number")))?),
                Value::Bool(b) => V::Checkbox(b),
                Value::Array(items) => V::Options(pb::StringList {
                    values: items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => Ok(s),
                            _ => Err(unprocessable(format!("custom_fields: {key}: options are strings"))),
                        })
                        .collect::<Result<_, _>>()?,
                }),
                _ => return Err(unprocessable(format!("custom_fields: {key}: unsupported value"))),
            };
            Ok((key, pb::FieldValue { value: Some(value) }))
        })
        .collect()
}

fn ticket_json(ticket: pb::Ticket) -> TicketJson {
    let status = ticket.status.unwrap_or_default();
    let priority = ticket.priority.unwrap_or_default();
    TicketJson {
        status_kind: status_kind(status.kind),
        channel: match pb::Channel::try_from(ticket.channel) {
            Ok(pb::Channel::Portal) => "portal",
            Ok(pb::Channel::Email) => "email",
            Ok(pb::Channel::Chat) => "chat",
            _ => "api",
        },
        created_at: rfc3339(ticket.created_at.as_ref()),
        updated_at: rfc3339(ticket.updated_at.as_ref()),
        due_at: rfc3339(ticket.due_at.as_ref()),
        id: ticket.id,
        number: ticket.number,
        subject: ticket.subject,
        status: status.id,
        status_name: status.name,
        priority: priority.id,
        priority_name: priority.name,
        category_id: non_empty(ticket.category_id),
        assignee_id: non_empty(ticket.assignee_id),
        group_id: non_empty(ticket.group_id),
        contact_id: ticket.contact_id,
        custom_fields: ticket.custom_fields.into_iter().map(|(k, v)| (k, value_json(v))).collect(),
        message_count: ticket.message_count,
        unverified: ticket.unverified,
    }
}

fn timestamp(field: &str, raw: &str) -> Result<prost_types::Timestamp, ApiError> {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| unprocessable(format!("{field}: expected an RFC 3339 time")))?
        .into();
    Ok(helpdesk_kit::events::timestamp(at))
}

fn optional_timestamp(field: &str, raw: Option<&str>) -> Result<Option<prost_types::Timestamp>, ApiError> {
    raw.filter(|r| !r.is_empty()).map(|r| timestamp(field, r)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Tickets
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct CreateTicket {
    subject: String,
    message: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    priority: String,
    due_at: Option<String>,
    #[serde(default)]
    custom_fields: serde_json::Map<String, Value>,
    /// Ids from `POST /api/v1/attachments`.
    #[serde(default)]
    attachments: Vec<String>,
    /// Guests only (no sign-in): who they are, and the captcha solution when captcha is on.
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    captcha: String,
}

pub(crate) fn attachment_refs(ids: Vec<String>) -> Vec<pb::AttachmentRef> {
    ids.into_iter().map(|id| pb::AttachmentRef { id, ..Default::default() }).collect()
}

async fn create(
    State(mut clients): State<TicketClients>,
    MaybeBearer(token): MaybeBearer,
    ClientIp(client_ip): ClientIp,
    Json(body): Json<CreateTicket>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = pb::CreateTicketRequest {
        subject: body.subject,
        text: body.message,
        category_id: body.category_id,
        priority_id: body.priority,
        due_at: optional_timestamp("due_at", body.due_at.as_deref())?,
        custom_fields: values_pb(body.custom_fields)?,
        attachments: attachment_refs(body.attachments),
        ..Default::default()
    };
    if let Some(token) = token {
        let ticket = clients.tickets.create_ticket(as_caller(request, Some(&token))?).await?.into_inner();
        return Ok((StatusCode::CREATED, Json(serde_json::to_value(ticket_json(ticket)).map_err(ApiError::internal)?)));
    }
    let guest = Guest { name: body.name, email: body.email, captcha: body.captcha };
    let ticket = file_as_guest(&mut clients, request, guest, client_ip).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "number": ticket.number,
            "subject": ticket.subject,
            "status_kind": "pending",
            "message": GUEST_ANSWER,
        })),
    ))
}

/// Who a guest says they are, and their captcha solution (when captcha is on).
pub(crate) struct Guest {
    pub name: String,
    pub email: String,
    pub captcha: String,
}

/// Files a guest's ticket (the JSON API's and the portal form's one path). Identity checks the
/// setting and the captcha and names the contact; the ticket is filed as the gateway on their
/// behalf. When the address already belonged to a contact, the ticket is held (unverified) and
/// its owner is mailed a link that confirms it. Callers answer the same either way and show only
/// what the guest sent, so nobody learns whether the address is known.
pub(crate) async fn file_as_guest(
    clients: &mut TicketClients,
    mut request: pb::CreateTicketRequest,
    guest: Guest,
    client_ip: std::net::IpAddr,
) -> Result<pb::Ticket, ApiError> {
    let identity = &clients.identity;
    let email = guest.email.clone();
    let admit = pb_identity::AdmitGuestRequest {
        name: guest.name,
        email: guest.email,
        captcha_solution: guest.captcha,
        client_ip: client_ip.to_string(),
    };
    let admitted = identity.accounts().admit_guest(identity.as_gateway(admit).await?).await?.into_inner();
    request.contact_id = admitted.contact_id.clone();
    request.channel = pb::Channel::Portal as i32;
    request.hold_for_confirmation = admitted.confirm_by_mail;
    let ticket = clients.tickets.create_ticket(identity.as_gateway(request).await?).await?.into_inner();
    if admitted.confirm_by_mail {
        let confirmation = pb_identity::RequestTicketConfirmationRequest {
            contact_id: admitted.contact_id,
            ticket_id: ticket.id.clone(),
            email,
        };
        identity.accounts().request_ticket_confirmation(identity.as_gateway(confirmation).await?).await?;
    }
    Ok(ticket)
}

/// What every guest is told, whether the ticket was filed or held for confirmation.
const GUEST_ANSWER: &str =
    "Thank you. Check your mail: we have written to the address you gave, and if the mail asks you to confirm the request, follow its link.";

#[derive(Deserialize)]
pub struct ConfirmTicket {
    token: String,
}

/// `POST /api/v1/tickets/confirm {token}`: the link of a confirmation mail (`/confirm-ticket?token=…`)
/// releases the held ticket — it appears in the contact's lists and is acknowledged as new.
async fn confirm(State(clients): State<TicketClients>, Json(body): Json<ConfirmTicket>) -> Result<Json<Value>, ApiError> {
    let identity = &clients.identity;
    let request = pb_identity::ConfirmTicketRequest { token: body.token };
    identity.accounts().confirm_ticket(identity.as_gateway(request).await?).await?;
    Ok(Json(serde_json::json!({ "confirmed": true })))
}

/// My Tickets query string. Lists may repeat a key as comma-separated values (`status=open,waiting`).
#[derive(Deserialize)]
pub struct ListQuery {
    queue: Option<String>,
    scope: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    category: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    due_after: Option<String>,
    due_before: Option<String>,
    /// Custom-field filter as a JSON object, e.g. `{"product":"card"}`.
    fields: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    q: Option<String>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize)]
pub struct TicketPage {
    tickets: Vec<TicketJson>,
    next_page_token: Option<String>,
}

fn split(raw: Option<&str>) -> Vec<String> {
    raw.map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

fn scope(raw: Option<&str>) -> Result<pb::Scope, ApiError> {
    match raw {
        None | Some("own") => Ok(pb::Scope::Own),
        Some("group") => Ok(pb::Scope::Group),
        Some(_) => Err(unprocessable("scope: must be own or group")),
    }
}

/// A contact's queue by the name the JSON API and the portal's URLs share.
pub(crate) fn queue_named(name: &str) -> Option<pb::Queue> {
    match name {
        "all" => Some(pb::Queue::All),
        "pending" => Some(pb::Queue::Pending),
        "completed" => Some(pb::Queue::Completed),
        _ => None,
    }
}

/// A list's sort by the name the JSON API and the portal's URLs share.
pub(crate) fn sort_named(name: &str) -> Option<pb::SortField> {
    match name {
        "created" => Some(pb::SortField::Created),
        "updated" => Some(pb::SortField::Updated),
        "due" => Some(pb::SortField::Due),
        "priority" => Some(pb::SortField::Priority),
        _ => None,
    }
}

async fn list(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Query(query): Query<ListQuery>,
) -> Result<Json<TicketPage>, ApiError> {
    let queue = match query.queue.as_deref() {
        None => pb::Queue::All,
        Some(name) => queue_named(name).ok_or_else(|| unprocessable("queue: must be all, pending or completed"))?,
    };
    let sort = match query.sort.as_deref() {
        None => pb::SortField::Created,
        Some(name) => sort_named(name).ok_or_else(|| unprocessable("sort: must be created, updated, due or priority"))?,
    };
    let ascending = match query.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(unprocessable("order: must be asc or desc")),
    };
    let custom_fields = match query.fields.as_deref() {
        None | Some("") => HashMap::new(),
        Some(raw) => values_pb(
            serde_json::from_str(raw).map_err(|_| unprocessable("fields: expected a JSON object"))?,
        )?,
    };
    let filter = pb::TicketFilter {
        status_ids: split(query.status.as_deref()),
        priority_ids: split(query.priority.as_deref()),
        category_ids: split(query.category.as_deref()),
        created_after: optional_timestamp("created_after", query.created_after.as_deref())?,
        created_before: optional_timestamp("created_before", query.created_before.as_deref())?,
        due_after: optional_timestamp("due_after", query.due_after.as_deref())?,
        due_before: optional_timestamp("due_before", query.due_before.as_deref())?,
        custom_fields,
        assignee_id: String::new(),
    };
    let request = pb::ListTicketsRequest {
        queue: queue as i32,
        scope: scope(query.scope.as_deref())? as i32,
        filter: Some(filter),
        sort: sort as i32,
        ascending,
        query: query.q.unwrap_or_default(),
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
    };
    let page = clients.tickets.list_tickets(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(TicketPage {
        tickets: page.tickets.into_iter().map(ticket_json).collect(),
        next_page_token: non_empty(page.next_page_token),
    }))
}

#[derive(Deserialize)]
pub struct CountsQuery {
    scope: Option<String>,
}

#[derive(Serialize)]
pub struct CountsJson {
    pending: u64,
    completed: u64,
    all: u64,
    by_category: HashMap<String, u64>,
}

async fn counts(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Query(query): Query<CountsQuery>,
) -> Result<Json<CountsJson>, ApiError> {
    let request = pb::CountTicketsRequest { scope: scope(query.scope.as_deref())? as i32 };
    let counts = clients.tickets.count_tickets(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(CountsJson {
        pending: counts.pending,
        completed: counts.completed,
        all: counts.all,
        by_category: counts.by_category,
    }))
}

async fn get_one(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<TicketJson>, ApiError> {
    let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(id)) };
    let ticket = clients.tickets.get_ticket(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(ticket_json(ticket)))
}

async fn complete(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<TicketJson>, ApiError> {
    let request = pb::CompleteTicketRequest { ticket_id: id };
    let ticket = clients.tickets.complete_ticket(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(ticket_json(ticket)))
}

// ---------------------------------------------------------------------------------------------
// Conversation
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
pub struct MessageJson {
    id: String,
    kind: &'static str,
    author: &'static str,
    author_id: Option<String>,
    text: String,
    html: String,
    attachments: Vec<AttachmentJson>,
    created_at: Option<String>,
}

#[derive(Serialize)]
pub struct AttachmentJson {
    id: String,
    filename: String,
    content_type: String,
    size: u64,
}

fn attachment_json(a: pb::AttachmentRef) -> AttachmentJson {
    AttachmentJson { id: a.id, filename: a.filename, content_type: a.content_type, size: a.size }
}

/// `reply`, `note` or `system` (the portal shares it).
pub(crate) fn message_kind(kind: i32) -> &'static str {
    match pb::MessageKind::try_from(kind) {
        Ok(pb::MessageKind::InternalNote) => "note",
        Ok(pb::MessageKind::System) => "system",
        _ => "reply",
    }
}

/// `contact`, `agent` or `system` (the portal shares it).
pub(crate) fn author_kind(kind: i32) -> &'static str {
    match pb::AuthorKind::try_from(kind) {
        Ok(pb::AuthorKind::Contact) => "contact",
        Ok(pb::AuthorKind::Agent) => "agent",
        _ => "system",
    }
}

fn message_json(m: pb::Message) -> MessageJson {
    MessageJson {
        kind: message_kind(m.kind),
        author: author_kind(m.author_kind),
        created_at: rfc3339(m.created_at.as_ref()),
        id: m.id,
        author_id: non_empty(m.author_id),
        text: m.text,
        html: m.html,
        attachments: m.attachments.into_iter().map(attachment_json).collect(),
    }
}

async fn messages(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Vec<MessageJson>>, ApiError> {
    // The whole conversation, however long: ListMessages answers in bounded pages.
    let messages = helpdesk_kit::pages::all_messages(&mut clients.tickets, &token, &id).await?;
    Ok(Json(messages.into_iter().map(message_json).collect()))
}

#[derive(Deserialize)]
pub struct ReplyBody {
    message: String,
    #[serde(default)]
    attachments: Vec<String>,
}

async fn reply(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    Json(body): Json<ReplyBody>,
) -> Result<(StatusCode, Json<MessageJson>), ApiError> {
    let request = pb::ReplyRequest {
        ticket_id: id,
        text: body.message,
        attachments: attachment_refs(body.attachments),
        ..Default::default()
    };
    let message = clients.tickets.reply(as_caller(request, Some(&token))?).await?.into_inner();
    Ok((StatusCode::CREATED, Json(message_json(message))))
}

// ---------------------------------------------------------------------------------------------
// Reference lists and support time
// ---------------------------------------------------------------------------------------------

async fn statuses(State(mut clients): State<TicketClients>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let statuses = clients.admin.list_statuses(as_caller(pb::ListStatusesRequest {}, Some(&token))?).await?.into_inner().statuses;
    Ok(Json(Value::Array(
        statuses
            .into_iter()
            .map(|s| serde_json::json!({ "id": s.id, "name": s.name, "kind": status_kind(s.kind) }))
            .collect(),
    )))
}

async fn priorities(State(mut clients): State<TicketClients>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let priorities = clients.admin.list_priorities(as_caller(pb::ListPrioritiesRequest {}, Some(&token))?).await?.into_inner().priorities;
    Ok(Json(Value::Array(
        priorities
            .into_iter()
            .map(|p| serde_json::json!({ "id": p.id, "name": p.name, "rank": p.rank, "default": p.is_default }))
            .collect(),
    )))
}

async fn categories(State(mut clients): State<TicketClients>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let categories = clients.admin.list_categories(as_caller(pb::ListCategoriesRequest {}, Some(&token))?).await?.into_inner().categories;
    Ok(Json(Value::Array(
        categories
            .into_iter()
            .map(|c| {
                let fields: Vec<Value> = c
                    .fields
                    .into_iter()
                    .map(|f| {
                        let kind = pb::FieldType::try_from(f.r#type).map(|t| t.as_str_name()).unwrap_or("FIELD_TYPE_UNSPECIFIED");
                        serde_json::json!({
                            "key": f.key, "label": f.label, "required": f.required, "options": f.options,
                            "type": kind.trim_start_matches("FIELD_TYPE_").to_ascii_lowercase(),
                        })
                    })
                    .collect();
                serde_json::json!({ "id": c.id, "name": c.name, "fields": fields })
            })
            .collect(),
    )))
}

/// `ok`, `low` or `exhausted`: a group's support-time alert (tickets decides it against its
/// `time_alert_threshold` setting), as the JSON API and the portal name it.
pub(crate) fn time_alert(alert: i32) -> &'static str {
    match pb::TimeAlert::try_from(alert) {
        Ok(pb::TimeAlert::Low) => "low",
        Ok(pb::TimeAlert::Exhausted) => "exhausted",
        _ => "ok",
    }
}

async fn group_time(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let response = clients
        .admin
        .get_group_time(as_caller(pb::GetGroupTimeRequest { group_id: id }, Some(&token))?)
        .await?
        .into_inner();
    let balance = response.balance.unwrap_or_default();
    let alert = time_alert(balance.alert);
    let history: Vec<Value> = response
        .history
        .into_iter()
        .map(|e| serde_json::json!({ "minutes": e.minutes, "ticket_id": non_empty(e.ticket_id), "note": e.note, "at": rfc3339(e.created_at.as_ref()) }))
        .collect();
    Ok(Json(serde_json::json!({
        "granted_minutes": balance.granted_minutes,
        "used_minutes": balance.used_minutes,
        "remaining_minutes": balance.remaining_minutes,
        "alert_threshold_minutes": balance.alert_threshold_minutes,
        "alert": alert,
        "history": history,
    })))
}

// ---------------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------------

/// `multipart/form-data` with one `file` part; answers the id to attach to a ticket or reply.
async fn upload(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    mut form: Multipart,
) -> Result<(StatusCode, Json<AttachmentJson>), ApiError> {
    while let Some(field) = form.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_string();
        let content_type = field.content_type().unwrap_or_default().to_string();
        let data = Multipart::bytes(field).await?;
        let request = pb::UploadAttachmentRequest { filename, content_type, data: data.to_vec() };
        let uploaded = clients.tickets.upload_attachment(as_caller(request, Some(&token))?).await?.into_inner();
        return Ok((StatusCode::CREATED, Json(attachment_json(uploaded))));
    }
    Err(unprocessable("file: the form has no file part"))
}

/// The file, always as a download: `Content-Disposition: attachment`, the sniffed type, nosniff.
async fn download(
    State(mut clients): State<TicketClients>,
    Bearer(token): Bearer,
    Path((ticket_id, attachment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let request = pb::GetAttachmentRequest { ticket_id, attachment_id };
    let file = clients.tickets.download_attachment(as_caller(request, Some(&token))?).await?.into_inner();
    let meta = file.attachment.unwrap_or_default();
    // RFC 8187 `filename*`: everything but letters, digits and `.-_` percent-encoded as UTF-8.
    const FILENAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_');
    let encoded = percent_encoding::utf8_percent_encode(&meta.filename, FILENAME);
    Response::builder()
        .header(header::CONTENT_TYPE, meta.content_type)
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename*=UTF-8''{encoded}"))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from(file.data))
        .map_err(ApiError::internal)
}
