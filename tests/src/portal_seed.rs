//! The contact portal's browser-test scenario (tests/tests/portal_browser.rs), made through the
//! services' real gRPC APIs exactly as an admin, an agent and contacts would: a staff admin whose
//! token the browser tests use for agent actions and settings, a contact group that shares tickets
//! and is low on support time with two members who have passwords (one with a ticket the other
//! should see), a contact of another group, ticket categories with custom fields of several types
//! (one required), and knowledge-base articles — a published public "How do I reset my
//! password?" plus a draft and an internal one that the portal must never show.
//!
//! Addresses carry a per-run suffix because the stack's SMTP sink keeps every mail ever sent:
//! the activation link read for a contact must be this run's. `PortalSeed::to_json` is what the
//! browser tests read as `HD_SEED`.

use std::time::Duration;

use anyhow::Context;
use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1::{
        self as identity, account_service_client::AccountServiceClient, group_service_client::GroupServiceClient,
        settings_service_client::SettingsServiceClient, staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    kb::v1 as kb,
    tickets::v1::{self as tickets, ticket_admin_service_client::TicketAdminServiceClient},
};
use serde_json::{Value, json};

use crate::{Server, TestEnv, link_token, wait_for_mail, wait_until};

/// Every seeded contact's password (long enough, not a common one).
pub const PASSWORD: &str = "staple-battery-horse-42";
/// The SSO provider the runner configures (the stack's OpenID provider) and its button text.
pub const SSO_PROVIDER: &str = "test-oidc";
pub const SSO_NAME: &str = "Test OP";
/// Support time granted to the group and used on the colleague's ticket: 20 minutes remain,
/// under tickets' default alert threshold of 60, so the group is "low".
const GRANTED_MINUTES: i64 = 120;
const USED_MINUTES: i32 = 100;

