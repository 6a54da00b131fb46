//! The new ticket form (`/tickets/new`): subject, message, category with that category's custom
//! fields, due date, priority and attachments; guests (when the portal lets them file) add their
//! name, email and the captcha. `new-ticket.js` adds what needs a script: the chosen category's
//! fields at once, knowledge-base suggestions while the subject is typed (with the draft kept in
//! `sessionStorage` while an article is read), and solving the captcha.
//!
//! - `input`: the multipart body read into a draft, files and the fixed fields' checks;
//! - `fields`: the categories' custom fields as the template draws them, and their typed values;
//! - `confirm`: `/confirm-ticket`, the page of the mailed link that releases a guest's held ticket.
//!
//! A submission becomes a ticket in two calls with the contact's own token — each file uploaded,
//! then `CreateTicket` naming them — and a 303 to the ticket's page; a guest's goes the JSON API's
//! way (`api::tickets::file_as_guest`) and ends on a confirmation page that says the same whether
//! or not the address was known. Any failure re-renders the form (422) with everything typed.

pub mod confirm;
pub mod fields;
pub mod input;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use helpdesk_proto::tickets::v1 as pb;

use crate::{
    api::tickets::{Guest, TicketClients, file_as_guest},
    client_ip::ClientIp,
    error::ApiError,
    portal::{
        MAX_FILES_PER_FORM, PortalState,
        chrome::Chrome,
        error::PageError,
        form::FormErrors,
        form_limit,
    },
};
use fields::CategoryView;
use input::{Draft, Sent};

pub fn routes() -> Router<PortalState> {
    Router::new()
        // `input::read` bounds the body itself (with the portal's form limit, which has room for
        // every file at the tickets service's limit); axum's 2 MB default would refuse real files.
        .route("/tickets/new", get(show).post(submit).layer(DefaultBodyLimit::disable()))
        .route("/tickets/new/sent", get(sent))
        .route("/tickets/new/answered", get(answered))
        .route("/confirm-ticket", get(confirm::show).post(confirm::confirm))
}

