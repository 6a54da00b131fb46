//! Slash commands and the Close button against the fake Discord, through serenity, with the real
//! identity and tickets: `/ticket new` (modal → ticket + thread), `/ticket list`, `/ticket status`,
//! `/ticket close` and the Close button (after a restart of the chat part, refused for a stranger
//! and while contacts may not close tickets), and `/link` (a link in the SMTP sink). Every
//! interaction's first response is checked: a modal or an ephemeral deferral, never nothing.

use helpdesk::config::HelpdeskConfig;
use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    identity::v1::{
        self as id, ExternalIdentity, contact_service_client::ContactServiceClient, find_or_create_contact_request::Key,
        issue_contact_token_request::Contact,
    },
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient},
};
use helpdesk_tests::{
    Server, TestEnv,
    chat::with_discord,
    discord::{Fault, FakeDiscord, User},
    eventually, link_token, wait_for_mail, wait_until,
};
use serde_json::Value;
use std::time::Duration;

/// Discord's flag for a message only its user sees.
const EPHEMERAL: u64 = 64;

struct Desk {
    env: TestEnv,
    fake: FakeDiscord,
    config: HelpdeskConfig,
    support: u64,
}

impl Desk {
    async fn new() -> Self {
        let env = TestEnv::new().await;
        let fake = FakeDiscord::start().await;
        let guild = fake.add_guild("Acme");
        let support = fake.add_text_channel(guild, "support");
        let config = with_discord(&env.config, &fake.api_url(), FakeDiscord::TOKEN, &[support]);
        Self { env, fake, config, support }
    }

    /// The help desk with the chat part, once the bot is connected and its commands registered.
    async fn start(&self) -> Server {
        let identifies = self.fake.identifies();
        let server = self.env.start_with(self.config.clone()).await;
        wait_until(Duration::from_secs(30), "the bot identified and registered its commands", async || {
            (self.fake.identifies(), self.fake.registered_commands())
        }, |(count, commands)| *count > identifies && commands["global"].is_array())
        .await;
        server
    }

    /// Runs `/name [subcommand]` and returns the answer, checking it was deferred ephemerally first.
    async fn command(&self, channel: u64, user: &User, name: &str, subcommand: Option<&str>, options: &[(&str, &str)]) -> String {
        let interaction = self.fake.slash_command(channel, user, name, subcommand, options).await;
        self.deferred_answer(interaction).await
    }

    /// The first response must be an ephemeral deferral (type 5); the answer is its edit.
    async fn deferred_answer(&self, interaction: u64) -> String {
        let first = self.fake.wait_interaction_response(interaction).await;
        assert_eq!(first["type"], 5, "the first response defers: {first}");
        assert_eq!(first["data"]["flags"].as_u64().unwrap_or_default() & EPHEMERAL, EPHEMERAL, "ephemeral: {first}");
        let responses = wait_until(Duration::from_secs(30), "the deferred answer", async || self.fake.interaction_responses(interaction), |r| r.len() >= 2).await;
        responses[1]["content"].as_str().unwrap_or_default().to_string()
    }

    /// `/ticket new` → the modal → submitted; returns the answer.
    async fn new_ticket(&self, channel: u64, user: &User, subject: &str, message: &str, category: &str) -> String {
        let command = self.fake.slash_command(channel, user, "ticket", Some("new"), &[]).await;
        let modal = self.fake.wait_interaction_response(command).await;
        assert_eq!(modal["type"], 9, "/ticket new answers with a modal: {modal}");
        assert_eq!(modal["data"]["custom_id"], "helpdesk:new-ticket");
        let inputs: Vec<&str> = modal["data"]["components"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|row| row["components"][0]["custom_id"].as_str())
            .collect();
        assert_eq!(inputs, ["subject", "message", "category"]);
        let submitted = self
            .fake
            .submit_modal(channel, user, "helpdesk:new-ticket", &[("subject", subject), ("message", message), ("category", category)])
            .await;
        self.deferred_answer(submitted).await
    }

