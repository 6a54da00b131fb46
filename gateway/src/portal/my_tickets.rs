//! My Tickets (`GET /tickets`): the Pending / Completed / All queues with counts, the ticket
//! categories with counts in the side navigation, filters (status, priority, created and due
//! dates), sort, full-text search and keyset pages; for group members *My tickets / My group's
//! tickets* and the group's support-time alert. Everything the list shows is in the URL
//! (`state`), so it is plain links and one GET form, and Back and reload keep it.
//!
//! - `state`: the query string ⇄ [`state::ListState`], the links the page offers, the request;
//! - `view`: rows, counted links and alerts for the template (`portal/my_tickets/list.html`).
//!
//! The services are asked with the contact's own token only: which tickets, counts and groups
//! the contact may see is the tickets service's decision. A parameter the page cannot use is
//! dropped with a notice (or, when the service refuses what the page cannot name, a 400 page),
//! never a 500.

pub mod state;
pub mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{RawQuery, State},
    routing::get,
};
use futures::future::join_all;
use helpdesk_proto::tickets::v1 as pb;
use tonic::Code;

use crate::{
    api::tickets::TicketClients,
    portal::{PortalState, chrome::Chrome, error::PageError},
};
use state::{ListState, Parsed, QUEUES, Scope};
use view::{CategoryLink, QueueLink, Row, TimeAlert};

/// Tickets per page.
pub const PAGE_SIZE: u32 = 20;

pub fn routes() -> Router<PortalState> {
    Router::new().route("/tickets", get(my_tickets))
}

/// A status or priority for the filter's choices.
pub struct Choice {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/my_tickets/list.html")]
struct MyTickets {
    chrome: Chrome,
    state: ListState,
    /// URL names of the parameters that were dropped (the template words each one).
    ignored: Vec<&'static str>,
    alerts: Vec<TimeAlert>,
    queues: Vec<QueueLink>,
    categories: Vec<CategoryLink>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    rows: Vec<Row>,
    next: Option<String>,
    previous: Option<String>,
}

impl MyTickets {
    fn group_view(&self) -> bool {
        self.state.scope == Scope::Group
    }
}

/// The service's field names for the parameters it may refuse (a cursor from an older page, a
/// search over its length limit): the page then drops that parameter and says so.
const REFUSABLE: [(&str, &str); 2] = [("page_token", "after"), ("query", "q")];

async fn my_tickets(
    State(clients): State<TicketClients>,
    chrome: Chrome,
    RawQuery(query): RawQuery,
) -> Result<MyTickets, PageError> {
    chrome.require_token()?;
    let Parsed { mut state, mut ignored } = ListState::parse(query.as_deref());
    if state.scope == Scope::Group && !chrome.in_a_group() {
        state.forget("scope");
        ignored.push("scope");
    }
    // Everything the page shows is asked at once; the list is asked again only when a filter
    // names something that does not exist or the service refuses a parameter (both rare).
    let (mut tickets, mut admin) = (clients.tickets.clone(), clients.admin.clone());
    let (mut counter, mut lister) = (tickets.clone(), tickets.clone());
    let (mut admin_priorities, mut admin_categories) = (admin.clone(), admin.clone());
    let (statuses, priorities, categories, counts, alerts, first_page) = tokio::join!(
        admin.list_statuses(chrome.request(pb::ListStatusesRequest {})?),
        admin_priorities.list_priorities(chrome.request(pb::ListPrioritiesRequest {})?),
        admin_categories.list_categories(chrome.request(pb::ListCategoriesRequest {})?),
        counter.count_tickets(chrome.request(pb::CountTicketsRequest { scope: state.pb_scope() as i32 })?),
        time_alerts(&clients, &chrome),
        lister.list_tickets(chrome.request(state.request(PAGE_SIZE))?),
    );
    let statuses: Vec<Choice> =
        statuses?.into_inner().statuses.into_iter().map(|s| Choice { id: s.id, name: s.name }).collect();
    let priorities: Vec<Choice> =
        priorities?.into_inner().priorities.into_iter().map(|p| Choice { id: p.id, name: p.name }).collect();
    let categories = categories?.into_inner().categories;
    let counts = counts?.into_inner();

    // A filter naming nothing that exists would only ever show an empty list: say so instead.
    let unknown = [
        ("status", !state.status.is_empty() && !statuses.iter().any(|s| s.id == state.status)),
        ("priority", !state.priority.is_empty() && !priorities.iter().any(|p| p.id == state.priority)),
        ("category", !state.category.is_empty() && !categories.iter().any(|c| c.id == state.category)),
    ];
    let mut answer = Some(first_page);
    for (name, _) in unknown.into_iter().filter(|(_, unknown)| *unknown) {
        state.forget(name);
        ignored.push(name);
        answer = None;
    }

    let page = loop {
        let answer = match answer.take() {
            Some(answer) => answer,
            None => tickets.list_tickets(chrome.request(state.request(PAGE_SIZE))?).await,
        };
        match answer {
            Ok(page) => break page.into_inner(),
            Err(status) if status.code() == Code::InvalidArgument => {
                let refused = REFUSABLE
                    .iter()
                    .find(|(field, _)| status.message().starts_with(&format!("{field}:")))
                    .map(|(_, param)| *param)
                    .filter(|param| !ignored.contains(param));
                let Some(param) = refused else { return Err(status.into()) };
                state.forget(param);
                ignored.push(param);
            }
            Err(status) => return Err(status.into()),
        }
    };

    let me = chrome.contact.as_ref().map_or("", |c| c.id.as_str());
    let rows = page.tickets.into_iter().map(|t| Row::new(t, &categories, me)).collect();
    let queues = QUEUES
        .iter()
        .map(|&name| QueueLink {
            name,
            count: match name {
                "pending" => counts.pending,
                "completed" => counts.completed,
                _ => counts.all,
            },
            href: state.with_queue(name),
        })
        .collect();
    // Active categories, and retired ones while tickets still carry them.
    let categories = categories
        .into_iter()
        .map(|c| CategoryLink {
            count: counts.by_category.get(&c.id).copied().unwrap_or(0),
            href: state.with_category(&c.id),
            active: c.active,
            id: c.id,
            name: c.name,
        })
        .filter(|c| c.active || c.count > 0 || c.id == state.category)
        .collect();
    Ok(MyTickets {
        next: Some(page.next_page_token).filter(|t| !t.is_empty()).map(|t| state.next_page(&t)),
        previous: state.previous_page(),
        chrome,
        state,
        ignored,
        alerts: alerts?,
        queues,
        categories,
        statuses,
        priorities,
        rows,
    })
}

/// The alerts of the contact's groups whose support time is low or used up. A group tickets has
/// not heard of yet (memberships travel as events) has no balance to show.
async fn time_alerts(clients: &TicketClients, chrome: &Chrome) -> Result<Vec<TimeAlert>, PageError> {
    let groups = chrome.contact.as_ref().map(|c| c.group_ids.clone()).unwrap_or_default();
    let asks = groups.into_iter().map(|group_id| {
        let mut admin = clients.admin.clone();
        let request = chrome.request(pb::GetGroupTimeRequest { group_id });
        async move { admin.get_group_time(request?).await.map_err(PageError::from) }
    });
    let mut alerts = Vec::new();
    for answer in join_all(asks).await {
        match answer {
            Ok(answer) => alerts.extend(answer.into_inner().balance.as_ref().and_then(TimeAlert::of)),
            Err(PageError::NotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(alerts)
}
