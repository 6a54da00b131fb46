//! Discord in, end to end: the chat part (serenity itself) against the fake Discord and the real
//! stack. DMs and support-channel messages become tickets and replies for the contact
//! `discord:<user id>`; attachments arrive as the ticket's files; bots' messages and our own posts
//! are ignored; edits and deletes are recorded on the ticket; a replayed dispatch is one message;
//! and across a SIGKILL, and between two replicas, the lease and the backfill lose nothing and
//! take nothing twice.

use std::time::Duration;

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1 as pb;
use helpdesk_tests::{
    TestEnv,
    chat::with_discord,
    discord::FakeDiscord,
    placed, wait_until, within,
};
use sqlx::PgPool;
use uuid::Uuid;

/// Long enough for a backfill of a few hundred messages and the tickets they make.
const CATCH_UP: Duration = Duration::from_secs(90);

/// A test's stack slice, a fake Discord with one guild and its support channel, and a pool on
/// the test database.
struct World {
    env: TestEnv,
    fake: FakeDiscord,
    support: u64,
    pg: PgPool,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let support = fake.add_text_channel(guild, "support");
    let pg = env.pg().await;
    World { env, fake, support, pg }
}

/// Every part in this process, the bot connected to the fake. (Messages sent before the bot's
/// first connection are not its to backfill: it knows no conversation there yet.)
async fn start(env: &TestEnv, fake: &FakeDiscord, support: u64) -> helpdesk_tests::Server {
    let server = env.start_with(with_discord(&env.config, &fake.api_url(), FakeDiscord::TOKEN, &[support])).await;
    connected(fake).await;
    server
}

async fn connected(fake: &FakeDiscord) {
    within(Duration::from_secs(15), "the bot is connected", async || fake.connected_sessions() == 1).await;
}

/// The ticket (id, subject, contact's external identity) tickets made from a Discord message.
async fn ticket_of(pg: &PgPool, message: u64) -> (Uuid, String, String) {
    placed(pg, &message.to_string()).await;
    sqlx::query_as(
        "SELECT t.id, t.subject, e.provider || ':' || e.subject FROM tickets.inbound_messages i
         JOIN tickets.tickets t ON t.id = i.ticket_id
         JOIN identity.external_identities e ON e.contact_id = t.contact_id
         WHERE i.external_id = $1",
    )
    .bind(message.to_string())
    .fetch_one(pg)
    .await
    .expect("the message's ticket")
}

/// The texts of a ticket's messages of `kind` (tickets' store: 1 reply, 2 note), oldest first.
async fn texts(pg: &PgPool, ticket: Uuid, kind: i16) -> Vec<String> {
    sqlx::query_scalar("SELECT body_text FROM tickets.messages WHERE ticket_id = $1 AND kind = $2 ORDER BY created_at, id")
        .bind(ticket)
        .bind(kind)
        .fetch_all(pg)
        .await
        .expect("messages")
}

async fn taken(pg: &PgPool, message: u64) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets.inbound_messages WHERE external_id = $1)")
        .bind(message.to_string())
        .fetch_one(pg)
        .await
        .expect("inbound row")
}

