//! Email threading in tickets (DESIGN.md §3.1), fed inbound messages as the mail channel publishes
//! them: a known Message-ID, a signed reply token, a ticket number in the subject only from the
//! ticket's own contact; strangers quoting a number get a new ticket; automatic mail never
//! reopens; bounces become an internal note and mark the address undeliverable.

use helpdesk_kit::auth::{StaffRole, bearer, keys, reply_token};
use helpdesk_proto::{
    events::v1::{InboundFlags, InboundMessage},
    tickets::v1 as pb,
};
use helpdesk_tests::{TestEnv, inbound_mail as mail, placed};

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
    let secret = keys::service_secret(&env.config.auth.key_dir).expect("secret");
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
    env.cleanup().await;
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

    // A bounce of mail on that ticket: an internal note, and the address marked undeliverable.
    let bounce = InboundMessage {
        flags: Some(InboundFlags { bounce: true, bounced_message_id: "b1@mail".into(), ..Default::default() }),
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
    let deliverable: bool = sqlx::query_scalar("SELECT deliverable FROM identity.contact_emails WHERE address_normalized = 'bea@example.org'")
        .fetch_one(&pg)
        .await
        .expect("address");
    assert!(!deliverable);
    let daemon_contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contact_emails WHERE address_normalized LIKE 'mailer-daemon%'")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(daemon_contacts, 0, "a bounce creates no contact");

    // A bounce for nothing we know is quarantined, not dropped.
    let stray = InboundMessage {
        flags: Some(InboundFlags { bounce: true, bounced_message_id: "unknown@x".into(), ..Default::default() }),
        ..mail("d2@mail", "mailer-daemon@mx.example.org", "Undelivered Mail", &[])
    };
    env.deliver_inbound(&stray).await;
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.quarantine WHERE reason LIKE 'a bounce for no ticket%'")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(quarantined, 1);

    server.stop().await.expect("stop");
    env.cleanup().await;
}
