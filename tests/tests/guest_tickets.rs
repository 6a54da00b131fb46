//! Guests' tickets (issue 11): a guest who files with the address of an existing contact cannot
//! put a ticket into her account — it is held, unseen by her and her group, until the address's
//! owner follows the mailed confirmation link; the guest's answer is the same for a known and an
//! unknown address; and guests' submissions and sign-ups are rate-limited per client address.
//! Everything end to end: real identity, tickets and mail, mail read from the SMTP sink.

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::identity::v1::{self as pb, group_service_client::GroupServiceClient};
use helpdesk_tests::{Client, TestEnv, eventually, header, http, link_token, mail_to, wait_for_mail};
use serde_json::{Value, json};

fn unique(name: &str) -> String {
    format!("{name}-{}@guests.example", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn guest_form(email: &str, subject: &str) -> Value {
    json!({ "subject": subject, "message": "please look into it", "email": email, "name": "Someone" })
}

fn subjects(page: &Value) -> Vec<String> {
    page["tickets"].as_array().map_or_else(Vec::new, |t| t.iter().map(|t| t["subject"].as_str().unwrap_or("").to_string()).collect())
}

#[tokio::test]
async fn a_guest_ticket_in_an_existing_contacts_name_is_held_until_she_confirms_it() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (ann_email, bob_email) = (unique("ann"), unique("bob"));
    let ann = Client::new(&server.gateway, Some(&server.contact_token(&ann_email).await));
    let bob = Client::new(&server.gateway, Some(&server.contact_token(&bob_email).await));
    // Ann and Bob share their group's tickets.
    let service = server.service_token().await;
    let mut groups = GroupServiceClient::new(server.identity_channel());
    let group = groups
        .create_group(bearer(pb::CreateGroupRequest { name: "Acme".into(), share_tickets: true, auto_join_domains: vec![] }, &service).expect("req"))
        .await
        .expect("create group")
        .into_inner();
    for email in [&ann_email, &bob_email] {
        let contact = server.clients.find_or_create_contact(email, "").await.expect("contact");
        groups
            .add_group_member(bearer(pb::GroupMemberRequest { group_id: group.id.clone(), contact_id: contact }, &service).expect("req"))
            .await
            .expect("add member");
    }
    let pg = env.pg().await;
    eventually("tickets knows the group's members", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tickets.group_members").fetch_one(&pg).await.expect("count") == 2
    })
    .await;

    // A guest writes in Ann's name.
    let guest = Client::new(&server.gateway, None);
    let (status, answer) = guest.post("/api/v1/tickets", guest_form(&ann_email, "Wire the refund")).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("Check your mail")), "{answer}");

    // Staff see it, marked unverified; Ann and her group see nothing of it anywhere.
    let (_, agent_token) = env.staff_token(StaffRole::Agent);
    let agent = Client::new(&server.gateway, Some(&agent_token));
    let (_, queue) = agent.get("/api/v1/tickets").await;
    let held = &queue["tickets"][0];
    assert_eq!(held["subject"], "Wire the refund", "{queue}");
    assert_eq!(held["unverified"], true);
    let id = held["id"].as_str().expect("id").to_string();
    for (who, api) in [("ann", &ann), ("bob", &bob)] {
        for scope in ["own", "group"] {
            let (_, page) = api.get(&format!("/api/v1/tickets?scope={scope}")).await;
            assert!(subjects(&page).is_empty(), "{who} {scope}: {page}");
            let (_, found) = api.get(&format!("/api/v1/tickets?scope={scope}&q=refund")).await;
            assert!(subjects(&found).is_empty(), "{who} {scope} search: {found}");
            let (_, counts) = api.get(&format!("/api/v1/tickets/counts?scope={scope}")).await;
            assert_eq!(counts["all"], 0, "{who} {scope}: {counts}");
        }
        assert_eq!(api.get(&format!("/api/v1/tickets/{id}")).await.0, 404, "{who}");
        assert_eq!(api.get(&format!("/api/v1/tickets/{id}/messages")).await.0, 404, "{who}");
    }

    // Ann gets a confirmation mail — not an acknowledgement of a ticket.
    let mails = wait_for_mail(&ann_email, 1).await;
    assert_eq!(mails.len(), 1, "one mail to ann");
    assert!(header(&mails[0], "Subject").is_some_and(|s| s.contains("Confirm your support request")), "{}", mails[0]);
    assert!(!mails[0].contains("Wire the refund"), "the mail quotes nothing the guest wrote");
    env.ticket_mail_barrier().await;
    assert_eq!(mail_to(&ann_email).len(), 1, "no acknowledgement while held");

    // The link releases it: Ann and her group see it, and the acknowledgement follows.
    let token = link_token(&mails[0], "confirm-ticket");
    let (status, body) = guest.post("/api/v1/tickets/confirm", json!({ "token": token })).await;
    assert_eq!(status, 200, "{body}");
    eventually("ann sees the confirmed ticket", || async { subjects(&ann.get("/api/v1/tickets").await.1) == ["Wire the refund"] }).await;
    assert_eq!(subjects(&bob.get("/api/v1/tickets?scope=group").await.1), ["Wire the refund"]);
    assert_eq!(ann.get("/api/v1/tickets/counts").await.1["all"], 1);
    assert_eq!(agent.get(&format!("/api/v1/tickets/{id}")).await.1["unverified"], false);
    let mails = wait_for_mail(&ann_email, 2).await;
    assert_eq!(mails.len(), 2, "the acknowledgement arrives");
    let number = held["number"].as_i64().expect("number");
    assert!(header(&mails[1], "Subject").is_some_and(|s| s.contains(&format!("[#{number}]"))), "{}", mails[1]);

    // The link works once.
    let (status, body) = guest.post("/api/v1/tickets/confirm", json!({ "token": token })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("already used")), "{body}");
    assert_eq!(guest.post("/api/v1/tickets/confirm", json!({ "token": "made-up" })).await.0, 422);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_guest_is_answered_alike_for_a_known_and_a_new_address_and_a_new_one_files_directly() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let known = unique("known");
    server.contact_token(&known).await;
    let new = unique("new");
    let guest = Client::new(&server.gateway, None);

    let (known_status, mut known_answer) = guest.post("/api/v1/tickets", guest_form(&known, "Same subject")).await;
    let (new_status, mut new_answer) = guest.post("/api/v1/tickets", guest_form(&new, "Same subject")).await;
    assert_eq!((known_status, new_status), (201, 201), "{known_answer} {new_answer}");
    // Numbers count up whatever the address; everything else is the same.
    for answer in [&mut known_answer, &mut new_answer] {
        answer.as_object_mut().expect("object").remove("number");
    }
    assert_eq!(known_answer, new_answer);
    assert!(new_answer.get("id").is_none() && new_answer.get("contact_id").is_none(), "{new_answer}");

    // The new address filed directly: its owner sees it at once and gets the acknowledgement.
    let owner = Client::new(&server.gateway, Some(&server.contact_token(&new).await));
    assert_eq!(subjects(&owner.get("/api/v1/tickets").await.1), ["Same subject"]);
    let mails = wait_for_mail(&new, 1).await;
    assert!(header(&mails[0], "Subject").is_some_and(|s| s.contains("[#")), "an acknowledgement: {}", mails[0]);
    // The known one is held: a confirmation mail.
    let mails = wait_for_mail(&known, 1).await;
    assert!(header(&mails[0], "Subject").is_some_and(|s| s.contains("Confirm your support request")), "{}", mails[0]);

    // A blocked contact's address gets the same answer (no refusal that would show it is known),
    // and the ticket waits, unverified, for staff — with no mail to the blocked address.
    let blocked = unique("blocked");
    let blocked_id = server.clients.find_or_create_contact(&blocked, "").await.expect("contact");
    let (_, admin_token) = env.staff_token(StaffRole::Admin);
    let admin = Client::new(&server.gateway, Some(&admin_token));
    let response = http()
        .put(format!("{}/api/v1/contacts/{blocked_id}/block", server.gateway))
        .bearer_auth(&admin_token)
        .json(&json!({ "blocked": true }))
        .send()
        .await
        .expect("block");
    assert!(response.status().is_success(), "block: {}", response.status());
    let (status, mut blocked_answer) = guest.post("/api/v1/tickets", guest_form(&blocked, "Same subject")).await;
    assert_eq!(status, 201, "{blocked_answer}");
    blocked_answer.as_object_mut().expect("object").remove("number");
    assert_eq!(blocked_answer, new_answer);
    let (_, queue) = admin.get("/api/v1/tickets").await;
    let held: Vec<&Value> = queue["tickets"].as_array().expect("tickets").iter().filter(|t| t["contact_id"] == json!(blocked_id)).collect();
    assert_eq!(held.len(), 1, "{queue}");
    assert_eq!(held[0]["unverified"], true);
    env.ticket_mail_barrier().await;
    assert!(mail_to(&blocked).is_empty(), "nothing is mailed to a blocked address");

    server.stop().await.expect("stop");
}

