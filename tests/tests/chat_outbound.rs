//! What the bot posts, end to end: tickets, identity and chat in this process against the stack,
//! Discord faked at its network boundary (`helpdesk_tests::discord`). A conversation is opened
//! the way people open one — the user's message on the fake, taken in by chat's intake — and then
//! these tests look at what the bot posts. Every "nothing else was posted" is checked behind a later post of the same ticket (one
//! ticket's events are posted in order), never by sleeping.

use std::time::Duration;

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    events::v1::{Event, event::Payload},
    identity::v1::{self as id, staff_service_client::StaffServiceClient, token_service_client::TokenServiceClient},
    tickets::v1::{self as pb, MessageKind},
};
use helpdesk_tests::{
    Server, TestEnv,
    chat::with_discord,
    discord::{FakeDiscord, Fault, User},
    eventually, within,
};
use sqlx::PgPool;
use uuid::Uuid;

/// The stack, the fake Discord with a guild and a support channel, and chat pointed at it.
struct Setup {
    env: TestEnv,
    server: Server,
    fake: FakeDiscord,
    support: u64,
    /// A forum channel whose tags are named like statuses and priorities (and one that is not).
    forum: u64,
    pg: PgPool,
    /// An agent named Ann and her token.
    agent: String,
}

async fn setup() -> Setup {
    let env = TestEnv::new().await;
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let support = fake.add_text_channel(guild, "support");
    let forum = fake.add_forum_channel(guild, "help", &["Open", "Completed", "Normal", "bug"]);
    let mut config = with_discord(&env.config, &fake.api_url(), FakeDiscord::TOKEN, &[support]);
    config.chat.forum_channel = Some(forum);
    let server = env.start_with(config).await;
    within(Duration::from_secs(15), "the bot is connected", async || fake.connected_sessions() == 1).await;
    let agent = agent_token(&server, "Ann").await;
    let pg = env.pg().await;
    Setup { env, server, fake, support, forum, pg, agent }
}

async fn agent_token(server: &Server, name: &str) -> String {
    let service = server.service_token().await;
    let request = id::CreateStaffRequest { name: name.into(), email: format!("{}@support.example", Uuid::new_v4()), role: id::StaffRole::Agent as i32 };
    let staff = StaffServiceClient::new(server.identity_channel())
        .create_staff(bearer(request, &service).expect("request"))
        .await
        .expect("create staff")
        .into_inner();
    TokenServiceClient::new(server.identity_channel())
        .issue_staff_token(bearer(id::IssueStaffTokenRequest { staff_id: staff.id }, &service).expect("request"))
        .await
        .expect("staff token")
        .into_inner()
        .token
}

/// A ticket's conversation on Discord: where it continues, and the ticket it carries.
struct Conversation {
    channel: u64,
    ticket: String,
}

impl Setup {
    /// `user` writes to the bot in a DM, and the ticket opens there (its welcome posted).
    async fn dm_ticket(&self, user: &User, text: &str) -> Conversation {
        let dm = self.fake.dm_channel(user);
        let root = self.fake.send(dm, user, text).await;
        self.opened(dm, root).await
    }

    /// `user` writes in the support channel and the ticket continues in the thread chat starts
    /// from that message (a thread from a message has the message's id).
    async fn thread_ticket(&self, user: &User, text: &str) -> Conversation {
        let root = self.fake.send(self.support, user, text).await;
        within(Duration::from_secs(15), "chat starts the ticket's thread", async || self.fake.thread_parent_message(root) == Some(root)).await;
        self.opened(root, root).await
    }

    /// Chat's intake took the conversation's first message: the welcome comes first there, and
    /// the conversation knows its ticket.
    async fn opened(&self, channel: u64, root: u64) -> Conversation {
        let welcome = self.fake.wait_posted(channel, 1).await;
        assert!(welcome[0].content.starts_with("Ticket #"), "the welcome comes first: {:?}", welcome[0].content);
        let ticket: Uuid = sqlx::query_scalar("SELECT ticket_id FROM chat.conversations WHERE root_message_id = $1 AND ticket_id IS NOT NULL")
            .bind(i64::try_from(root).expect("snowflake"))
            .fetch_one(&self.pg)
            .await
            .expect("the conversation knows its ticket once it is welcomed");
        Conversation { channel, ticket: ticket.to_string() }
    }