    /// `/ticket status` in `channel`, once the conversation knows its ticket (TicketCreated).
    async fn status_once_known(&self, channel: u64, user: &User) -> String {
        let mut answer = String::new();
        eventually("the conversation knows its ticket", async || {
            answer = self.command(channel, user, "ticket", Some("status"), &[]).await;
            !answer.contains("still being opened")
        })
        .await;
        answer
    }
}

/// A token acting as the Discord user's contact, as chat gets one.
async fn contact_token(server: &Server, user: &User) -> (String, String) {
    let service = server.service_token().await;
    let find = id::FindOrCreateContactRequest {
        key: Some(Key::ExternalIdentity(ExternalIdentity { provider: "discord".into(), subject: user.id.to_string() })),
        name: String::new(),
    };
    let contact = ContactServiceClient::new(server.identity_channel())
        .find_or_create_contact(bearer(find, &service).expect("req"))
        .await
        .expect("contact")
        .into_inner()
        .contact
        .expect("a contact");
    let token = server.clients.contact_token(Contact::ContactId(contact.id.clone())).await.expect("contact token");
    (contact.id, token)
}

async fn tickets_of(server: &Server, token: &str) -> Vec<pb::Ticket> {
    let request = pb::ListTicketsRequest { queue: pb::Queue::All as i32, scope: pb::Scope::Own as i32, ..Default::default() };
    server.clients.tickets().list_tickets(bearer(request, token).expect("req")).await.expect("list").into_inner().tickets
}

async fn ticket(server: &Server, staff: &str, id: &str) -> pb::Ticket {
    let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(id.into())) };
    server.clients.tickets().get_ticket(bearer(request, staff).expect("req")).await.expect("ticket").into_inner()
}

fn completed(ticket: &pb::Ticket) -> bool {
    ticket.status.as_ref().is_some_and(|status| status.kind == pb::StatusKind::Completed as i32)
}

/// The bot's first post in `channel` (the ticket's welcome with its Close button).
async fn welcome(fake: &FakeDiscord, channel: u64) -> u64 {
    fake.wait_posted(channel, 1).await[0].id
}

