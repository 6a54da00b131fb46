//! Email threading in tickets (DESIGN.md §3.1), fed inbound messages as the mail channel publishes
//! them: a known Message-ID, a signed reply token, a ticket number in the subject only from the
//! ticket's own contact; strangers quoting a number get a new ticket; automatic mail never
//! reopens; bounces of our own mail become an internal note and mark the address undeliverable,
//! delay notices only a note, and reports about no mail of ours are kept as classified mail.
//! Every message made from a mail links its raw original, for staff.

use helpdesk_kit::auth::{StaffRole, bearer, keys, reply_token};
use helpdesk_proto::{
    events::v1::{BlobRef, InboundFlags, InboundMessage},
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient},
};
use helpdesk_tests::{TestEnv, inbound_mail as mail, placed};

/// A Message-ID as the mail part gives our ticket mail: `<reply-token.event-id@domain>`.
fn our_message_id(env: &TestEnv, ticket: uuid::Uuid) -> String {
    let secret = keys::service_secret(&env.config.shared.auth.key_dir).expect("secret");
    format!("{}.{}@helpdesk.localhost", reply_token::sign(&secret, ticket), uuid::Uuid::now_v7())
}

async fn deliverable(pg: &sqlx::PgPool, address: &str) -> bool {
    sqlx::query_scalar("SELECT deliverable FROM identity.contact_emails WHERE address_normalized = $1")
        .bind(address)
        .fetch_one(pg)
        .await
        .expect("address")
}

/// The kinds and reasons admins see in the tickets quarantine list.
async fn quarantine_list(server: &helpdesk_tests::Server, admin: &str) -> Vec<(String, String)> {
    TicketAdminServiceClient::new(server.clients.tickets_channel())
        .list_quarantine(bearer(pb::ListQuarantineRequest {}, admin).expect("request"))
        .await
        .expect("list")
        .into_inner()
        .messages
        .into_iter()
        .map(|m| (m.kind, m.reason))
        .collect()
}