#[tokio::test]
async fn a_dm_opens_a_ticket_for_the_discord_contact_and_the_next_dm_is_a_reply_on_it() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let ann = fake.user("ann");
    let dm = fake.dm_channel(&ann);

    let first = fake.send(dm, &ann, "My order never arrived\nIt was order 1234.").await;
    let (ticket, subject, contact) = ticket_of(&pg, first).await;
    assert_eq!(subject, "My order never arrived");
    assert_eq!(contact, format!("discord:{}", ann.id));
    let name: String = sqlx::query_scalar("SELECT c.name FROM identity.contacts c JOIN tickets.tickets t ON t.contact_id = c.id WHERE t.id = $1")
        .bind(ticket)
        .fetch_one(&pg)
        .await
        .expect("contact");
    assert_eq!(name, "ann");

    let second = fake.send(dm, &ann, "Any news?").await;
    let (same, ..) = ticket_of(&pg, second).await;
    assert_eq!(same, ticket, "the second DM is a reply on the first one's ticket");
    assert_eq!(texts(&pg, ticket, 1).await, ["My order never arrived\nIt was order 1234.", "Any news?"]);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_support_channel_message_gets_a_ticket_and_a_thread_of_its_own_whose_messages_are_replies() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let bob = fake.user("bob");

    let opening = fake.send(support, &bob, "The export button does nothing").await;
    let (ticket, subject, contact) = ticket_of(&pg, opening).await;
    assert_eq!((subject.as_str(), contact), ("The export button does nothing", format!("discord:{}", bob.id)));
    let thread = wait_until(Duration::from_secs(15), "the ticket thread exists", async || fake.threads_of(support), |t| !t.is_empty())
        .await[0];
    assert_eq!(fake.thread_parent_message(thread), Some(opening), "the thread is started from the message");
    assert_eq!(fake.channel_json(thread)["name"], "The export button does nothing");

    let reply = fake.send(thread, &bob, "I am on Firefox, if that matters").await;
    let (same, ..) = ticket_of(&pg, reply).await;
    assert_eq!(same, ticket);

    // A 4,000-character message (Nitro) is stored whole, in the same thread.
    let long: String = "0123456789".repeat(400);
    let long_id = fake.send(thread, &bob, &long).await;
    ticket_of(&pg, long_id).await;
    assert_eq!(texts(&pg, ticket, 1).await.last().map(String::len), Some(4000));
    assert_eq!(fake.threads_of(support).len(), 1, "replies open no threads");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_forum_post_is_a_ticket_named_by_its_title_and_its_messages_are_replies() {
    let World { env, fake, support, pg } = world().await;
    let guild = fake.add_guild("Forum guild");
    let forum = fake.add_forum_channel(guild, "help", &["open", "closed"]);
    let mut config = with_discord(&env.config, &fake.api_url(), FakeDiscord::TOKEN, &[support]);
    config.chat.forum_channel = Some(forum);
    let server = env.start_with(config).await;
    connected(&fake).await;
    let ivy = fake.user("ivy");

    let (post, starter) = fake.start_forum_post(forum, &ivy, "Sync stuck at 99%", "Since this morning, on every device.").await;
    let (ticket, subject, contact) = ticket_of(&pg, starter).await;
    assert_eq!((subject.as_str(), contact), ("Sync stuck at 99%", format!("discord:{}", ivy.id)));
    let reply = fake.send(post, &ivy, "Rebooting did not help").await;
    let (same, ..) = ticket_of(&pg, reply).await;
    assert_eq!(same, ticket);
    assert!(fake.threads_of(forum).iter().all(|thread| *thread == post), "no thread of our own in a forum");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_attachment_arrives_as_the_tickets_file_with_its_bytes() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let cleo = fake.user("cleo");
    let dm = fake.dm_channel(&cleo);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    let message = fake.send_with_files(dm, &cleo, "Screenshot attached", &[("screen.png", &bytes)]).await;
    let (ticket, ..) = ticket_of(&pg, message).await;
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let mut tickets = server.clients.tickets();
    let list = pb::ListMessagesRequest { ticket_id: ticket.to_string(), ..Default::default() };
    let messages = tickets.list_messages(bearer(list, &agent).expect("req")).await.expect("list").into_inner().messages;
    let files = &messages[0].attachments;
    assert_eq!(files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>(), ["screen.png"]);
    let request = pb::GetAttachmentRequest { ticket_id: ticket.to_string(), attachment_id: files[0].id.clone() };
    let data = tickets.download_attachment(bearer(request, &agent).expect("req")).await.expect("download").into_inner().data;
    assert_eq!(data, bytes);
    assert!(!messages[0].text.contains("http"), "no CDN link is stored: {}", messages[0].text);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn bots_messages_and_our_own_posts_open_no_ticket() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let dee = fake.user("dee");
    let dm = fake.dm_channel(&dee);
    let other_bot = fake.bot_user("otherbot");

    let from_bot = fake.send(support, &other_bot, "I am a bot announcing things").await;
    // Our own post, as the reply poster would make it: the fake dispatches it as a MESSAGE_CREATE
    // by the bot user.
    let http = serenity::http::HttpBuilder::new(FakeDiscord::TOKEN).proxy(fake.api_url()).ratelimiter_disabled(true).build();
    let ours = serenity::model::id::ChannelId::new(dm)
        .send_message(&http, serenity::builder::CreateMessage::new().content("Hello from support"))
        .await
        .expect("the bot posts")
        .id
        .get();
    // Sentinels behind them, in the same channels (each channel is taken in order).
    let after_bot = fake.send(support, &dee, "A person in the support channel").await;
    let after_ours = fake.send(dm, &dee, "A person in the DM").await;
    ticket_of(&pg, after_bot).await;
    ticket_of(&pg, after_ours).await;

    assert!(!taken(&pg, from_bot).await, "a bot's message opened a ticket");
    assert!(!taken(&pg, ours).await, "our own post was taken in");
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(tickets, 2);
    assert_eq!(fake.threads_of(support).len(), 1, "only the person's message got a thread");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_edit_and_a_delete_of_a_contacts_message_are_recorded_on_the_ticket() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let eve = fake.user("eve");
    let dm = fake.dm_channel(&eve);

    let first = fake.send(dm, &eve, "The invoice is wrong").await;
    let (ticket, ..) = ticket_of(&pg, first).await;
    let second = fake.send(dm, &eve, "It says 100 EUR").await;
    ticket_of(&pg, second).await;

    fake.edit(dm, second, "It says 1000 EUR").await;
    fake.delete(dm, first).await;
    let notes = wait_until(Duration::from_secs(20), "the edit and the delete are on the ticket", async || texts(&pg, ticket, 2).await, |n| n.len() >= 2).await;
    assert!(notes[0].contains(&second.to_string()) && notes[0].ends_with("\nIt says 1000 EUR"), "{notes:?}");
    assert!(notes[1].contains(&first.to_string()) && notes[1].contains("deleted on Discord"), "{notes:?}");
    let author: i16 = sqlx::query_scalar("SELECT author_kind FROM tickets.messages WHERE ticket_id = $1 AND kind = 2 LIMIT 1")
        .bind(ticket)
        .fetch_one(&pg)
        .await
        .expect("note author");
    let contact_author: i16 = sqlx::query_scalar("SELECT author_kind FROM tickets.messages WHERE ticket_id = $1 AND kind = 1 LIMIT 1")
        .bind(ticket)
        .fetch_one(&pg)
        .await
        .expect("reply author");
    assert_ne!(author, contact_author, "the notes are the system's, not the contact's");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_message_dispatched_again_on_resume_is_one_message() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let finn = fake.user("finn");
    let dm = fake.dm_channel(&finn);
    fake.replay_on_resume(true);

    let first = fake.send(dm, &finn, "Password reset mail never came").await;
    let (ticket, ..) = ticket_of(&pg, first).await;
    fake.drop_connections().await;
    within(Duration::from_secs(20), "serenity resumed", async || fake.resumes() >= 1).await;
    let sentinel = fake.send(dm, &finn, "Still nothing").await;
    ticket_of(&pg, sentinel).await;

    assert_eq!(texts(&pg, ticket, 1).await, ["Password reset mail never came", "Still nothing"]);
    assert_eq!(fake.identifies(), 1, "a resume, not a new session");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn messages_that_reach_the_bot_newest_first_are_each_taken_once() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    let gus = fake.user("gus");
    let dm = fake.dm_channel(&gus);
    let first = fake.send(dm, &gus, "The app crashes on start").await;
    let (ticket, ..) = ticket_of(&pg, first).await;

    // serenity runs each event on a task of its own, so a burst can reach the bot in any order:
    // here the newest first, each older one after a newer one was taken.
    let sent: Vec<String> = (1..=20).map(|i| format!("Crash log part {i}")).collect();
    let ids = fake.send_dispatched_newest_first(dm, &gus, &sent.iter().map(String::as_str).collect::<Vec<_>>());
    for id in &ids {
        let (same, ..) = ticket_of(&pg, *id).await;
        assert_eq!(same, ticket, "message {id} is a reply on the DM's ticket");
    }
    let mut stored = texts(&pg, ticket, 1).await;
    stored.sort();
    let mut expected = sent.clone();
    expected.push("The app crashes on start".to_owned());
    expected.sort();
    assert_eq!(stored, expected, "every message once, none lost behind a newer one");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_support_channel_message_posted_while_the_bot_was_stopped_opens_its_ticket_on_restart() {
    let World { env, fake, support, pg } = world().await;
    let server = start(&env, &fake, support).await;
    // The bot has watched the channel, but nobody has written there yet.
    server.stop().await.expect("clean shutdown");
    within(Duration::from_secs(15), "the bot is gone", async || fake.connected_sessions() == 0).await;

    let carol = fake.user("carol");
    let missed = fake.send(support, &carol, "Is the API down?").await;
    assert!(!taken(&pg, missed).await, "nobody is connected to take it");

    let server = start(&env, &fake, support).await;
    let (_, subject, contact) = ticket_of(&pg, missed).await;
    assert_eq!(subject, "Is the API down?");
    assert_eq!(contact, format!("discord:{}", carol.id));
    server.stop().await.expect("clean shutdown");
}

/// The chat settings for a child `helpdesk` process.
fn chat_env(fake: &FakeDiscord, support: u64) -> Vec<(&'static str, String)> {
    vec![
        ("HELPDESK_CHAT__BOT_TOKEN", FakeDiscord::TOKEN.to_string()),
        ("HELPDESK_CHAT__API_URL", fake.api_url()),
        ("HELPDESK_CHAT__SUPPORT_CHANNELS", format!("[{support}]")),
        ("HELPDESK_CHAT__LEASE_SECS", "3".to_string()),
    ]
}

async fn spawn(env: &TestEnv, fake: &FakeDiscord, support: u64) -> helpdesk_tests::ChildServer {
    let vars = chat_env(fake, support);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.spawn_process(env!("CARGO_BIN_EXE_helpdesk-under-test"), &vars).await
}

#[tokio::test]
async fn messages_posted_while_the_process_was_killed_become_replies_in_order_none_twice() {
    let World { env, fake, support, pg } = world().await;
    let gus = fake.user("gus");
    let dm = fake.dm_channel(&gus);

    let child = spawn(&env, &fake, support).await;
    connected(&fake).await;
    let dm_root = fake.send(dm, &gus, "Laptop will not boot").await;
    let thread_root = fake.send(support, &gus, "VPN drops every hour").await;
    let (dm_ticket, ..) = ticket_of(&pg, dm_root).await;
    let (thread_ticket, ..) = ticket_of(&pg, thread_root).await;
    let thread = wait_until(Duration::from_secs(15), "the ticket thread exists", async || fake.threads_of(support), |t| !t.is_empty())
        .await[0];
    within(Duration::from_secs(15), "the thread is recorded", async || {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM chat.conversations WHERE channel_id = $1)")
            .bind(thread as i64)
            .fetch_one(&pg)
            .await
            .expect("conversation")
    })
    .await;

    child.kill().await;
    within(Duration::from_secs(10), "the killed bot's session is gone", async || fake.connected_sessions() == 0).await;
    let (mut in_dm, mut in_thread) = (Vec::new(), Vec::new());
    for n in 0..150 {
        if n % 2 == 0 {
            let text = format!("dm {n}");
            fake.send(dm, &gus, &text).await;
            in_dm.push(text);
        } else {
            let text = format!("thread {n}");
            fake.send(thread, &gus, &text).await;
            in_thread.push(text);
        }
    }

    let _child = spawn(&env, &fake, support).await;
    let expected_dm = [vec!["Laptop will not boot".to_string()], in_dm].concat();
    let expected_thread = [vec!["VPN drops every hour".to_string()], in_thread].concat();
    wait_until(CATCH_UP, "every DM is on the DM's ticket, in order", async || texts(&pg, dm_ticket, 1).await, |t| t.len() >= expected_dm.len())
        .await;
    wait_until(CATCH_UP, "every thread message is on the thread's ticket", async || texts(&pg, thread_ticket, 1).await, |t| {
        t.len() >= expected_thread.len()
    })
    .await;
    assert_eq!(texts(&pg, dm_ticket, 1).await, expected_dm);
    assert_eq!(texts(&pg, thread_ticket, 1).await, expected_thread);
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(tickets, 2, "no message of the backfill opened a ticket of its own");
}

