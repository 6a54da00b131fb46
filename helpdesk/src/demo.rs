//! Demo data for `serve all --demo`, enough that the portal looks like a help desk in use: a
//! demo contact with a password, in a contact group that is low on support time, with tickets in
//! several states and categories (agent replies on some); knowledge-base categories with public
//! articles ("How do I reset my password?" among them); and an admin. Everything is made through
//! the same gRPC calls any client makes, and only when missing, so restarting the demo does not
//! pile up copies (the password is set again each time, so the printed one always works).
//!
//! The password is set with identity's admin call `SetContactPassword`: the portal's own way
//! (sign-up, then the mailed activation link) needs someone to read the mail.

use std::time::Duration;

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1::{
        self as identity, account_service_client::AccountServiceClient, group_service_client::GroupServiceClient, issue_contact_token_request, staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    kb::v1 as kb,
    tickets::v1::{self as tickets, ticket_admin_service_client::TicketAdminServiceClient},
};

use crate::cli::Clients;

const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_NAME: &str = "Dana Demo";
/// Printed with the portal URL; long enough and not a common password, as identity requires.
const DEMO_PASSWORD: &str = "demo-portal-2026";
const DEMO_ADMIN: &str = "admin@example.com";
const DEMO_GROUP: &str = "Demo Company";
/// Support time granted to the group; its tickets log 150 minutes of it, leaving 30, under
/// tickets' default alert threshold (60), so My Tickets shows the "low on support time" alert.
const GRANTED_MINUTES: i64 = 180;

/// Knowledge-base categories: (name, description, articles as (slug, title, Markdown)).
type Articles = &'static [(&'static str, &'static str, &'static str)];
const KB: &[(&str, &str, Articles)] = &[
    ("Your account", "Signing in, passwords and your profile", &[
        (
            "how-do-i-reset-my-password",
            "How do I reset my password?",
            "Open the portal's **Log in** page and choose *Forgot password*. We mail you a link that works once, \
             for an hour.\n\nNo mail after a few minutes? Check your spam folder, then ask us in a ticket.",
        ),
        (
            "request-an-account",
            "How do I get an account?",
            "Choose **Request new account**, give your name and email, and follow the link we mail you to set \
             your password.",
        ),
        (
            "change-your-name",
            "Changing the name on your account",
            "Open **Account** and change your name; agents see the new one at once.",
        ),
    ]),
    ("Tickets and support", "Filing and following your requests", &[
        (
            "where-can-i-see-my-tickets",
            "Where can I see my tickets?",
            "Log in and open **My Tickets**: *Pending*, *Completed* and *All*, with search, filters and sorting. \
             Members of a company group also see their colleagues' tickets.",
        ),
        (
            "how-fast-do-you-answer",
            "How fast do you answer?",
            "We answer most requests within one business day. Urgent? Set the ticket's priority to **High** or \
             **Urgent**.",
        ),
        (
            "support-time",
            "What is support time?",
            "Company plans include a number of support hours. Time agents spend on your group's tickets is \
             logged against it, and My Tickets warns you when little is left.",
        ),
    ]),
    ("Billing", "Invoices, payments and refunds", &[
        (
            "refunds",
            "How do refunds work?",
            "Refunds go back to the card you paid with, within 5 business days of approval. File a ticket in \
             the **Billing** category with your invoice number.",
        ),
        (
            "download-invoices",
            "Where do I find my invoices?",
            "Every invoice is mailed to your billing contact. Need a copy? Ask in a **Billing** ticket.",
        ),
    ]),
];

pub async fn seed(clients: &Clients, gateway: Option<&str>) -> anyhow::Result<()> {
    let service = clients.service_token().await?;
    let admin_token = demo_admin(clients, &service).await?;
    let contact_id = clients.find_or_create_contact(DEMO_EMAIL, DEMO_NAME).await?;
    let request = identity::SetContactPasswordRequest { contact_id: contact_id.clone(), password: DEMO_PASSWORD.into() };
    AccountServiceClient::new(clients.identity()).set_contact_password(bearer(request, &admin_token)?).await?;
    let group_id = demo_group(clients, &admin_token, &contact_id).await?;
    let token = clients.contact_token(issue_contact_token_request::Contact::ContactId(contact_id)).await?;
    demo_tickets(clients, &admin_token, &token, &group_id).await?;
    knowledge_base(clients, &admin_token).await?;

    if let Some(url) = gateway {
        println!();
        println!("  Support portal:  {url}/");
        println!("  Log in as:       {DEMO_EMAIL}  /  {DEMO_PASSWORD}");
        println!();
    }
    println!("demo contact token: {token}");
    println!("admin token:        {admin_token}");
    if let Some(url) = gateway {
        println!("the JSON API, for integrations:");
        println!("  curl -H 'Authorization: Bearer <demo contact token>' {url}/api/v1/tickets");
        println!("  curl '{url}/api/v1/kb/search?q=password'");
        println!("  curl -H 'Authorization: Bearer <admin token>' {url}/api/v1/settings");
    }
    Ok(())
}