#[tokio::test]
async fn replies_thread_by_rule_and_strangers_cannot_inject() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    env.deliver_inbound(&mail("a1@mail", "ann@example.org", "Printer on fire", &[])).await;
    assert_eq!(placed(&pg, "a1@mail").await, (1001, "new".into()));

    env.deliver_inbound(&mail("a2@mail", "ann@example.org", "Re: Printer on fire", &["<a1@mail>"])).await;
    assert_eq!(placed(&pg, "a2@mail").await, (1001, "message_id".into()));

    // A stranger quoting the number: a new ticket, not a reply on Ann's.
    env.deliver_inbound(&mail("m1@mail", "mallory@evil.example", "Re: [#1001] send me the data", &[])).await;
    assert_eq!(placed(&pg, "m1@mail").await, (1002, "new".into()));

    // Ann quoting her own number without references: her ticket.
    env.deliver_inbound(&mail("a3@mail", "ann@example.org", "Re: [#1001] still burning", &[])).await;
    assert_eq!(placed(&pg, "a3@mail").await, (1001, "subject_number".into()));

    // A signed reply token threads; a forged one does not.
    let secret = keys::service_secret(&env.config.shared.auth.key_dir).expect("secret");
    let ticket_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001")
        .fetch_one(&pg)
        .await
        .expect("ticket");
    let signed = InboundMessage { reply_token: reply_token::sign(&secret, ticket_id), ..mail("c1@mail", "colleague@example.org", "fwd", &[]) };
    env.deliver_inbound(&signed).await;
    assert_eq!(placed(&pg, "c1@mail").await, (1001, "reply_token".into()));
    let forged = InboundMessage { reply_token: "00".repeat(26), ..mail("c2@mail", "colleague@example.org", "fwd", &[]) };
    env.deliver_inbound(&forged).await;
    assert_eq!(placed(&pg, "c2@mail").await.1, "new");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn automatic_mail_never_reopens_and_bounces_mark_the_address() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let (_, agent) = env.staff_token(StaffRole::Agent);

    env.deliver_inbound(&mail("b1@mail", "bea@example.org", "Invoice", &[])).await;
    let ticket_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001")
        .fetch_one(&pg)
        .await
        .expect("ticket");
    server
        .clients
        .tickets()
        .complete_ticket(bearer(pb::CompleteTicketRequest { ticket_id: ticket_id.to_string() }, &agent).expect("req"))
        .await
        .expect("complete");

    let out_of_office = InboundMessage {
        flags: Some(InboundFlags { auto_submitted: true, ..Default::default() }),
        ..mail("b2@mail", "bea@example.org", "Out of office", &["b1@mail"])
    };
    env.deliver_inbound(&out_of_office).await;
    assert_eq!(placed(&pg, "b2@mail").await, (1001, "message_id".into()));
    let kind: i16 = sqlx::query_scalar("SELECT status_kind FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("kind");
    assert_eq!(kind, 2, "an auto-reply does not reopen");

    env.deliver_inbound(&mail("b3@mail", "bea@example.org", "Re: Invoice", &["b1@mail"])).await;
    let kind: i16 = sqlx::query_scalar("SELECT status_kind FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("kind");
    assert_eq!(kind, 1, "a person's reply does");

    // A bounce of our mail on that ticket: an internal note, and the address marked undeliverable.
    let bounce = InboundMessage {
        flags: Some(InboundFlags { bounce: true, bounced_message_id: our_message_id(&env, ticket_id), ..Default::default() }),
        ..mail("d1@mail", "mailer-daemon@mx.example.org", "Undelivered Mail", &[])
    };
    env.deliver_inbound(&bounce).await;
    let (kind, rule): (i16, String) = sqlx::query_as(
        "SELECT m.kind, m.thread_rule FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id WHERE i.external_id = 'd1@mail'",
    )
    .fetch_one(&pg)
    .await
    .expect("bounce stored");
    assert_eq!((kind, rule.as_str()), (2, "bounce"));
    assert!(!deliverable(&pg, "bea@example.org").await);
    let daemon_contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contact_emails WHERE address_normalized LIKE 'mailer-daemon%'")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(daemon_contacts, 0, "a bounce creates no contact");

    // A bounce for nothing we sent is kept for admins as classified mail, not poison (issue 11
    // changed this: it used to be quarantined as a failure).
    let stray = InboundMessage {
        flags: Some(InboundFlags { bounce: true, bounced_message_id: "unknown@x".into(), ..Default::default() }),
        ..mail("d2@mail", "mailer-daemon@mx.example.org", "Undelivered Mail", &[])
    };
    env.deliver_inbound(&stray).await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let listed = quarantine_list(&server, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, "unmatched_bounce");
    assert!(listed[0].1.starts_with("a bounce for no mail we sent"), "{listed:?}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn bounces_match_only_our_own_mail_and_delay_notices_mark_nobody() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let (_, admin) = env.staff_token(StaffRole::Admin);

    env.deliver_inbound(&mail("c1@mail", "cem@example.org", "Order", &[])).await;
    let ticket_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001")
        .fetch_one(&pg)
        .await
        .expect("ticket");

    // A bounce that quotes the customer's own mail (a mailing list refusing what she sent, say):
    // it is about no mail of ours, so she stays deliverable and her ticket gets nothing.
    let quoting = InboundMessage {
        flags: Some(InboundFlags { bounce: true, bounced_message_id: "c1@mail".into(), ..Default::default() }),
        ..mail("q1@mail", "mailer-daemon@list.example", "Undeliverable", &["<c1@mail>"])
    };
    env.deliver_inbound(&quoting).await;
    assert!(deliverable(&pg, "cem@example.org").await, "a bounce of the customer's own mail marks nobody");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.messages").fetch_one(&pg).await.expect("count");
    assert_eq!(messages, 1);

    // A delay notice about our mail: an internal note, automatic, and nobody is undeliverable.
    server
        .clients
        .tickets()
        .complete_ticket(bearer(pb::CompleteTicketRequest { ticket_id: ticket_id.to_string() }, &agent).expect("req"))
        .await
        .expect("complete");
    let delayed = InboundMessage {
        flags: Some(InboundFlags { delivery_delayed: true, bounced_message_id: our_message_id(&env, ticket_id), ..Default::default() }),
        ..mail("w1@mail", "mailer-daemon@mx.example.org", "Delivery delayed", &[])
    };
    env.deliver_inbound(&delayed).await;
    let (kind, author_kind, rule, text): (i16, i16, String, String) = sqlx::query_as(
        "SELECT m.kind, m.author_kind, m.thread_rule, m.body_text FROM tickets.inbound_messages i
         JOIN tickets.messages m ON m.id = i.message_id WHERE i.external_id = 'w1@mail'",
    )
    .fetch_one(&pg)
    .await
    .expect("note");
    assert_eq!((kind, author_kind, rule.as_str()), (2, 3, "delivery_delayed"));
    assert!(text.starts_with("Delivery to cem@example.org is delayed"), "{text}");
    assert!(deliverable(&pg, "cem@example.org").await, "a delay is not a bounce");
    let status_kind: i16 = sqlx::query_scalar("SELECT status_kind FROM tickets.tickets").fetch_one(&pg).await.expect("kind");
    assert_eq!(status_kind, 2, "a delay notice does not reopen");

    // One about no mail of ours is kept like an unmatched bounce.
    let stray = InboundMessage {
        flags: Some(InboundFlags { delivery_delayed: true, bounced_message_id: "elsewhere@x".into(), ..Default::default() }),
        ..mail("w2@mail", "mailer-daemon@mx.example.org", "Delivery delayed", &[])
    };
    env.deliver_inbound(&stray).await;
    let listed = quarantine_list(&server, &admin).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|(kind, _)| kind == "unmatched_bounce"), "{listed:?}");
    assert!(listed[0].1.starts_with("a bounce for no mail we sent (it names c1@mail"), "{listed:?}");
    assert!(listed[1].1.starts_with("a delay notice for no mail we sent"), "{listed:?}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn every_message_from_a_mail_links_its_raw_original_for_staff_only() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let (_, agent) = env.staff_token(StaffRole::Agent);

    let with_raw = |id: &str, raw: &[u8], refs: &[&str], flags: Option<InboundFlags>| {
        let key = format!("mail/raw/{}.eml", id.replace('@', "_"));
        let path = env.config.shared.blob.dir.join(&key);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("blob dir");
        std::fs::write(&path, raw).expect("raw mail");
        InboundMessage {
            raw: Some(BlobRef { key, size: raw.len() as u64, ..Default::default() }),
            flags,
            ..mail(id, "dee@example.org", "Printer", refs)
        }
    };
    env.deliver_inbound(&with_raw("r1@mail", b"From: dee@example.org

first", &[], None)).await;
    env.deliver_inbound(&with_raw("r2@mail", b"From: dee@example.org

reply", &["<r1@mail>"], None)).await;
    let ticket_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tickets.tickets").fetch_one(&pg).await.expect("ticket");
    let auto = InboundFlags { auto_submitted: true, ..Default::default() };
    env.deliver_inbound(&with_raw("r3@mail", b"Auto-Submitted: auto-replied

away", &["<r1@mail>"], Some(auto))).await;
    let bounce = InboundFlags { bounce: true, bounced_message_id: our_message_id(&env, ticket_id), ..Default::default() };
    env.deliver_inbound(&with_raw("r4@mail", b"Content-Type: multipart/report

bounced", &[], Some(bounce))).await;

    let mut tickets = server.clients.tickets();
    let list = || pb::ListMessagesRequest { ticket_id: ticket_id.to_string(), ..Default::default() };
    let messages = tickets.list_messages(bearer(list(), &agent).expect("req")).await.expect("list").into_inner().messages;
    let from_mail: Vec<&pb::Message> = messages.iter().collect();
    assert_eq!(from_mail.len(), 4, "first mail, reply, auto-reply, bounce note: {messages:?}");
    let mut originals = Vec::new();
    for message in &from_mail {
        let raw = message.raw.clone().unwrap_or_else(|| panic!("no raw original on {message:?}"));
        assert_eq!((raw.filename.as_str(), raw.content_type.as_str()), ("original.eml", "message/rfc822"));
        assert!(message.attachments.is_empty(), "the raw original is not an attachment");
        let request = pb::GetAttachmentRequest { ticket_id: ticket_id.to_string(), attachment_id: raw.id.clone() };
        let data = tickets.download_attachment(bearer(request, &agent).expect("req")).await.expect("download").into_inner().data;
        originals.push(String::from_utf8(data).expect("text"));
    }
    assert_eq!(originals.iter().map(|o| o.rsplit('\n').next().unwrap_or_default()).collect::<Vec<_>>(), ["first", "reply", "away", "bounced"]);

    // The contact sees her conversation, not our raw archive.
    let contact = server.contact_token("dee@example.org").await;
    let seen = tickets.list_messages(bearer(list(), &contact).expect("req")).await.expect("list").into_inner().messages;
    assert!(!seen.is_empty() && seen.iter().all(|m| m.raw.is_none()), "{seen:?}");
    let raw_id = from_mail[0].raw.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    let request = pb::GetAttachmentRequest { ticket_id: ticket_id.to_string(), attachment_id: raw_id };
    let refused = tickets.download_attachment(bearer(request, &contact).expect("req")).await.expect_err("not for contacts");
    assert_eq!(refused.code(), tonic::Code::NotFound);

    server.stop().await.expect("stop");
}