/// A priority as the select offers it.
pub struct PriorityView {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/new_ticket/form.html")]
struct NewTicketPage {
    chrome: Chrome,
    draft: Draft,
    errors: FormErrors,
    categories: Vec<CategoryView>,
    priorities: Vec<PriorityView>,
    /// Files were attached to what was sent: they must be chosen again.
    files_lost: bool,
    /// Re-rendered by the "Show the fields for this category" button.
    fields_shown: bool,
    max_files: usize,
    max_file_size: String,
    /// Not signed in: name, email (and the captcha) are asked for; files are not offered.
    guest: bool,
    captcha: bool,
    /// The knowledge base may be suggested (the script asks `/api/v1/kb/suggest`).
    suggest: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/new_ticket/sent.html")]
struct SentPage {
    chrome: Chrome,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/new_ticket/answered.html")]
struct AnsweredPage {
    chrome: Chrome,
}

/// The categories (active ones) and priorities the form offers. Neither is a contact's data, so a
/// guest's form reads them with the gateway's own token.
async fn choices(clients: &TicketClients, chrome: &Chrome) -> Result<(Vec<pb::Category>, Vec<pb::Priority>), PageError> {
    let (mut admin, mut admin2) = (clients.admin.clone(), clients.admin.clone());
    let (categories, priorities) = match chrome.token() {
        Some(_) => tokio::join!(
            admin.list_categories(chrome.request(pb::ListCategoriesRequest {})?),
            admin2.list_priorities(chrome.request(pb::ListPrioritiesRequest {})?),
        ),
        None => {
            let identity = &clients.identity;
            let (c, p) = (identity.as_gateway(pb::ListCategoriesRequest {}).await?, identity.as_gateway(pb::ListPrioritiesRequest {}).await?);
            tokio::join!(admin.list_categories(c), admin2.list_priorities(p))
        }
    };
    let categories = categories?.into_inner().categories.into_iter().filter(|c| c.active).collect();
    let mut priorities = priorities?.into_inner().priorities;
    priorities.sort_by_key(|p| p.rank);
    Ok((categories, priorities))
}

struct Rendered<'a> {
    categories: &'a [pb::Category],
    /// The tickets service's limit on one file.
    file_max: usize,
    priorities: &'a [pb::Priority],
    files_lost: bool,
    fields_shown: bool,
}

fn page(chrome: Chrome, mut draft: Draft, mut errors: FormErrors, r: Rendered<'_>) -> Response {
    if draft.priority.is_empty()
        && let Some(default) = r.priorities.iter().find(|p| p.is_default)
    {
        draft.priority = default.id.clone();
    }
    let priorities = r
        .priorities
        .iter()
        .map(|p| PriorityView { id: p.id.clone(), name: p.name.clone(), selected: p.id == draft.priority })
        .collect();
    let guest = !chrome.signed_in();
    // A browser never refills a file input: the summary says so, linked to the field.
    if r.files_lost && !guest && !errors.is_empty() {
        errors.add("attachments", "Choose your files again: they are not kept when the form is shown again");
    }
    let status = errors.status();
    let page = NewTicketPage {
        categories: fields::views(r.categories, &draft),
        priorities,
        files_lost: r.files_lost,
        fields_shown: r.fields_shown,
        max_files: MAX_FILES_PER_FORM,
        max_file_size: input::size_text(r.file_max),
        guest,
        captcha: guest && chrome.settings.captcha_enabled,
        suggest: chrome.kb_readable(),
        chrome,
        draft,
        errors,
    };
    (status, page).into_response()
}

async fn show(State(clients): State<TicketClients>, chrome: Chrome) -> Result<Response, PageError> {
    if !chrome.may_submit() {
        return Err(PageError::LoginRequired);
    }
    let (categories, priorities) = choices(&clients, &chrome).await?;
    let rendered = Rendered {
        categories: &categories,
        file_max: clients.attachment_max_bytes(),
        priorities: &priorities,
        files_lost: false,
        fields_shown: false,
    };
    Ok(page(chrome, Draft::default(), FormErrors::default(), rendered))
}

async fn submit(
    State(mut clients): State<TicketClients>,
    chrome: Chrome,
    ClientIp(client_ip): ClientIp,
    request: Request,
) -> Result<Response, PageError> {
    if !chrome.may_submit() {
        return Err(PageError::LoginRequired);
    }
    let file_max = clients.attachment_max_bytes();
    let Sent { draft, files, had_files, mut errors } = input::read(request, form_limit(file_max), file_max).await?;
    let (categories, priorities) = choices(&clients, &chrome).await?;
    let render = |chrome, draft, errors, fields_shown| {
        let rendered = Rendered { categories: &categories, file_max, priorities: &priorities, files_lost: had_files, fields_shown };
        page(chrome, draft, errors, rendered)
    };
    if draft.intent == "fields" {
        return Ok(render(chrome, draft, FormErrors::default(), true));
    }
    let guest = !chrome.signed_in();
    input::check(&draft, guest, &mut errors);
    let chosen = categories.iter().enumerate().find(|(_, c)| c.id == draft.category);
    if chosen.is_none() && !draft.category.is_empty() {
        errors.add("category", "Choose one of the categories in the list");
    }
    if !draft.priority.is_empty() && !priorities.iter().any(|p| p.id == draft.priority) {
        errors.add("priority", "Choose one of the priorities in the list");
    }
    if guest && had_files {
        errors.add("attachments", "Log in to attach files");
    }
    let custom_fields = chosen.map(|(i, c)| fields::values(i, c, &draft, &mut errors)).unwrap_or_default();
    if !errors.is_empty() {
        return Ok(render(chrome, draft, errors, false));
    }
    let due_at = input::due_date(&draft.due_date).unwrap_or_default();

    let result = if guest {
        if clients.guest_limit.check(client_ip).is_err() {
            return Err(PageError::TooManyRequests);
        }
        let request = new_ticket(&draft, custom_fields, due_at, Vec::new());
        let who = Guest { name: draft.name.clone(), email: draft.email.clone(), captcha: draft.captcha.clone() };
        file_as_guest(&mut clients, request, who, client_ip).await
    } else {
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            let upload = pb::UploadAttachmentRequest { filename: file.filename, content_type: file.content_type, data: file.data.to_vec() };
            match clients.tickets.upload_attachment(chrome.request(upload)?).await {
                Ok(uploaded) => attachments.push(uploaded.into_inner()),
                Err(status) => return refused(ApiError::from(status), chrome, draft, chosen, render),
            }
        }
        let request = new_ticket(&draft, custom_fields, due_at, attachments);
        match clients.tickets.create_ticket(chrome.request(request)?).await {
            Ok(ticket) => Ok(ticket.into_inner()),
            Err(status) => Err(ApiError::from(status)),
        }
    };
    match result {
        Ok(_) if guest => Ok(Redirect::to("/tickets/new/sent").into_response()),
        Ok(ticket) => Ok(Redirect::to(&format!("/tickets/{}", ticket.id)).into_response()),
        Err(error) => refused(error, chrome, draft, chosen, render),
    }
}

fn new_ticket(
    draft: &Draft,
    custom_fields: std::collections::HashMap<String, pb::FieldValue>,
    due_at: Option<prost_types::Timestamp>,
    attachments: Vec<pb::AttachmentRef>,
) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: draft.subject.clone(),
        text: draft.message.clone(),
        category_id: draft.category.clone(),
        priority_id: draft.priority.clone(),
        due_at,
        custom_fields,
        attachments,
        ..Default::default()
    }
}

