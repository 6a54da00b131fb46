//! The ticket model end to end: categories with custom fields, priorities and due dates, My
//! Tickets filters / sorts / search / counts, the conversation with internal notes, self-close and
//! reopen under the portal setting, group visibility driven by identity's events, and the group
//! support-time ledger with its alerts.

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    events::v1::{GroupMembershipChanged, GroupUpdated, PortalSettingsChanged, event::Payload},
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient},
};
use helpdesk_tests::{Client, Server, TestEnv, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

async fn admin_client(server: &Server) -> TicketAdminServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.tickets.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    TicketAdminServiceClient::new(channel)
}

async fn add_category(server: &Server, admin: &str) -> String {
    let field = |key: &str, t: pb::FieldType, required: bool, options: &[&str]| pb::FieldDefinition {
        key: key.into(),
        label: key.into(),
        r#type: t as i32,
        required,
        options: options.iter().map(|o| o.to_string()).collect(),
        position: 0,
    };
    admin_client(server)
        .await
        .upsert_category(
            bearer(
                pb::Category {
                    id: String::new(),
                    name: "Cards".into(),
                    active: true,
                    fields: vec![
                        field("card_last4", pb::FieldType::Text, true, &[]),
                        field("product", pb::FieldType::Dropdown, false, &["debit", "credit"]),
                        field("amount", pb::FieldType::Number, false, &[]),
                    ],
                },
                admin,
            )
            .expect("request"),
        )
        .await
        .expect("upsert category")
        .into_inner()
        .id
}

fn subjects(page: &Value) -> Vec<String> {
    page["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["subject"].as_str().expect("subject").to_string())
        .collect()
}

#[tokio::test]
async fn custom_fields_are_validated_against_the_category_naming_the_field() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let category = add_category(&server, &admin).await;
    let alice = Client::new(&server.gateway, Some(&server.contact_token("alice@example.com").await));

    let file = |fields: Value| {
        json!({ "subject": "Card stolen", "message": "Please block it", "category_id": category, "custom_fields": fields })
    };
    let (status, body) = alice.post("/api/v1/tickets", file(json!({}))).await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().expect("error").contains("card_last4: is required"), "{body}");
    let (status, body) = alice.post("/api/v1/tickets", file(json!({ "card_last4": "1234", "product": "gold" }))).await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().expect("error").contains("product: `gold` is not one of its options"), "{body}");
    let (status, body) = alice.post("/api/v1/tickets", file(json!({ "card_last4": "1234", "colour": "red" }))).await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().expect("error").contains("colour: is not a field"), "{body}");
    let (status, body) = alice
        .post("/api/v1/tickets", json!({ "subject": "x", "message": "y", "custom_fields": { "a": "b" } }))
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, ticket) = alice
        .post("/api/v1/tickets", file(json!({ "card_last4": "1234", "product": "debit", "amount": 25.5 })))
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["custom_fields"], json!({ "card_last4": "1234", "product": "debit", "amount": 25.5 }));
    assert_eq!(ticket["category_id"], json!(category));
    assert_eq!(ticket["priority"], "normal", "the default priority");

    // The category's own shape is listed for the form.
    let (_, categories) = alice.get("/api/v1/categories").await;
    assert_eq!(categories[0]["fields"][1]["type"], "dropdown");

    // Filtering by a field value.
    alice.post("/api/v1/tickets", file(json!({ "card_last4": "9999", "product": "credit" }))).await;
    let filter = percent_encoding::utf8_percent_encode(r#"{"product":"credit"}"#, percent_encoding::NON_ALPHANUMERIC);
    let (_, page) = alice.get(&format!("/api/v1/tickets?fields={filter}")).await;
    assert_eq!(page["tickets"].as_array().expect("tickets").len(), 1);
    assert_eq!(page["tickets"][0]["custom_fields"]["card_last4"], "9999");

    server.stop().await.expect("stop");
}

/// Files tickets until one carries the group (identity's membership event arrives
/// asynchronously); returns that ticket's id.
async fn file_in_group(api: &Client, group: Uuid, subject: &str) -> String {
    api.file_in_group(&group.to_string(), json!({ "subject": subject, "message": "please" })).await
}