#[tokio::test]
async fn two_replicas_hold_one_connection_and_the_other_takes_over_after_a_sigkill() {
    let World { env, fake, support, pg } = world().await;
    let hal = fake.user("hal");
    let dm = fake.dm_channel(&hal);

    let first = spawn(&env, &fake, support).await;
    within(Duration::from_secs(15), "the first replica connected", async || fake.connected_sessions() == 1).await;
    let second = spawn(&env, &fake, support).await;
    // The second replica tries for the lease every second; over a whole lease time it never
    // gets it while the first renews (time itself is what is under test here).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!((fake.connected_sessions(), fake.identifies()), (1, 1), "one gateway connection for two replicas");
    let root = fake.send(dm, &hal, "Printer on fire").await;
    let (ticket, ..) = ticket_of(&pg, root).await;

    first.kill().await;
    within(Duration::from_secs(10), "the holder's session is gone", async || fake.connected_sessions() == 0).await;
    let gap = fake.send(dm, &hal, "Sent while nobody was connected").await;
    within(Duration::from_secs(15), "the other replica identified within the lease time", async || fake.identifies() == 2).await;
    let (same, ..) = ticket_of(&pg, gap).await;
    assert_eq!(same, ticket, "the gap is backfilled onto the conversation's ticket");
    assert_eq!(fake.connected_sessions(), 1);
    drop(second);
}
