//! The Discord channel's whole round trip, with the chat part served on its own
//! (`helpdesk serve chat`, a child process) next to the other parts: a DM opens a ticket for the
//! contact `discord:<user id>` and is welcomed, an agent's reply over gRPC appears in the DM signed
//! with the agent's name, and the contact's answer there lands on the same ticket.

use std::time::Duration;

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1 as pb;
use helpdesk_tests::{TestEnv, discord::FakeDiscord, placed, within};
use uuid::Uuid;

async fn ticket_of(pg: &sqlx::PgPool, message: u64) -> Uuid {
    placed(pg, &message.to_string()).await;
    sqlx::query_scalar("SELECT ticket_id FROM tickets.inbound_messages WHERE channel = 3 AND external_id = $1")
        .bind(message.to_string())
        .fetch_one(pg)
        .await
        .expect("the message's ticket")
}

#[tokio::test]
async fn a_dm_round_trip_through_the_chat_part_served_alone() {
    let env = TestEnv::new().await;
    let fake = FakeDiscord::start().await;
    let server = env.start().await;
    assert!(!env.config.chat.enabled(), "without a bot token `serve all` leaves chat out");
    let endpoints = &server.config.shared.endpoints;
    let api_url = fake.api_url();
    let chat = env
        .spawn_parts(
            env!("CARGO_BIN_EXE_helpdesk-under-test"),
            &["chat"],
            &[
                ("HELPDESK_CHAT__BOT_TOKEN", FakeDiscord::TOKEN),
                ("HELPDESK_CHAT__API_URL", &api_url),
                ("HELPDESK_ENDPOINTS__IDENTITY", &endpoints.identity),
                ("HELPDESK_ENDPOINTS__TICKETS", &endpoints.tickets),
            ],
        )
        .await;
    within(Duration::from_secs(15), "the bot is connected", async || fake.connected_sessions() == 1).await;
    let pg = env.pg().await;

    let ann = fake.user("Ann Lee");
    let dm = fake.dm_channel(&ann);
    let first = fake.send(dm, &ann, "My parcel is lost\nTracking says delivered, but nothing came.").await;
    let ticket = ticket_of(&pg, first).await;
    let contact: String = sqlx::query_scalar(
        "SELECT e.provider || ':' || e.subject FROM tickets.tickets t JOIN identity.external_identities e ON e.contact_id = t.contact_id WHERE t.id = $1",
    )
    .bind(ticket)
    .fetch_one(&pg)
    .await
    .expect("the ticket's contact");
    assert_eq!(contact, format!("discord:{}", ann.id));
    let welcome = fake.wait_posted(dm, 1).await;
    assert!(welcome[0].content.contains("opened"), "a welcome: {:?}", welcome[0].content);

    let (_, agent) = env.staff_token(StaffRole::Agent);
    let request = pb::ReplyRequest { ticket_id: ticket.to_string(), text: "Sorry about that — a new parcel goes out today.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, &agent).expect("request")).await.expect("agent reply");
    let posted = fake.wait_posted(dm, 2).await;
    assert!(posted[1].content.contains("a new parcel goes out today"), "the reply in the DM: {:?}", posted[1].content);
    assert!(posted[1].content.contains("Support"), "signed: {:?}", posted[1].content);
    assert!(posted[1].nonce.is_some(), "posted with a nonce");

    let answer = fake.send(dm, &ann, "Thank you!").await;
    assert_eq!(ticket_of(&pg, answer).await, ticket, "her answer is on the same ticket");
    let conversation: Vec<(i16, String)> =
        sqlx::query_as("SELECT author_kind, body_text FROM tickets.messages WHERE ticket_id = $1 AND kind = 1 ORDER BY created_at, id")
            .bind(ticket)
            .fetch_all(&pg)
            .await
            .expect("messages");
    let texts: Vec<&str> = conversation.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(
        texts,
        ["My parcel is lost\nTracking says delivered, but nothing came.", "Sorry about that — a new parcel goes out today.", "Thank you!"]
    );
    assert_eq!(fake.posted(dm).len(), 2, "her own messages are never posted back");

    chat.kill().await;
    server.stop().await.expect("clean shutdown");
}