/// The demo admin's token, creating the admin when missing.
async fn demo_admin(clients: &Clients, service: &str) -> anyhow::Result<String> {
    let mut staff = StaffServiceClient::new(clients.identity());
    let existing = staff
        .list_staff(bearer(identity::ListStaffRequest {}, service)?)
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
            staff.create_staff(bearer(request, service)?).await?.into_inner().id
        }
    };
    let token = TokenServiceClient::new(clients.identity())
        .issue_staff_token(bearer(identity::IssueStaffTokenRequest { staff_id: id }, service)?)
        .await?
        .into_inner()
        .token;
    Ok(token)
}

/// The demo company's group (sharing tickets), with the demo contact in it and support time
/// granted once, when the group is made.
async fn demo_group(clients: &Clients, admin: &str, contact_id: &str) -> anyhow::Result<String> {
    let mut groups = GroupServiceClient::new(clients.identity());
    let existing = groups
        .list_groups(bearer(identity::ListGroupsRequest {}, admin)?)
        .await?
        .into_inner()
        .groups
        .into_iter()
        .find(|g| g.name == DEMO_GROUP);
    let group = match existing {
        Some(group) => group,
        None => {
            let request = identity::CreateGroupRequest { name: DEMO_GROUP.into(), share_tickets: true, auto_join_domains: vec![] };
            let group = groups.create_group(bearer(request, admin)?).await?.into_inner();
            let grant = tickets::GrantGroupTimeRequest {
                group_id: group.id.clone(),
                minutes: GRANTED_MINUTES,
                note: "Demo support plan".into(),
            };
            TicketAdminServiceClient::new(clients.tickets_channel()).grant_group_time(bearer(grant, admin)?).await?;
            group
        }
    };
    if !group.member_ids.iter().any(|m| m == contact_id) {
        let request = identity::GroupMemberRequest { group_id: group.id.clone(), contact_id: contact_id.into() };
        groups.add_group_member(bearer(request, admin)?).await?;
    }
    Ok(group.id)
}

