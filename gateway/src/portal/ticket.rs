//! Ticket details (`/tickets/{id}`, the ticket's UUID): number, subject, status in the contact's
//! words, the properties sidebar, the public conversation, **Reply** with attachments and
//! **Mark as complete** (when the portal settings let contacts close tickets), plus live updates:
//! an SSE changed-signal (`/tickets/{id}/events`) and the fragment the page's script fetches on a
//! signal (`/tickets/{id}/conversation`, rendered from the same partials as the page).
//!
//! - `view`: what the templates show, built from the services' answers;
//! - `reply`: the reply form's multipart body, uploads and the reply call;
//! - `live`: the NATS-fed event stream.
//!
//! Every call goes out with the contact's own token, so the tickets service decides what they may
//! see: a ticket they may not read — or an id that is no UUID — is the 404 page, like any
//! missing page, and says nothing about whether it exists.

pub mod live;
pub mod reply;
pub mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Extension, Router,
    extract::{DefaultBodyLimit, Path, Request, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use helpdesk_proto::tickets::v1::{self as pb, get_ticket_request::Key};

use crate::{
    api::tickets::TicketClients,
    portal::{self, MAX_FILES_PER_FORM, PortalState, chrome::Chrome, error::PageError, form::FormErrors},
};

use self::{
    live::Live,
    reply::ReplyForm,
    view::{MessageView, TicketView},
};

/// The routes. The reply's body limit is the portal's form limit (`send_reply` applies it, as
/// it depends on the configured attachment size), not the JSON API's default.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/conversation", get(fragment))
        .route("/tickets/{id}/events", get(events))
        .route("/tickets/{id}/reply", post(send_reply).layer(DefaultBodyLimit::disable()))
        .route("/tickets/{id}/complete", post(complete))
}

