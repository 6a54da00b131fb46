//! The outbox under a crash: the process is SIGKILLed after the ticket committed and before the
//! relay published its event. After a restart the event arrives, once; and a relay that dies
//! between publishing and deleting its row (so it publishes again) still leaves one copy.

use helpdesk_proto::events::v1::event::Payload;
use helpdesk_tests::{Client, TestEnv, wait_until};
use serde_json::json;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_helpdesk-under-test");

#[tokio::test]
async fn a_process_killed_between_commit_and_publish_delivers_the_event_once_after_restart() {
    let env = TestEnv::new().await;
    let subject = env.subjects().event("tickets", "ticket_created");

    // First life: the relay is off, so the event can only wait in the outbox.
    let first = env.spawn_process(BINARY, &[("HELPDESK_OUTBOX__RELAY_ENABLED", "false")]).await;
    let token = contact_token(&env, &first.identity).await;
    let (status, ticket) = Client::new(&first.gateway, Some(&token))
        .post("/api/v1/tickets", json!({ "subject": "Lost in a crash?", "message": "Hopefully not." }))
        .await;
    assert_eq!(status, 201);
    let id = ticket["id"].as_str().expect("id").to_string();

    let pg = env.pg().await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.outbox").fetch_one(&pg).await.expect("count");
    assert_eq!(waiting, 1, "the committed ticket's event waits in the outbox");
    assert!(env.events_on(&subject).await.is_empty(), "nothing was published yet");
    first.kill().await;

    // Second life: the relay runs and publishes what the first life left behind.
    let second = env.spawn_process(BINARY, &[]).await;
    let events = env
        .wait_for_events(&subject, |events| !events.is_empty())
        .await;
    assert_eq!(events.len(), 1);
    let (msg_id, event) = &events[0];
    assert!(matches!(&event.payload, Some(Payload::TicketCreated(c)) if c.ticket_id == id));
    assert_eq!(msg_id.as_deref(), Some(event.id.as_str()));
    wait_for_empty_outbox(&pg).await;

    // A relay that crashed after publishing but before deleting the row publishes it again:
    // put the same event back and let the relay send it a second time.
    sqlx::query("INSERT INTO tickets.outbox (id, event) VALUES ($1, $2)")
        .bind(Uuid::parse_str(&event.id).expect("uuid"))
        .bind(prost::Message::encode_to_vec(event))
        .execute(&pg)
        .await
        .expect("re-insert");
    wait_for_empty_outbox(&pg).await;
    let events = env.events_on(&subject).await;
    assert_eq!(events.len(), 1, "the stream dropped the re-published duplicate");

    second.kill().await;
}

async fn wait_for_empty_outbox(pg: &sqlx::PgPool) {
    let left = async || -> i64 { sqlx::query_scalar("SELECT count(*) FROM tickets.outbox").fetch_one(pg).await.expect("count") };
    wait_until(std::time::Duration::from_secs(20), "the outbox relay published everything (rows left)", left, |&left| left == 0).await;
}

/// A contact token from the child's identity, through the CLI's client code.
async fn contact_token(env: &TestEnv, identity: &str) -> String {
    let mut config = env.config.clone();
    config.shared.endpoints.identity = identity.to_string();
    let clients = helpdesk::cli::Clients::connect(&config.shared).expect("clients");
    let id = clients.find_or_create_contact("crash@example.com", "").await.expect("contact");
    clients
        .contact_token(helpdesk_proto::identity::v1::issue_contact_token_request::Contact::ContactId(id))
        .await
        .expect("token")
}