    async fn reply(&self, ticket: &str, text: &str, attachments: Vec<pb::AttachmentRef>) {
        let request = pb::ReplyRequest { ticket_id: ticket.into(), text: text.into(), attachments, ..Default::default() };
        self.server.clients.tickets().reply(bearer(request, &self.agent).expect("request")).await.expect("reply");
    }

    async fn notes(&self, ticket: &str) -> Vec<String> {
        let messages = helpdesk_kit::pages::all_messages(&mut self.server.clients.tickets(), &self.agent, ticket).await.expect("messages");
        messages.into_iter().filter(|m| m.kind == MessageKind::InternalNote as i32).map(|m| m.text).collect()
    }

    async fn conversation_state(&self, ticket: &str) -> String {
        sqlx::query_scalar("SELECT state FROM chat.conversations WHERE ticket_id = $1")
            .bind(Uuid::parse_str(ticket).expect("uuid"))
            .fetch_one(&self.pg)
            .await
            .expect("state")
    }
}

fn contents(posted: &[helpdesk_tests::discord::Posted]) -> Vec<&str> {
    posted.iter().map(|p| p.content.as_str()).collect()
}

#[tokio::test]
async fn an_agent_reply_reaches_the_dm_signed_a_note_never_does_and_a_contact_reply_says_where_it_came_from() {
    let s = setup().await;
    let maria = s.fake.user("Maria");
    let dm = s.dm_ticket(&maria, "My parcel is late").await;
    let welcome = &s.fake.posted(dm.channel)[0];
    assert!(welcome.content.contains("opened — replies here go to our support team"), "{:?}", welcome.content);
    assert!(welcome.components.to_string().contains(&format!("helpdesk:close:{}", dm.ticket)), "the Close button: {}", welcome.components);

    let note = pb::AddNoteRequest { ticket_id: dm.ticket.clone(), text: "customer seems upset".into() };
    s.server.clients.tickets().add_note(bearer(note, &s.agent).expect("request")).await.expect("note");
    s.reply(&dm.ticket, "Your parcel ships today.", Vec::new()).await;
    let posted = s.fake.wait_posted(dm.channel, 2).await;
    assert_eq!(contents(&posted)[1], "**Ann (Support)**\nYour parcel ships today.");

    let contact_id: String = sqlx::query_scalar("SELECT contact_id::text FROM tickets.tickets WHERE id = $1::uuid")
        .bind(&dm.ticket)
        .fetch_one(&s.pg)
        .await
        .expect("the ticket's contact");
    let contact = s
        .server
        .clients
        .contact_token(id::issue_contact_token_request::Contact::ContactId(contact_id))
        .await
        .expect("contact token");
    let request = pb::ReplyRequest { ticket_id: dm.ticket.clone(), text: "Thanks!".into(), ..Default::default() };
    s.server.clients.tickets().reply(bearer(request, &contact).expect("request")).await.expect("contact reply");
    let posted = s.fake.wait_posted(dm.channel, 3).await;
    assert_eq!(contents(&posted)[2], "**Maria (on the portal)**\nThanks!");
    assert_eq!(posted.len(), 3, "the internal note was never posted: {:?}", contents(&posted));
    assert!(!contents(&posted).iter().any(|c| c.contains("upset")));
}