/// A service's refusal: a bad value (422) re-renders the form with the message at its field;
/// anything else is the error page.
fn refused(
    error: ApiError,
    chrome: Chrome,
    draft: Draft,
    chosen: Option<(usize, &pb::Category)>,
    render: impl FnOnce(Chrome, Draft, FormErrors, bool) -> Response,
) -> Result<Response, PageError> {
    if error.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return Err(error.into());
    }
    Ok(render(chrome, draft, service_errors(error.message(), chosen), false))
}

/// `subject: is required`, `custom_fields: order: is required`, `captcha: …`: the message tied
/// to the input the service's field name stands for (the form's own names differ from the wire's).
fn service_errors(message: &str, chosen: Option<(usize, &pb::Category)>) -> FormErrors {
    let mut errors = FormErrors::default();
    let (name, rest) = message.split_once(':').map_or(("", message), |(n, r)| (n.trim(), r.trim()));
    if name == "custom_fields"
        && let Some((index, category)) = chosen
        && let Some((id, label, reason)) = fields::named(index, category, rest)
    {
        errors.add(id, format!("{label}: {reason}"));
        return errors;
    }
    if name == "captcha" {
        // The service's reason (missing, expired, used) is the same thing to the guest: the
        // browser has to solve it, which needs JavaScript.
        errors.add("captcha", "The spam check was not solved: it needs JavaScript, which solves it when you submit");
        return errors;
    }
    let field = match name {
        "subject" => "subject",
        "text" | "html" => "message",
        "category_id" => "category",
        "priority_id" => "priority",
        "due_at" => "due_date",
        "attachments" | "data" | "filename" => "attachments",
        "name" => "name",
        "email" => "email",
        _ => return FormErrors::from_service(message, &[], "subject"),
    };
    errors.add(field, rest.to_string());
    errors
}

async fn sent(chrome: Chrome) -> SentPage {
    SentPage { chrome }
}

async fn answered(chrome: Chrome) -> AnsweredPage {
    AnsweredPage { chrome }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_messages_land_on_the_forms_own_fields() {
        let category = pb::Category {
            id: "c".into(),
            name: "Cards".into(),
            fields: vec![pb::FieldDefinition { key: "order".into(), label: "Order number".into(), ..Default::default() }],
            active: true,
        };
        let errors = service_errors("custom_fields: order: is required", Some((3, &category)));
        assert_eq!(errors.get("cf-3-order"), Some("Order number: is required"));
        assert_eq!(service_errors("text: is required", None).get("message"), Some("is required"));
        assert!(service_errors("captcha: the solution is wrong", None).get("captcha").is_some_and(|m| m.contains("JavaScript")));
        assert_eq!(service_errors("priority_id: is not a priority", None).get("priority"), Some("is not a priority"));
        let unknown = service_errors("something odd", None);
        assert_eq!(unknown.get("subject"), Some("something odd"));
    }
}