#[tokio::test]
async fn slash_commands_open_list_show_and_close_tickets_as_the_contact() {
    let desk = Desk::new().await;
    let fake = &desk.fake;
    let server = desk.start().await;

    // Registered globally (no guilds configured): /ticket with four subcommands, and /link.
    let commands = fake.registered_commands();
    let global = commands["global"].as_array().expect("global commands");
    let names = |command: &Value| -> Vec<String> {
        command["options"].as_array().into_iter().flatten().filter_map(|o| o["name"].as_str().map(String::from)).collect()
    };
    let ticket_command = global.iter().find(|c| c["name"] == "ticket").expect("/ticket");
    assert_eq!(names(ticket_command), ["new", "list", "status", "close"]);
    let link_command = global.iter().find(|c| c["name"] == "link").expect("/link");
    assert_eq!(names(link_command), ["email"]);
    assert_eq!(global.len(), 2, "{commands}");

    let (_, admin) = desk.env.staff_token(StaffRole::Admin);
    let category = pb::Category { id: String::new(), name: "Billing".into(), fields: vec![], active: true };
    let billing = TicketAdminServiceClient::new(server.clients.tickets_channel())
        .upsert_category(bearer(category, &admin).expect("req"))
        .await
        .expect("category")
        .into_inner();

    // /ticket new in the support channel: a modal, then a ticket with its own thread.
    let maria = fake.user("maria");
    let answer = desk.new_ticket(desk.support, &maria, "Printer on fire", "It smokes since this morning.", "billing").await;
    let threads = fake.threads_of(desk.support);
    assert_eq!(threads.len(), 1, "one thread for the ticket");
    let thread = threads[0];
    assert_eq!(answer, format!("Ticket opened — we'll answer in <#{thread}>."));
    let starter = fake.posted(desk.support);
    assert_eq!(starter.len(), 1, "the bot's starter message in the support channel");
    assert_eq!(fake.thread_parent_message(thread), Some(starter[0].id));

    let (_, token) = contact_token(&server, &maria).await;
    let mut mine = Vec::new();
    eventually("the ticket is filed for maria's Discord contact", async || {
        mine = tickets_of(&server, &token).await;
        !mine.is_empty()
    })
    .await;
    let filed = &mine[0];
    assert_eq!(filed.subject, "Printer on fire");
    assert_eq!(filed.category_id, billing.id, "the typed category is matched by name");
    assert_eq!(filed.channel, pb::Channel::Chat as i32);
    let messages = server
        .clients
        .tickets()
        .list_messages(bearer(pb::ListMessagesRequest { ticket_id: filed.id.clone(), ..Default::default() }, &token).expect("req"))
        .await
        .expect("messages")
        .into_inner()
        .messages;
    assert_eq!(messages[0].text, "It smokes since this morning.");

    // /ticket status in the thread; elsewhere it says where to use it.
    let status = desk.status_once_known(thread, &maria).await;
    assert!(status.contains(&format!("#{}", filed.number)) && status.contains("Status:"), "{status}");
    let elsewhere = desk.command(desk.support, &maria, "ticket", Some("status"), &[]).await;
    assert!(elsewhere.contains("not a ticket's conversation"), "{elsewhere}");

    // A second ticket from the DM, with an unknown category (said so; filed without one).
    let dm = fake.dm_channel(&maria);
    let answer = desk.new_ticket(dm, &maria, "Invoice missing", "Where is my invoice?", "Nonsense").await;
    assert!(answer.starts_with("Ticket opened — we'll answer here."), "{answer}");
    assert!(answer.contains("no category “Nonsense”"), "{answer}");

    // /ticket list: both, from every channel, with the link to My Tickets.
    eventually("both tickets are filed", async || tickets_of(&server, &token).await.len() == 2).await;
    let list = desk.command(desk.support, &maria, "ticket", Some("list"), &[]).await;
    assert!(list.contains("Printer on fire") && list.contains("Invoice missing"), "{list}");
    assert!(list.contains(&format!("{}/tickets", desk.config.identity.portal_url.trim_end_matches('/'))), "{list}");

    // A stranger's click on the Close button is refused; the ticket stays open.
    let close = format!("helpdesk:close:{}", filed.id);
    let button = welcome(fake, thread).await;
    let stranger = fake.user("stranger");
    let click = fake.click_button(thread, &stranger, button, &close).await;
    let refused = desk.deferred_answer(click).await;
    assert!(refused.contains("not your ticket"), "{refused}");
    assert!(!completed(&ticket(&server, &admin, &filed.id).await));

    // The button is stateless: after a restart of the chat part, maria's click completes it.
    server.stop().await.expect("stop");
    let server = desk.start().await;
    let click = fake.click_button(thread, &maria, button, &close).await;
    let closed = desk.deferred_answer(click).await;
    assert!(closed.contains(&format!("Ticket #{} is completed", filed.number)), "{closed}");
    assert!(completed(&ticket(&server, &admin, &filed.id).await));

    // /ticket close in the DM completes the DM's ticket.
    desk.status_once_known(dm, &maria).await;
    let closed = desk.command(dm, &maria, "ticket", Some("close"), &[]).await;
    assert!(closed.contains("is completed"), "{closed}");
    let remaining: Vec<_> = tickets_of(&server, &token).await.into_iter().filter(|t| !completed(t)).collect();
    assert!(remaining.is_empty(), "every ticket completed: {remaining:?}");

    // Unknown interactions get an ephemeral "not available", at once.
    let unknown = fake.click_button(thread, &maria, button, "helpdesk:unknown:1").await;
    let answer = fake.wait_interaction_response(unknown).await;
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(answer["data"]["flags"].as_u64().unwrap_or_default() & EPHEMERAL, EPHEMERAL);
    assert!(answer["data"]["content"].as_str().unwrap_or_default().contains("not available"), "{answer}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn ticket_new_waits_out_a_rate_limit_and_says_plainly_when_discord_refuses_the_thread() {
    let desk = Desk::new().await;
    let fake = &desk.fake;
    let server = desk.start().await;
    let support_messages = format!("/channels/{}/messages", desk.support);

    // The bot may not post in the support channel: no thread, an answer that says what to fix.
    let maria = fake.user("maria");
    fake.fail_next("POST", &support_messages, Fault::Forbidden);
    let refused = desk.new_ticket(desk.support, &maria, "Printer on fire", "It smokes.", "").await;
    assert!(refused.contains("Create Public Threads") && refused.contains("direct message"), "{refused}");
    assert!(fake.threads_of(desk.support).is_empty(), "no thread without the starter message");

    // Rate limited on the starter message: waited out, then the ticket and its thread.
    fake.fail_next("POST", &support_messages, Fault::RateLimited { retry_after: 0.3, global: false });
    let answer = desk.new_ticket(desk.support, &maria, "Printer still on fire", "Smoke everywhere.", "").await;
    let threads = fake.threads_of(desk.support);
    assert_eq!(threads.len(), 1, "{answer}");
    assert_eq!(answer, format!("Ticket opened — we'll answer in <#{}>.", threads[0]));
    assert_eq!(fake.posted(desk.support).len(), 1, "one starter message, posted once");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn closing_is_refused_while_contacts_may_not_close_tickets() {
    let desk = Desk::new().await;
    let fake = &desk.fake;
    let server = desk.start().await;

    server.change_portal_settings(|s| s.contacts_may_close_tickets = false).await;
    let pg = desk.env.pg().await;
    eventually("tickets has the setting", async || {
        !sqlx::query_scalar::<_, bool>("SELECT contacts_may_close FROM tickets.settings").fetch_one(&pg).await.expect("setting")
    })
    .await;

    let maria = fake.user("maria");
    let dm = fake.dm_channel(&maria);
    desk.new_ticket(dm, &maria, "Locked out", "I cannot sign in.", "").await;
    desk.status_once_known(dm, &maria).await;
    let refused = desk.command(dm, &maria, "ticket", Some("close"), &[]).await;
    assert!(refused.contains("cannot be closed from here"), "{refused}");

    let (_, token) = contact_token(&server, &maria).await;
    let tickets = tickets_of(&server, &token).await;
    assert_eq!(tickets.len(), 1);
    assert!(!completed(&tickets[0]), "the ticket stays open");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn link_mails_a_link_to_any_address_with_the_same_answer() {
    let desk = Desk::new().await;
    let fake = &desk.fake;
    let server = desk.start().await;

    let known = format!("known-{}@example.org", uuid::Uuid::new_v4().simple());
    server.contact_token(&known).await;
    let unknown = format!("unknown-{}@example.org", uuid::Uuid::new_v4().simple());

    let maria = fake.user("maria");
    let dm = fake.dm_channel(&maria);
    let to_known = desk.command(dm, &maria, "link", None, &[("email", &known)]).await;
    let ana = fake.user("ana");
    let to_unknown = desk.command(desk.support, &ana, "link", None, &[("email", &unknown)]).await;
    assert_eq!(to_known.replace(&known, "<address>"), to_unknown.replace(&unknown, "<address>"), "no enumeration");
    assert!(to_known.starts_with("Check your mail: we sent a link to"), "{to_known}");

    for address in [&known, &unknown] {
        let mail = wait_for_mail(address, 1).await;
        assert!(!link_token(&mail[0], "link-identity").is_empty());
    }

    let malformed = desk.command(dm, &maria, "link", None, &[("email", "not an address")]).await;
    assert!(malformed.contains("is not an email address"), "{malformed}");

    server.stop().await.expect("stop");
}