/// The page's and the fragment's shared view: the live parts (`ticket/state.html`,
/// `ticket/conversation.html`) read these fields in both.
struct Shown {
    ticket: TicketView,
    messages: Vec<MessageView>,
    may_complete: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/ticket/page.html")]
struct TicketPage {
    chrome: Chrome,
    ticket: TicketView,
    messages: Vec<MessageView>,
    may_complete: bool,
    /// The reply being written (kept when the form comes back with errors).
    message: String,
    /// Files were chosen but the form came back: the browser cannot keep them, so say so.
    files_dropped: bool,
    errors: FormErrors,
    max_files: usize,
    /// The largest file, as people read sizes (`10.0 MB`).
    max_file_size: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/ticket/fragment.html")]
struct Fragment {
    chrome: Chrome,
    ticket: TicketView,
    messages: Vec<MessageView>,
    may_complete: bool,
}

/// The ticket's UUID in its canonical spelling; anything else is no page.
fn ticket_id(raw: &str) -> Result<String, PageError> {
    uuid::Uuid::parse_str(raw).map(|id| id.hyphenated().to_string()).map_err(|_| PageError::NotFound)
}

/// The ticket, its public conversation and whether the contact may mark it complete.
async fn load(clients: &TicketClients, chrome: &Chrome, id: &str) -> Result<Shown, PageError> {
    let token = chrome.require_token()?;
    let (mut tickets, mut messages, mut admin) = (clients.tickets.clone(), clients.tickets.clone(), clients.admin.clone());
    let get = tickets.get_ticket(chrome.request(pb::GetTicketRequest { key: Some(Key::Id(id.to_string())) })?);
    let conversation = helpdesk_kit::pages::all_messages(&mut messages, token, id);
    let categories = admin.list_categories(chrome.request(pb::ListCategoriesRequest {})?);
    let (ticket, conversation, categories) = tokio::join!(get, conversation, categories);
    let ticket = ticket?.into_inner();
    let categories = categories?.into_inner().categories;
    let contact = chrome.contact.as_ref();
    let ticket = TicketView::new(ticket, &categories, contact.map_or(&[][..], |c| &c.group_ids[..]));
    let messages = view::conversation(&ticket.id, conversation?, contact.map_or("", |c| c.id.as_str()));
    let may_complete = chrome.settings.contacts_may_close_tickets && !ticket.completed();
    Ok(Shown { ticket, messages, may_complete })
}

async fn show(State(clients): State<TicketClients>, chrome: Chrome, Path(raw): Path<String>) -> Result<TicketPage, PageError> {
    let id = ticket_id(&raw)?;
    let live = load(&clients, &chrome, &id).await?;
    Ok(page(&clients, chrome, live, String::new(), false, FormErrors::default()))
}

fn page(clients: &TicketClients, chrome: Chrome, live: Shown, message: String, files_dropped: bool, errors: FormErrors) -> TicketPage {
    TicketPage {
        max_file_size: view::size_text(u64::try_from(clients.attachment_max_bytes).unwrap_or(u64::MAX)),
        chrome,
        ticket: live.ticket,
        messages: live.messages,
        may_complete: live.may_complete,
        message,
        files_dropped,
        errors,
        max_files: MAX_FILES_PER_FORM,
    }
}

/// `GET /tickets/{id}/conversation`: the live parts (status and conversation), for the script.
async fn fragment(State(clients): State<TicketClients>, chrome: Chrome, Path(raw): Path<String>) -> Result<Fragment, PageError> {
    let id = ticket_id(&raw)?;
    let live = load(&clients, &chrome, &id).await?;
    Ok(Fragment { chrome, ticket: live.ticket, messages: live.messages, may_complete: live.may_complete })
}

/// `POST /tickets/{id}/reply` (multipart): 303 to the page at the new message; with errors the
/// page again (422) with the text kept.
async fn send_reply(
    State(mut clients): State<TicketClients>,
    chrome: Chrome,
    Path(raw): Path<String>,
    request: Request,
) -> Result<Response, PageError> {
    let id = ticket_id(&raw)?;
    chrome.require_token()?;
    // `guard` has read a form-field-token body within the limit already; one whose token came
    // in the header has not, so the limit is applied here for both.
    let (parts, body) = request.into_parts();
    let limit = portal::form_limit(clients.attachment_max_bytes);
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| PageError::TooLarge)?;
    let (form, mut errors) = ReplyForm::read(Request::from_parts(parts, body.into())).await?;
    if errors.is_empty() {
        match form.send(&mut clients, &chrome, &id).await? {
            Ok(message_id) => return Ok(Redirect::to(&format!("/tickets/{id}#message-{message_id}")).into_response()),
            Err(refused) => errors = refused,
        }
    }
    let live = load(&clients, &chrome, &id).await?;
    let files_dropped = !form.files.is_empty();
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&clients, chrome, live, form.message, files_dropped, errors)).into_response())
}

/// `POST /tickets/{id}/complete`: only offered, and only done, when contacts may close tickets
/// (the tickets service checks the same setting); back to the page.
async fn complete(State(mut clients): State<TicketClients>, chrome: Chrome, Path(raw): Path<String>) -> Result<Redirect, PageError> {
    let id = ticket_id(&raw)?;
    chrome.require_token()?;
    if !chrome.settings.contacts_may_close_tickets {
        return Err(PageError::Forbidden);
    }
    clients.tickets.complete_ticket(chrome.request(pb::CompleteTicketRequest { ticket_id: id.clone() })?).await?;
    Ok(Redirect::to(&format!("/tickets/{id}")))
}

/// `GET /tickets/{id}/events`: the changed-signal stream, once the contact may read the ticket.
async fn events(
    State(mut clients): State<TicketClients>,
    Extension(live): Extension<Live>,
    chrome: Chrome,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let id = ticket_id(&raw)?;
    chrome.require_token()?;
    let signals = live.subscribe();
    clients.tickets.get_ticket(chrome.request(pb::GetTicketRequest { key: Some(Key::Id(id.clone())) })?).await?;
    let mut response = live.stream(id, signals).into_response();
    // Proxies that buffer (nginx) would hold the signal back.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    Ok(response)
}