#[tokio::test]
async fn my_tickets_filters_sorts_searches_and_counts() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let bob = Client::new(&server.gateway, Some(&server.contact_token("bob@example.com").await));
    let other = Client::new(&server.gateway, Some(&server.contact_token("other@example.com").await));
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let agent_api = Client::new(&server.gateway, Some(&agent));

    let tickets = [
        ("Printer jammed", "paper stuck in tray two", "high", "2030-01-05T00:00:00Z"),
        ("Refund request", "double charge on my card", "urgent", "2030-01-01T00:00:00Z"),
        ("Password reset", "cannot log in since monday", "low", ""),
    ];
    let mut ids = Vec::new();
    for (subject, message, priority, due) in tickets {
        let mut body = json!({ "subject": subject, "message": message, "priority": priority });
        if !due.is_empty() {
            body["due_at"] = json!(due);
        }
        let (status, ticket) = bob.post("/api/v1/tickets", body).await;
        assert_eq!(status, 201, "{ticket}");
        ids.push(ticket["id"].as_str().expect("id").to_string());
    }
    other.post("/api/v1/tickets", json!({ "subject": "Refund for someone else", "message": "card" })).await;

    // Sorts.
    let (_, page) = bob.get("/api/v1/tickets?sort=priority").await;
    assert_eq!(subjects(&page), ["Refund request", "Printer jammed", "Password reset"]);
    let (_, page) = bob.get("/api/v1/tickets?sort=due&order=asc").await;
    assert_eq!(subjects(&page), ["Refund request", "Printer jammed", "Password reset"], "no due date sorts last");
    let (_, page) = bob.get("/api/v1/tickets?sort=created&order=asc").await;
    assert_eq!(subjects(&page), ["Printer jammed", "Refund request", "Password reset"]);

    // Search over subject and conversation, stemmed; never another contact's ticket.
    let (_, page) = bob.get("/api/v1/tickets?q=charged").await;
    assert_eq!(subjects(&page), ["Refund request"]);
    let (_, page) = bob.get("/api/v1/tickets?q=refund").await;
    assert_eq!(subjects(&page), ["Refund request"]);

    // Filters.
    let (_, page) = bob.get("/api/v1/tickets?priority=low,high&sort=priority").await;
    assert_eq!(subjects(&page), ["Printer jammed", "Password reset"]);
    let (_, page) = bob.get("/api/v1/tickets?due_before=2030-01-03T00:00:00Z").await;
    assert_eq!(subjects(&page), ["Refund request"]);

    // An agent completes one: it moves from Pending to Completed, and a reply reopens it.
    let (status, _) = agent_api.post(&format!("/api/v1/tickets/{}/complete", ids[0]), json!({})).await;
    assert_eq!(status, 200);
    let (_, counts) = bob.get("/api/v1/tickets/counts").await;
    assert_eq!((counts["pending"].as_u64(), counts["completed"].as_u64(), counts["all"].as_u64()), (Some(2), Some(1), Some(3)));
    let (_, page) = bob.get("/api/v1/tickets?queue=completed").await;
    assert_eq!(subjects(&page), ["Printer jammed"]);
    let (status, _) = bob.post(&format!("/api/v1/tickets/{}/messages", ids[0]), json!({ "message": "Still jammed!" })).await;
    assert_eq!(status, 201);
    let (_, page) = bob.get("/api/v1/tickets?queue=completed").await;
    assert!(subjects(&page).is_empty(), "the contact's reply reopened it");

    // Bad inputs.
    for bad in ["?sort=colour", "?order=up", "?queue=mine", "?scope=world", "?due_before=tomorrow", "?fields=notjson", "?status=Not%20A%20Slug"] {
        let (status, body) = bob.get(&format!("/api/v1/tickets{bad}")).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, _) = bob.get(&format!("/api/v1/tickets?q={}", "w".repeat(201))).await;
    assert_eq!(status, 422);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn internal_notes_never_reach_the_contact_and_self_close_follows_the_setting() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let carol_token = server.contact_token("carol@example.com").await;
    let carol = Client::new(&server.gateway, Some(&carol_token));
    let (_, agent) = env.staff_token(StaffRole::Agent);

    let (_, ticket) = carol.post("/api/v1/tickets", json!({ "subject": "VPN down", "message": "since 9am" })).await;
    let id = ticket["id"].as_str().expect("id").to_string();
    let mut tickets = server.clients.tickets();
    tickets
        .add_note(bearer(pb::AddNoteRequest { ticket_id: id.clone(), text: "customer is on the old client, zebra".into() }, &agent).expect("req"))
        .await
        .expect("note");
    tickets
        .reply(bearer(pb::ReplyRequest { ticket_id: id.clone(), text: "Please update your client.".into(), html: "<p onclick=\"x()\">Please <b>update</b></p><script>bad()</script>".into(), attachments: vec![] }, &agent).expect("req"))
        .await
        .expect("reply");
    let note_from_contact = tickets
        .add_note(bearer(pb::AddNoteRequest { ticket_id: id.clone(), text: "sneaky".into() }, &carol_token).expect("req"))
        .await
        .expect_err("contacts cannot write notes");
    assert_eq!(note_from_contact.code(), tonic::Code::PermissionDenied);

    let (_, conversation) = carol.get(&format!("/api/v1/tickets/{id}/messages")).await;
    let kinds: Vec<&str> = conversation.as_array().expect("messages").iter().map(|m| m["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["reply", "reply"], "{conversation}");
    let html = conversation[1]["html"].as_str().expect("html");
    assert!(html.contains("<b>update</b>") && !html.contains("script") && !html.contains("onclick"), "{html}");
    // The note's words do not make the ticket findable by the contact.
    let (_, found) = carol.get("/api/v1/tickets?q=zebra").await;
    assert!(subjects(&found).is_empty());
    let all = tickets
        .list_messages(bearer(pb::ListMessagesRequest { ticket_id: id.clone(), ..Default::default() }, &agent).expect("req"))
        .await
        .expect("agent view")
        .into_inner()
        .messages;
    assert!(all.iter().any(|m| m.kind == pb::MessageKind::InternalNote as i32));

    // Self-close is allowed by default and moves the ticket to Completed.
    let (status, closed) = carol.post(&format!("/api/v1/tickets/{id}/complete"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(closed["status_kind"], "completed");
    let (_, closed_messages) = carol.get(&format!("/api/v1/tickets/{id}/messages")).await;
    assert!(closed_messages.as_array().expect("messages").iter().any(|m| m["kind"] == "system"));

    // The admin turns it off in identity; tickets follows the event.
    env.publish_event(Payload::PortalSettingsChanged(PortalSettingsChanged { contacts_may_close_tickets: Some(false) })).await;
    let (_, second) = carol.post("/api/v1/tickets", json!({ "subject": "Another", "message": "one" })).await;
    let second = second["id"].as_str().expect("id").to_string();
    let pg = env.pg().await;
    eventually("tickets has the setting", || async {
        !sqlx::query_scalar::<_, bool>("SELECT contacts_may_close FROM tickets.settings").fetch_one(&pg).await.expect("setting")
    })
    .await;
    assert_eq!(carol.post(&format!("/api/v1/tickets/{second}/complete"), json!({})).await.0, 409);
    let (_, still) = carol.get(&format!("/api/v1/tickets/{second}")).await;
    assert_eq!(still["status_kind"], "pending");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn group_members_share_tickets_only_while_the_group_shares() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let group = Uuid::new_v4();
    let (dan_id, eve_id, fay_id) = (
        server.clients.find_or_create_contact("dan@acme.example", "").await.expect("dan"),
        server.clients.find_or_create_contact("eve@acme.example", "").await.expect("eve"),
        server.clients.find_or_create_contact("fay@other.example", "").await.expect("fay"),
    );
    let _ = fay_id;
    for contact in [&dan_id, &eve_id] {
        env.publish_event(Payload::GroupMembershipChanged(GroupMembershipChanged {
            group_id: group.to_string(),
            contact_id: contact.clone(),
            member: true,
        }))
        .await;
    }
    env.publish_event(Payload::GroupUpdated(GroupUpdated { group_id: group.to_string(), name: "ACME".into(), share_tickets: true })).await;

    let dan = Client::new(&server.gateway, Some(&server.contact_token("dan@acme.example").await));
    let eve = Client::new(&server.gateway, Some(&server.contact_token("eve@acme.example").await));
    let fay = Client::new(&server.gateway, Some(&server.contact_token("fay@other.example").await));

    // Dan's ticket carries his group once identity's events have arrived.
    let id = file_in_group(&dan, group, "Office printer").await;
    eventually("eve sees the group's ticket", || async { eve.get(&format!("/api/v1/tickets/{id}")).await.0 == 200 }).await;
    let (_, shared) = eve.get("/api/v1/tickets?scope=group").await;
    assert!(shared["tickets"].as_array().expect("tickets").iter().any(|t| t["id"] == json!(id)));
    let (_, own) = eve.get("/api/v1/tickets").await;
    assert!(!own["tickets"].as_array().expect("tickets").iter().any(|t| t["id"] == json!(id)), "not in her own queue");
    let (status, _) = eve.post(&format!("/api/v1/tickets/{id}/messages"), json!({ "message": "Same here" })).await;
    assert_eq!(status, 201, "a sharing member may reply");

    // Outsiders see nothing, by any path.
    assert_eq!(fay.get(&format!("/api/v1/tickets/{id}")).await.0, 404);
    assert_eq!(fay.get(&format!("/api/v1/tickets/{id}/messages")).await.0, 404);
    assert_eq!(fay.post(&format!("/api/v1/tickets/{id}/messages"), json!({ "message": "hi" })).await.0, 404);
    let (_, fay_group) = fay.get("/api/v1/tickets?scope=group").await;
    assert!(subjects(&fay_group).is_empty());

    // Sharing off: Eve loses sight of it; Dan keeps his own.
    env.publish_event(Payload::GroupUpdated(GroupUpdated { group_id: group.to_string(), name: "ACME".into(), share_tickets: false })).await;
    eventually("eve no longer sees it", || async { eve.get(&format!("/api/v1/tickets/{id}")).await.0 == 404 }).await;
    assert_eq!(dan.get(&format!("/api/v1/tickets/{id}")).await.0, 200);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn support_time_is_granted_drawn_down_and_alerts_as_it_runs_out() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let group = Uuid::new_v4();
    let gina_id = server.clients.find_or_create_contact("gina@acme.example", "").await.expect("gina");
    env.publish_event(Payload::GroupMembershipChanged(GroupMembershipChanged {
        group_id: group.to_string(),
        contact_id: gina_id,
        member: true,
    }))
    .await;
    let gina = Client::new(&server.gateway, Some(&server.contact_token("gina@acme.example").await));
    let outsider = Client::new(&server.gateway, Some(&server.contact_token("hal@else.example").await));
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let (_, agent) = env.staff_token(StaffRole::Agent);

    let id = file_in_group(&gina, group, "Migration help").await;

    let mut admin_rpc = admin_client(&server).await;
    let agent_grant = admin_rpc
        .grant_group_time(bearer(pb::GrantGroupTimeRequest { group_id: group.to_string(), minutes: 120, note: String::new() }, &agent).expect("req"))
        .await
        .expect_err("agents cannot grant time");
    assert_eq!(agent_grant.code(), tonic::Code::PermissionDenied);
    let balance = admin_rpc
        .grant_group_time(bearer(pb::GrantGroupTimeRequest { group_id: group.to_string(), minutes: 120, note: "Q4".into() }, &admin).expect("req"))
        .await
        .expect("grant")
        .into_inner();
    assert_eq!((balance.remaining_minutes, balance.alert), (120, pb::TimeAlert::Ok as i32));

    let mut tickets = server.clients.tickets();
    let log = |minutes: i32| pb::LogTimeRequest { ticket_id: id.clone(), minutes, note: "work".into() };
    tickets.log_time(bearer(log(45), &agent).expect("req")).await.expect("log 45");
    let (_, time) = gina.get(&format!("/api/v1/groups/{group}/time")).await;
    assert_eq!((time["remaining_minutes"].as_i64(), time["alert"].as_str()), (Some(75), Some("ok")), "{time}");
    tickets.log_time(bearer(log(30), &agent).expect("req")).await.expect("log 30");
    let (_, time) = gina.get(&format!("/api/v1/groups/{group}/time")).await;
    assert_eq!((time["remaining_minutes"].as_i64(), time["alert"].as_str()), (Some(45), Some("low")));
    tickets.log_time(bearer(log(60), &agent).expect("req")).await.expect("log 60");
    let (_, time) = gina.get(&format!("/api/v1/groups/{group}/time")).await;
    assert_eq!((time["remaining_minutes"].as_i64(), time["alert"].as_str()), (Some(-15), Some("exhausted")));
    assert_eq!(time["history"].as_array().expect("history").len(), 4);
    assert_eq!(time["history"][3]["minutes"], 120, "oldest last: the grant");

    // The alert changes went out as events: ok → low → exhausted.
    let subject = env.subjects().event("tickets", "group_time_alert_changed");
    let events = env.wait_for_events(&subject, |e| e.len() >= 3).await;
    let alerts: Vec<i32> = events
        .iter()
        .filter_map(|(_, e)| match &e.payload {
            Some(Payload::GroupTimeAlertChanged(a)) => Some(a.alert),
            _ => None,
        })
        .collect();
    assert_eq!(alerts, [pb::TimeAlert::Ok as i32, pb::TimeAlert::Low as i32, pb::TimeAlert::Exhausted as i32]);

    // Bounds and visibility.
    let bad = tickets.log_time(bearer(log(0), &agent).expect("req")).await.expect_err("zero minutes");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let contact_log = tickets
        .log_time(bearer(log(5), &server.contact_token("gina@acme.example").await).expect("req"))
        .await
        .expect_err("contacts cannot log time");
    assert_eq!(contact_log.code(), tonic::Code::PermissionDenied);
    assert_eq!(outsider.get(&format!("/api/v1/groups/{group}/time")).await.0, 404);

    server.stop().await.expect("stop");
}