#[tokio::test]
async fn a_long_reply_is_three_messages_in_order_cut_between_characters_and_an_attachment_is_uploaded() {
    let s = setup().await;
    let user = s.fake.user("Kenji");
    let dm = s.dm_ticket(&user, "Logs attached soon").await;

    // The signature line and its newline take 18 characters: the emoji straddles character 2,000.
    let text = format!("{}😀{}", "a".repeat(1981), "b".repeat(4500 - 1982));
    s.reply(&dm.ticket, &text, Vec::new()).await;
    let posted = s.fake.wait_posted(dm.channel, 4).await;
    let parts = &contents(&posted)[1..];
    assert_eq!(parts.len(), 3, "{:?}", parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>());
    assert!(parts.iter().all(|p| p.chars().count() <= 2000 && p.encode_utf16().count() <= 2000));
    assert!(parts[1].starts_with('😀'), "the cut falls before the emoji, not inside it");
    assert_eq!(parts.concat(), format!("**Ann (Support)**\n{text}"), "nothing lost, in order");
    assert!(posted[1].id < posted[2].id && posted[2].id < posted[3].id);

    let upload = pb::UploadAttachmentRequest { filename: "notes.txt".into(), content_type: "text/plain".into(), data: b"line one\nline two\n".to_vec() };
    let attachment = s.server.clients.tickets().upload_attachment(bearer(upload, &s.agent).expect("request")).await.expect("upload").into_inner();
    s.reply(&dm.ticket, "Here are the notes.", vec![attachment]).await;
    let posted = s.fake.wait_posted(dm.channel, 5).await;
    assert_eq!(posted[4].content, "**Ann (Support)**\nHere are the notes.");
    assert_eq!(posted[4].files, vec![("notes.txt".to_string(), b"line one\nline two\n".to_vec())]);
}

#[tokio::test]
async fn a_redelivered_reply_event_posts_nothing_twice() {
    let s = setup().await;
    let user = s.fake.user("Ola");
    let dm = s.dm_ticket(&user, "Where is my invoice?").await;
    s.reply(&dm.ticket, "Sent it again.", Vec::new()).await;
    s.fake.wait_posted(dm.channel, 2).await;
    let requests = s.fake.create_message_requests(dm.channel);

    let subject = s.env.subjects().event("tickets", "message_added");
    let events = s.env.events_on(&subject).await;
    let reply_event: Event = events
        .into_iter()
        .map(|(_, event)| event)
        .find(|event| matches!(&event.payload, Some(Payload::MessageAdded(added)) if added.ticket_id == dm.ticket))
        .expect("the reply's MessageAdded");
    // The same event again under a new event id: the stream cannot deduplicate it, the ledger must.
    s.env.publish_event(reply_event.payload.expect("payload")).await;
    s.reply(&dm.ticket, "Anything else?", Vec::new()).await;
    let posted = s.fake.wait_posted(dm.channel, 3).await;
    assert_eq!(contents(&posted)[1..], ["**Ann (Support)**\nSent it again.", "**Ann (Support)**\nAnything else?"]);
    assert_eq!(s.fake.create_message_requests(dm.channel), requests + 1, "the redelivered reply did not even ask Discord");
}

#[tokio::test]
async fn a_rate_limited_post_is_waited_out_and_delivered_once() {
    let s = setup().await;
    let user = s.fake.user("Priya");
    let dm = s.dm_ticket(&user, "Refund please").await;
    let requests = s.fake.create_message_requests(dm.channel);
    s.fake.fail_next("POST", &format!("/channels/{}/messages", dm.channel), Fault::RateLimited { retry_after: 0.3, global: false });
    s.reply(&dm.ticket, "Refund issued.", Vec::new()).await;
    let posted = s.fake.wait_posted(dm.channel, 2).await;
    assert_eq!(contents(&posted)[1..], ["**Ann (Support)**\nRefund issued."]);
    assert_eq!(s.fake.create_message_requests(dm.channel), requests + 2, "one refused, one delivered");
}

#[tokio::test]
async fn a_forbidden_post_becomes_an_internal_note_and_other_tickets_keep_flowing() {
    let s = setup().await;
    let (blocked_user, other_user) = (s.fake.user("Lena"), s.fake.user("Tom"));
    let blocked = s.dm_ticket(&blocked_user, "Help with login").await;
    let other = s.dm_ticket(&other_user, "Help with billing").await;
    s.fake.fail_next("POST", &format!("/channels/{}/messages", blocked.channel), Fault::Forbidden);
    s.reply(&blocked.ticket, "Try resetting your password.", Vec::new()).await;
    s.reply(&other.ticket, "Your invoice is fixed.", Vec::new()).await;
    let posted = s.fake.wait_posted(other.channel, 2).await;
    assert_eq!(posted[1].content, "**Ann (Support)**\nYour invoice is fixed.");
    eventually("the refused reply is noted on its ticket", async || {
        s.notes(&blocked.ticket).await.iter().any(|n| n.starts_with("could not post to Discord: missing permission"))
    })
    .await;
    assert_eq!(s.fake.posted(blocked.channel).len(), 1, "only the welcome is there");
    assert_eq!(s.conversation_state(&blocked.ticket).await, "open", "a missing permission does not end the conversation");
    assert!(s.notes(&other.ticket).await.is_empty());
}

