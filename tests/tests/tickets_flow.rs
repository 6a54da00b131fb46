//! The ticket flow through every layer: REST → gateway → tickets (gRPC) → Postgres → outbox →
//! JetStream, and who may see the result.

use helpdesk_proto::events::v1::event::Payload;
use helpdesk_tests::{Client, TestEnv, http};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn a_ticket_filed_over_rest_is_stored_published_and_visible_only_to_its_owner() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let alice = server.contact_token("alice@example.com").await;
    let mallory = server.contact_token("mallory@example.com").await;
    let (alice, mallory) = (Client::new(&server.gateway, Some(&alice)), Client::new(&server.gateway, Some(&mallory)));

    let (status, ticket) = alice
        .post("/api/v1/tickets", json!({ "subject": "Printer on fire", "message": "It is really on fire." }))
        .await;
    assert_eq!(status, 201);
    let id = ticket["id"].as_str().expect("id").to_string();
    assert!(ticket["number"].as_i64().expect("number") >= 1001);
    assert_eq!(ticket["status_kind"], "pending");

    // The row, in the tickets service's own schema, with its first message.
    let pg = env.pg().await;
    let (subject, messages): (String, i64) = sqlx::query_as(
        "SELECT t.subject, (SELECT count(*) FROM tickets.messages m WHERE m.ticket_id = t.id)
         FROM tickets.tickets t WHERE t.id = $1",
    )
    .bind(Uuid::parse_str(&id).expect("uuid"))
    .fetch_one(&pg)
    .await
    .expect("the ticket row");
    assert_eq!((subject.as_str(), messages), ("Printer on fire", 1));

    // TicketCreated on JetStream, its Nats-Msg-Id being the event id.
    let subject = env.subjects().event("tickets", "ticket_created");
    let events = env
        .wait_for_events(&subject, |events| events.iter().any(|(_, e)| created_id(e) == Some(id.clone())))
        .await;
    let (msg_id, event) = events
        .iter()
        .find(|(_, e)| created_id(e) == Some(id.clone()))
        .expect("TicketCreated for the new ticket");
    assert_eq!(msg_id.as_deref(), Some(event.id.as_str()));

    // Listed and readable for its owner.
    let (_, list) = alice.get("/api/v1/tickets").await;
    let ids: Vec<&str> = list["tickets"].as_array().expect("array").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, vec![id.as_str()]);
    assert_eq!(alice.get(&format!("/api/v1/tickets/{id}")).await.0, 200);

    // Another contact: 404 for the ticket, and it is not in their list.
    assert_eq!(mallory.get(&format!("/api/v1/tickets/{id}")).await.0, 404);
    let (_, theirs) = mallory.get("/api/v1/tickets").await;
    assert_eq!(theirs["tickets"].as_array().expect("array").len(), 0);

    server.stop().await.expect("clean shutdown");
}

fn created_id(event: &helpdesk_proto::events::v1::Event) -> Option<String> {
    match &event.payload {
        Some(Payload::TicketCreated(created)) => Some(created.ticket_id.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_gateway_refuses_missing_forged_and_malformed_requests_clearly() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let alice = server.contact_token("alice@example.com").await;
    let http = http();
    let tickets = format!("{}/api/v1/tickets", server.gateway);

    let anonymous = http.get(&tickets).send().await.expect("GET");
    assert_eq!(anonymous.status(), 401);

    // A token signed by some other key.
    let (other_private, _) = helpdesk_kit::auth::keys::generate_keypair().expect("keys");
    let forger = helpdesk_kit::auth::TokenSigner::from_pem(other_private.as_bytes(), std::time::Duration::from_secs(60))
        .expect("signer");
    let (forged, _) = forger
        .issue(&helpdesk_kit::auth::Caller::Service { name: "evil".into() })
        .expect("token");
    let forged = http.get(&tickets).bearer_auth(forged).send().await.expect("GET");
    assert_eq!(forged.status(), 401);

    let empty_subject = http
        .post(&tickets)
        .bearer_auth(&alice)
        .json(&json!({ "subject": "  ", "message": "hello" }))
        .send()
        .await
        .expect("POST");
    assert_eq!(empty_subject.status(), 422);
    let body: Value = empty_subject.json().await.expect("json");
    assert!(body["error"].as_str().expect("error").starts_with("subject"), "{body}");

    let not_json = http
        .post(&tickets)
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("POST");
    assert_eq!(not_json.status(), 400);

    let too_big = http
        .post(&tickets)
        .bearer_auth(&alice)
        .json(&json!({ "subject": "big", "message": "x".repeat(2 * 1024 * 1024) }))
        .send()
        .await
        .expect("POST");
    assert_eq!(too_big.status(), 413);

    let junk_id = http
        .get(format!("{tickets}/not-a-uuid"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("GET");
    assert_eq!(junk_id.status(), 404);

    let bad_queue = http.get(format!("{tickets}?queue=everything")).bearer_auth(&alice).send().await.expect("GET");
    assert_eq!(bad_queue.status(), 422);

    // Nothing of the refused requests was stored.
    let pg = env.pg().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(count, 0);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn pages_cover_every_ticket_once_even_while_tickets_are_added() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let bob = server.contact_token("bob@example.com").await;
    let http = http();
    let tickets = format!("{}/api/v1/tickets", server.gateway);
    let file = |n: usize| {
        http.post(&tickets)
            .bearer_auth(&bob)
            .json(&json!({ "subject": format!("ticket {n}"), "message": "body" }))
            .send()
    };
    for n in 0..5 {
        assert_eq!(file(n).await.expect("POST").status(), 201);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{tickets}?page_size=2");
        if let Some(t) = &token {
            url.push_str(&format!("&page_token={t}"));
        }
        let page: Value = http.get(url).bearer_auth(&bob).send().await.expect("GET").json().await.expect("json");
        pages += 1;
        for t in page["tickets"].as_array().expect("array") {
            seen.push(t["subject"].as_str().expect("subject").to_string());
        }
        // A ticket filed mid-way is newer than the cursor: it must not shift later pages.
        if pages == 1 {
            assert_eq!(file(99).await.expect("POST").status(), 201);
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5).rev().map(|n| format!("ticket {n}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    let junk = http.get(format!("{tickets}?page_token=garbage")).bearer_auth(&bob).send().await.expect("GET");
    assert_eq!(junk.status(), 422);

    server.stop().await.expect("clean shutdown");
}