/// A POST as the client `client` behind the trusted proxy at 127.0.0.1: (status, Retry-After).
async fn post_from(server: &helpdesk_tests::Server, path: &str, client: &str, body: Value) -> (u16, Option<u64>, Value) {
    let response = http()
        .post(format!("{}{path}", server.gateway))
        .header("x-forwarded-for", client)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn guests_and_sign_ups_are_rate_limited_per_client_address() {
    let env = TestEnv::new().await;
    let mut settings = env.config.clone();
    settings.gateway.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    for rate in [&mut settings.gateway.rate_limits.guest_tickets, &mut settings.gateway.rate_limits.signups] {
        rate.burst = 3;
        rate.refill_secs = 3600;
    }
    let server = env.start_with(settings).await;

    for (path, form) in [
        ("/api/v1/tickets", (|e: &str| guest_form(e, "Rapid")) as fn(&str) -> Value),
        ("/api/v1/account/signup", |e: &str| json!({ "name": "Rapid", "email": e })),
    ] {
        for _ in 0..3 {
            let (status, _, body) = post_from(&server, path, "203.0.113.7", form(&unique("rapid"))).await;
            assert!(status == 201 || status == 202, "{path}: {status} {body}");
        }
        let (status, retry_after, body) = post_from(&server, path, "203.0.113.7", form(&unique("rapid"))).await;
        assert_eq!(status, 429, "{path}: {body}");
        assert!(retry_after.is_some_and(|s| s > 0 && s <= 3600), "{path}: Retry-After {retry_after:?}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("try again")), "{path}: {body}");
        // Another client behind the same proxy is unaffected.
        let (status, _, body) = post_from(&server, path, "198.51.100.20", form(&unique("other"))).await;
        assert!(status == 201 || status == 202, "{path}: {status} {body}");
    }
    // Signed-in contacts file as often as they like.
    let contact = Client::new(&server.gateway, Some(&server.contact_token(&unique("member")).await));
    for _ in 0..4 {
        assert_eq!(contact.post("/api/v1/tickets", json!({ "subject": "Mine", "message": "ok" })).await.0, 201);
    }

    server.stop().await.expect("stop");
}