#[tokio::test]
async fn an_archived_thread_is_unarchived_and_posted_in_and_a_deleted_one_makes_the_conversation_gone() {
    let s = setup().await;
    let user = s.fake.user("Sam");
    let archived = s.thread_ticket(&user, "The app crashes").await;
    let deleted = s.thread_ticket(&user, "And the site is slow").await;

    s.fake.archive(archived.channel);
    s.reply(&archived.ticket, "A fix is out.", Vec::new()).await;
    let posted = s.fake.wait_posted(archived.channel, 2).await;
    assert_eq!(posted[1].content, "**Ann (Support)**\nA fix is out.");
    assert_eq!(s.fake.channel_json(archived.channel)["thread_metadata"]["archived"], serde_json::json!(false));

    s.fake.delete_channel(deleted.channel);
    s.reply(&deleted.ticket, "Looking into it.", Vec::new()).await;
    eventually("the deleted thread is noted on its ticket", async || {
        s.notes(&deleted.ticket).await.iter().any(|n| n.starts_with("could not post to Discord: the thread or channel was deleted"))
    })
    .await;
    assert_eq!(s.conversation_state(&deleted.ticket).await, "gone");
}

#[tokio::test]
async fn a_completed_ticket_gets_its_closing_line_and_the_conversation_closes() {
    let s = setup().await;
    let user = s.fake.user("Iris");
    let dm = s.dm_ticket(&user, "Cancel my plan").await;
    let thread = s.thread_ticket(&user, "Delete my account").await;
    for ticket in [&dm.ticket, &thread.ticket] {
        let request = pb::CompleteTicketRequest { ticket_id: ticket.clone() };
        s.server.clients.tickets().complete_ticket(bearer(request, &s.agent).expect("request")).await.expect("complete");
    }
    let in_dm = s.fake.wait_posted(dm.channel, 2).await;
    assert!(in_dm[1].content.ends_with("is completed — a new message opens a new ticket."), "{:?}", in_dm[1].content);
    let in_thread = s.fake.wait_posted(thread.channel, 2).await;
    assert!(in_thread[1].content.ends_with("is completed — write here to reopen it."), "{:?}", in_thread[1].content);
    eventually("both conversations are closed", async || {
        s.conversation_state(&dm.ticket).await == "closed" && s.conversation_state(&thread.ticket).await == "closed"
    })
    .await;
}

#[tokio::test]
async fn a_forum_post_shows_its_tickets_status_and_priority_as_tags_and_keeps_its_name() {
    let s = setup().await;
    let forum = s.forum;
    let user = s.fake.user("Noor");
    let (post, root) = s.fake.start_forum_post(forum, &user, "Export fails", "CSV export gives an empty file").await;
    let ticket = s.opened(post, root).await.ticket;

    let available = s.fake.channel_json(forum)["available_tags"].clone();
    let tag = |name: &str| -> String {
        available.as_array().into_iter().flatten().find(|t| t["name"] == name).and_then(|t| t["id"].as_str()).expect("the forum's tag").to_string()
    };
    let applied = || {
        let post = s.fake.channel_json(post);
        let mut applied: Vec<String> = post["applied_tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect();
        applied.sort();
        applied
    };
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names
    };
    let want_open = sorted(vec![tag("Open"), tag("Normal")]);
    eventually("the new post carries the Open and Normal tags", async || applied() == want_open).await;

    let request = pb::CompleteTicketRequest { ticket_id: ticket.clone() };
    s.server.clients.tickets().complete_ticket(bearer(request, &s.agent).expect("request")).await.expect("complete");
    let want_completed = sorted(vec![tag("Completed"), tag("Normal")]);
    eventually("the completed post carries the Completed tag instead of Open", async || applied() == want_completed).await;
    assert_eq!(s.fake.channel_json(post)["name"], "Export fails", "the post is never renamed");
    assert!(s.fake.wait_posted(post, 2).await[1].content.ends_with("write here to reopen it."));
}