/// Tickets learns group memberships from identity's events; a ticket filed before that would
/// not be the group's. Waits (briefly) until tickets answers the member's question about the
/// group's time, which it does only for members it knows.
async fn membership_reached_tickets(clients: &Clients, token: &str, group_id: &str) -> anyhow::Result<bool> {
    let mut admin = TicketAdminServiceClient::new(clients.tickets_channel());
    for _ in 0..100 {
        let request = tickets::GetGroupTimeRequest { group_id: group_id.into() };
        if admin.get_group_time(bearer(request, token)?).await.is_ok() {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

/// A ticket to file: subject, first message, category name ("" for none), priority id, and what
/// support did with it: an agent's reply, and the status it is left in.
struct DemoTicket {
    subject: &'static str,
    text: &'static str,
    category: &'static str,
    priority: &'static str,
    reply: Option<&'static str>,
    status: Option<&'static str>,
    minutes: i32,
}

const TICKETS: &[DemoTicket] = &[
    DemoTicket {
        subject: "Invoice 1042 was charged twice",
        text: "Our card was charged twice for invoice 1042 this month. Could you refund one of the payments?",
        category: "Billing",
        priority: "high",
        reply: Some("Thanks for telling us. I see both payments and have asked billing to refund the second one."),
        status: Some("in_progress"),
        minutes: 30,
    },
    DemoTicket {
        subject: "The app crashes when I export a report",
        text: "Exporting the monthly report as PDF closes the app. It started after yesterday's update.",
        category: "Technical",
        priority: "normal",
        reply: Some("Fixed in today's release 4.2.1: please update and try again. Closing this for now."),
        status: Some("completed"),
        minutes: 120,
    },
    DemoTicket {
        subject: "Please add a second admin to our account",
        text: "Could you make Sam (sam@example.com) an admin of our company account as well?",
        category: "",
        priority: "low",
        reply: Some("Happy to. Could you confirm that Sam may see all of your company's tickets?"),
        status: Some("waiting"),
        minutes: 0,
    },
    DemoTicket {
        subject: "Welcome to the help desk",
        text: "This is a demo ticket. Reply to it, or file a new one from the portal.",
        category: "",
        priority: "normal",
        reply: None,
        status: None,
        minutes: 0,
    },
];

/// The ticket categories the demo files in (made when missing), by name → id.
async fn ticket_categories(clients: &Clients, admin: &str) -> anyhow::Result<Vec<tickets::Category>> {
    let mut client = TicketAdminServiceClient::new(clients.tickets_channel());
    let mut categories =
        client.list_categories(bearer(tickets::ListCategoriesRequest {}, admin)?).await?.into_inner().categories;
    let field = |key: &str, label: &str, kind: tickets::FieldType, options: &[&str]| tickets::FieldDefinition {
        key: key.into(),
        label: label.into(),
        r#type: kind as i32,
        required: false,
        options: options.iter().map(|o| o.to_string()).collect(),
        position: 0,
    };
    let wanted = [
        ("Billing", vec![field("invoice", "Invoice number", tickets::FieldType::Text, &[])]),
        ("Technical", vec![field("platform", "Platform", tickets::FieldType::Dropdown, &["Windows", "macOS", "Linux"])]),
    ];
    for (name, fields) in wanted {
        if categories.iter().any(|c| c.name == name) {
            continue;
        }
        let category = tickets::Category { id: String::new(), name: name.into(), fields, active: true };
        categories.push(client.upsert_category(bearer(category, admin)?).await?.into_inner());
    }
    Ok(categories)
}

/// The demo contact's tickets, filed once (when the contact has none), then answered, moved and
/// timed by the admin as an agent would.
async fn demo_tickets(clients: &Clients, admin: &str, token: &str, group_id: &str) -> anyhow::Result<()> {
    let existing = clients
        .tickets()
        .list_tickets(bearer(tickets::ListTicketsRequest { page_size: 1, ..Default::default() }, token)?)
        .await?
        .into_inner();
    if !existing.tickets.is_empty() {
        return Ok(());
    }
    if !membership_reached_tickets(clients, token, group_id).await? {
        tracing::warn!("the demo group's membership has not reached tickets yet: its tickets are filed without the group");
    }
    let categories = ticket_categories(clients, admin).await?;
    let mut client = clients.tickets();
    for demo in TICKETS {
        let category_id = categories.iter().find(|c| c.name == demo.category).map(|c| c.id.clone()).unwrap_or_default();
        let request = tickets::CreateTicketRequest {
            subject: demo.subject.into(),
            text: demo.text.into(),
            category_id,
            priority_id: demo.priority.into(),
            ..Default::default()
        };
        let ticket = client.create_ticket(bearer(request, token)?).await?.into_inner();
        if let Some(reply) = demo.reply {
            let request = tickets::ReplyRequest { ticket_id: ticket.id.clone(), text: reply.into(), ..Default::default() };
            client.reply(bearer(request, admin)?).await?;
        }
        if demo.minutes > 0 {
            let request = tickets::LogTimeRequest { ticket_id: ticket.id.clone(), minutes: demo.minutes, note: "demo".into() };
            client.log_time(bearer(request, admin)?).await?;
        }
        if let Some(status) = demo.status {
            let request =
                tickets::UpdateTicketRequest { ticket_id: ticket.id, status_id: Some(status.into()), ..Default::default() };
            client.update_ticket(bearer(request, admin)?).await?;
        }
    }
    Ok(())
}

/// The KB's categories and public articles. An article already there (by slug) is only filed
/// into its category, so a database seeded by an older demo gains the categories too.
async fn knowledge_base(clients: &Clients, admin: &str) -> anyhow::Result<()> {
    let mut client = clients.kb();
    let existing = client.list_categories(bearer(kb::ListCategoriesRequest {}, admin)?).await?.into_inner().categories;
    for (name, description, articles) in KB {
        let category = match existing.iter().find(|c| c.name == *name) {
            Some(category) => category.clone(),
            None => {
                let request = kb::CreateCategoryRequest { name: (*name).into(), description: (*description).into() };
                client.create_category(bearer(request, admin)?).await?.into_inner()
            }
        };
        for (slug, title, body) in *articles {
            let key = kb::get_article_request::Key::Slug((*slug).into());
            match client.get_article(bearer(kb::GetArticleRequest { key: Some(key) }, admin)?).await {
                Ok(found) if found.get_ref().category_id == category.id => {}
                Ok(found) => {
                    let request = kb::UpdateArticleRequest {
                        id: found.into_inner().id,
                        category_id: Some(category.id.clone()),
                        ..Default::default()
                    };
                    client.update_article(bearer(request, admin)?).await?;
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    let request = kb::CreateArticleRequest {
                        title: (*title).into(),
                        body_markdown: (*body).into(),
                        category_id: category.id.clone(),
                        status: kb::ArticleStatus::Published as i32,
                        visibility: kb::Visibility::Public as i32,
                        slug: (*slug).into(),
                        ..Default::default()
                    };
                    client.create_article(bearer(request, admin)?).await?;
                }
                Err(status) => return Err(status.into()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_group_is_left_low_on_support_time_but_not_out_of_it() {
        let used: i64 = TICKETS.iter().map(|t| i64::from(t.minutes)).sum();
        let remaining = GRANTED_MINUTES - used;
        assert!(remaining > 0 && remaining < 60, "{remaining}");
    }

    #[test]
    fn the_demo_has_the_password_article_and_tickets_in_several_states() {
        assert!(KB.iter().flat_map(|(_, _, a)| a.iter()).any(|(_, title, _)| *title == "How do I reset my password?"));
        let states: std::collections::BTreeSet<_> = TICKETS.iter().map(|t| t.status).collect();
        assert!(states.len() >= 3, "{states:?}");
    }
}
