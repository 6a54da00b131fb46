//! Demo data for `serve all --demo`: a contact, a ticket of theirs, a few public articles and an
//! admin, created through the same gRPC calls any client makes, and only when missing, so
//! restarting the demo does not pile up copies.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1::{
        self as identity, issue_contact_token_request, staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    kb::v1 as kb,
    tickets::v1 as tickets,
};

use crate::cli::Clients;

const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_ADMIN: &str = "admin@example.com";

const ARTICLES: &[(&str, &str)] = &[
    (
        "How do I reset my password?",
        "Open the portal's login page and choose **Forgot password**. We mail you a link that works once, for an hour.",
    ),
    (
        "Where can I see my tickets?",
        "Sign in and open **My Tickets**: pending, completed and all, with search.",
    ),
    (
        "How fast do you answer?",
        "We answer most requests within one business day. Urgent? Set the ticket's priority to *high*.",
    ),
];

pub async fn seed(clients: &Clients, gateway: Option<&str>) -> anyhow::Result<()> {
    clients.find_or_create_contact(DEMO_EMAIL, "Demo Contact").await?;
    let token = clients
        .contact_token(issue_contact_token_request::Contact::Email(DEMO_EMAIL.into()))
        .await?;
    let existing = clients
        .tickets()
        .list_tickets(bearer(tickets::ListTicketsRequest { page_size: 1, ..Default::default() }, &token)?)
        .await?
        .into_inner();
    if existing.tickets.is_empty() {
        let request = tickets::CreateTicketRequest {
            subject: "Welcome to the help desk".into(),
            text: "This is a demo ticket. Reply, or file another one through the API.".into(),
            ..Default::default()
        };
        clients.tickets().create_ticket(bearer(request, &token)?).await?;
    }
    let service = clients.service_token().await?;
    let have_articles = !clients
        .kb()
        .search_articles(bearer(kb::SearchArticlesRequest { query: "password".into(), limit: 1 }, &service)?)
        .await?
        .into_inner()
        .hits
        .is_empty();
    if !have_articles {
        for (title, body) in ARTICLES {
            clients
                .create_article(kb::CreateArticleRequest {
                    title: (*title).into(),
                    body_markdown: (*body).into(),
                    status: kb::ArticleStatus::Published as i32,
                    visibility: kb::Visibility::Public as i32,
                    ..Default::default()
                })
                .await?;
        }
    }
    let admin_token = demo_admin(clients).await?;
    println!("demo contact: {DEMO_EMAIL}");
    println!("demo token:   {token}");
    println!("admin token:  {admin_token}");
    if let Some(url) = gateway {
        println!("try:");
        println!("  curl -H 'Authorization: Bearer {token}' {url}/api/v1/tickets");
        println!(
            "  curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n       -d '{{\"subject\":\"Printer on fire\",\"message\":\"Please help\"}}' {url}/api/v1/tickets"
        );
        println!("  curl '{url}/api/v1/kb/search?q=password'");
        println!(
            "  curl -H 'Content-Type: application/json' -d '{{\"name\":\"Ann\",\"email\":\"ann@example.com\"}}' {url}/api/v1/account/signup"
        );
        println!("  curl -H 'Authorization: Bearer <admin token>' {url}/api/v1/settings");
    }
    Ok(())
}

/// The demo admin's token, creating the admin when missing.
async fn demo_admin(clients: &Clients) -> anyhow::Result<String> {
    let service = clients.service_token().await?;
    let mut staff = StaffServiceClient::new(clients.identity());
    let existing = staff
        .list_staff(bearer(identity::ListStaffRequest {}, &service)?)
        .await?
        .into_inner()
        .staff
        .into_iter()
        .find(|s| s.email == DEMO_ADMIN);
    let id = match existing {
        Some(admin) => admin.id,
        None => {
            let request = identity::CreateStaffRequest {
                name: "Demo Admin".into(),
                email: DEMO_ADMIN.into(),
                role: identity::StaffRole::Admin as i32,
            };
            staff.create_staff(bearer(request, &service)?).await?.into_inner().id
        }
    };
    let token = TokenServiceClient::new(clients.identity())
        .issue_staff_token(bearer(identity::IssueStaffTokenRequest { staff_id: id }, &service)?)
        .await?
        .into_inner()
        .token;
    Ok(token)
}