/// A contact with a password.
pub struct Contact {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// What the browser tests need to know about the seed.
pub struct PortalSeed {
    pub staff_token: String,
    pub group_id: String,
    pub group_name: String,
    /// Members of the group.
    pub ann: Contact,
    pub ben: Contact,
    /// Of another group: must never see the group's tickets.
    pub olga: Contact,
    /// Ben's ticket, which Ann sees in "My group's tickets" and Olga gets a 404 for.
    pub colleague_ticket: (String, i64, String),
    /// (id, name, fields as JSON) of each ticket category.
    pub categories: Vec<(String, String, Value)>,
    /// (slug, title) of the kb's visible articles, the draft and the internal one.
    pub articles: Value,
    pub kb_category: (String, String),
}

impl PortalSeed {
    pub fn to_json(&self) -> Value {
        let contact = |c: &Contact| json!({ "id": c.id, "name": c.name, "email": c.email, "password": PASSWORD });
        let (ticket_id, number, subject) = &self.colleague_ticket;
        json!({
            "password": PASSWORD,
            "group": { "id": self.group_id, "name": self.group_name,
                       "remaining_minutes": GRANTED_MINUTES - i64::from(USED_MINUTES), "alert": "low" },
            "ann": contact(&self.ann),
            "ben": contact(&self.ben),
            "olga": contact(&self.olga),
            "colleague_ticket": { "id": ticket_id, "number": number, "subject": subject },
            "categories": self.categories.iter()
                .map(|(id, name, fields)| json!({ "id": id, "name": name, "fields": fields }))
                .collect::<Vec<_>>(),
            "kb_category": { "slug": self.kb_category.0, "name": self.kb_category.1 },
            "articles": self.articles,
            "sso": { "provider": SSO_PROVIDER, "name": SSO_NAME },
        })
    }
}

/// The portal settings the walk starts from; each browser test changes what it tests and puts
/// them back. Captcha off so that sign-up also works with JavaScript off.
pub fn start_settings() -> identity::PortalSettings {
    identity::PortalSettings {
        password_login: true,
        sso_providers: vec![SSO_PROVIDER.into()],
        signup_mode: identity::SignupMode::Open as i32,
        contacts_may_close_tickets: true,
        ..Default::default()
    }
}

/// Seeds the scenario; `run` makes this run's addresses unique.
pub async fn seed(env: &TestEnv, server: &Server, run: &str) -> anyhow::Result<PortalSeed> {
    let service = server.service_token().await;
    let staff_token = staff_admin(server, &service).await?;
    SettingsServiceClient::new(server.identity_channel())
        .update_portal_settings(bearer(identity::UpdatePortalSettingsRequest { settings: Some(start_settings()) }, &staff_token)?)
        .await?;

    let ann = account(server, &service, "Ann Archer", &format!("ann-{run}@acme.example")).await?;
    let ben = account(server, &service, "Ben Baker", &format!("ben-{run}@acme.example")).await?;
    let olga = account(server, &service, "Olga Ortiz", &format!("olga-{run}@globex.example")).await?;
    let group_name = "Acme Corp".to_string();
    let group_id = group(server, &staff_token, &group_name, &[&ann, &ben]).await?;
    group(server, &staff_token, "Globex", &[&olga]).await?;
    members_reached_tickets(env, &[&ann.id, &ben.id, &olga.id]).await?;

    let categories = categories(server, &staff_token).await?;
    let colleague_ticket = colleague_ticket(server, &staff_token, &ben, &group_id).await?;
    let (kb_category, articles) = articles(server, &staff_token).await?;
    Ok(PortalSeed { staff_token, group_id, group_name, ann, ben, olga, colleague_ticket, categories, articles, kb_category })
}

/// A staff admin (a real one in identity) and a token for it.
async fn staff_admin(server: &Server, service: &str) -> anyhow::Result<String> {
    let request = identity::CreateStaffRequest {
        name: "Alex Agent".into(),
        email: "alex.agent@support.example".into(),
        role: identity::StaffRole::Admin as i32,
    };
    let staff = StaffServiceClient::new(server.identity_channel()).create_staff(bearer(request, service)?).await?.into_inner();
    let token = TokenServiceClient::new(server.identity_channel())
        .issue_staff_token(bearer(identity::IssueStaffTokenRequest { staff_id: staff.id }, service)?)
        .await?
        .into_inner()
        .token;
    Ok(token)
}

/// Sign-up → activation mail from the SMTP sink → activation with [`PASSWORD`].
async fn account(server: &Server, service: &str, name: &str, email: &str) -> anyhow::Result<Contact> {
    let mut accounts = AccountServiceClient::new(server.identity_channel());
    let request = identity::RequestAccountRequest { name: name.into(), email: email.into(), ..Default::default() };
    accounts.request_account(bearer(request, service)?).await?;
    let mails = wait_for_mail(email, 1).await;
    let mail = mails.last().with_context(|| format!("no activation mail for {email}"))?;
    let request = identity::ActivateAccountRequest {
        token: link_token(mail, "activate"),
        password: PASSWORD.into(),
        ..Default::default()
    };
    let session = accounts.activate_account(bearer(request, service)?).await?.into_inner();
    Ok(Contact { id: session.contact_id, name: name.into(), email: email.into() })
}

/// A group that shares tickets, with these members.
async fn group(server: &Server, token: &str, name: &str, members: &[&Contact]) -> anyhow::Result<String> {
    let mut groups = GroupServiceClient::new(server.identity_channel());
    let request = identity::CreateGroupRequest { name: name.into(), share_tickets: true, auto_join_domains: vec![] };
    let group = groups.create_group(bearer(request, token)?).await?.into_inner();
    for member in members {
        let request = identity::GroupMemberRequest { group_id: group.id.clone(), contact_id: member.id.clone() };
        groups.add_group_member(bearer(request, token)?).await?;
    }
    Ok(group.id)
}

/// Tickets learns memberships from identity's events; a ticket filed before that has no group.
async fn members_reached_tickets(env: &TestEnv, contacts: &[&String]) -> anyhow::Result<()> {
    let pg = env.pg().await;
    let ids: Vec<uuid::Uuid> = contacts.iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
    let query = "SELECT count(*) FROM tickets.group_members m JOIN tickets.contact_groups g ON g.id = m.group_id
                 WHERE g.share_tickets AND m.contact_id = ANY($1)";
    let known = async || -> i64 { sqlx::query_scalar(query).bind(&ids).fetch_one(&pg).await.expect("members known to tickets") };
    let expected = i64::try_from(ids.len())?;
    wait_until(Duration::from_secs(30), "the group memberships reached tickets (members known)", known, |&known| known == expected).await;
    Ok(())
}

fn field(key: &str, label: &str, kind: tickets::FieldType, required: bool, options: &[&str]) -> tickets::FieldDefinition {
    tickets::FieldDefinition {
        key: key.into(),
        label: label.into(),
        r#type: kind as i32,
        required,
        options: options.iter().map(|o| o.to_string()).collect(),
        position: 0,
    }
}

/// "Billing" (a required text field, a number, a date, a dropdown, a checkbox) and "Technical"
/// (a multi-line text and a multi-select).
async fn categories(server: &Server, token: &str) -> anyhow::Result<Vec<(String, String, Value)>> {
    use tickets::FieldType::*;
    let definitions = [
        ("Billing", vec![
            field("invoice", "Invoice number", Text, true, &[]),
            field("amount", "Amount", Number, false, &[]),
            field("invoice_date", "Invoice date", Date, false, &[]),
            field("plan", "Plan", Dropdown, false, &["Basic", "Pro", "Enterprise"]),
            field("refund", "Refund requested", Checkbox, false, &[]),
        ]),
        ("Technical", vec![
            field("steps", "Steps to reproduce", Multiline, false, &[]),
            field("platforms", "Platforms", MultiSelect, false, &["Windows", "macOS", "Linux"]),
        ]),
    ];
    let mut admin = TicketAdminServiceClient::new(server.clients.tickets_channel());
    let mut out = Vec::new();
    for (name, mut fields) in definitions {
        for (position, field) in fields.iter_mut().enumerate() {
            field.position = u32::try_from(position)?;
        }
        let described: Vec<Value> = fields
            .iter()
            .map(|f| {
                let kind = tickets::FieldType::try_from(f.r#type).map(|k| k.as_str_name()).unwrap_or("?");
                json!({ "key": f.key, "label": f.label, "type": kind, "required": f.required, "options": f.options })
            })
            .collect();
        let category = tickets::Category { id: String::new(), name: name.into(), fields, active: true };
        let saved = admin.upsert_category(bearer(category, token)?).await?.into_inner();
        out.push((saved.id, name.to_string(), Value::Array(described)));
    }
    Ok(out)
}

/// Ben's ticket, in the group, with support time logged on it so the group runs low.
async fn colleague_ticket(server: &Server, staff: &str, ben: &Contact, group_id: &str) -> anyhow::Result<(String, i64, String)> {
    let subject = "Projector in meeting room 4 flickers".to_string();
    let token = server
        .clients
        .contact_token(identity::issue_contact_token_request::Contact::ContactId(ben.id.clone()))
        .await?;
    let request = tickets::CreateTicketRequest {
        subject: subject.clone(),
        text: "Since Monday the projector flickers every few minutes.".into(),
        ..Default::default()
    };
    let ticket = server.clients.tickets().create_ticket(bearer(request, &token)?).await?.into_inner();
    anyhow::ensure!(ticket.group_id == group_id, "Ben's ticket is not in his group ({:?})", ticket.group_id);
    let mut admin = TicketAdminServiceClient::new(server.clients.tickets_channel());
    let grant = tickets::GrantGroupTimeRequest { group_id: group_id.into(), minutes: GRANTED_MINUTES, note: "Q4".into() };
    admin.grant_group_time(bearer(grant, staff)?).await?;
    let log = tickets::LogTimeRequest { ticket_id: ticket.id.clone(), minutes: USED_MINUTES, note: "on site".into() };
    server.clients.tickets().log_time(bearer(log, staff)?).await?;
    Ok((ticket.id, ticket.number, subject))
}

/// A kb category and its articles: two public published ones, one for signed-in contacts, a
/// draft and an internal one. Returns the category (slug, name) and the articles by role.
async fn articles(server: &Server, staff: &str) -> anyhow::Result<((String, String), Value)> {
    use kb::{ArticleStatus::*, Visibility::*};
    let mut client = server.clients.kb();
    let request = kb::CreateCategoryRequest { name: "Your account".into(), description: "Signing in, passwords and profile".into() };
    let category = client.create_category(bearer(request, staff)?).await?.into_inner();
    let definitions = [
        ("reset", "How do I reset my password?",
         "Open the portal's **Log in** page and choose *Forgot password*. We mail you a link that works once, for an hour.",
         Published, Public),
        ("tickets", "Where can I see my tickets?",
         "Log in and open **My Tickets**: pending, completed and all, with search and filters.", Published, Public),
        ("signed_in", "Changing the name on your account",
         "Open **Account** and change your name; agents see the new one at once.", Published, SignedIn),
        ("draft", "Upcoming password rules (draft)",
         "Not ready: the password policy we plan for next year.", Draft, Public),
        ("internal", "Escalation runbook for password lockouts",
         "Internal: how agents unlock an account after repeated password failures.", Published, Internal),
    ];
    let mut articles = serde_json::Map::new();
    for (role, title, body, status, visibility) in definitions {
        let request = kb::CreateArticleRequest {
            title: title.into(),
            body_markdown: body.into(),
            category_id: category.id.clone(),
            status: status as i32,
            visibility: visibility as i32,
            ..Default::default()
        };
        let article = client.create_article(bearer(request, staff)?).await?.into_inner();
        articles.insert(role.into(), json!({ "id": article.id, "slug": article.slug, "title": title }));
    }
    Ok(((category.slug, category.name), Value::Object(articles)))
}
