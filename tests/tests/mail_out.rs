//! Ticket mail out, against the stack's real SMTP sink: a customer's mail becomes a ticket and an
//! acknowledgement that threads under it (In-Reply-To, References, a Reply-To plus-address,
//! RFC 3834 headers); an agent's reply goes out as a person's mail; the customer answering that
//! mail lands on the same ticket; auto-replies and no-reply senders get nothing back; a customer's
//! malformed Message-ID is never echoed into our threading headers.


use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    events::v1::{InboundFlags, InboundMessage},
    tickets::v1 as pb,
};
use helpdesk_tests::{TestEnv, decode_quoted_printable, header, inbound_mail as mail, mail_to, placed, wait_for_mail};

#[tokio::test]
async fn ticket_mail_threads_in_the_customers_client_and_replies_come_back() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let ann = format!("ann-{}@example.org", &unique[..8]);

    env.deliver_inbound(&mail("first@ann.example", &ann, "Printer on fire", &[])).await;
    let mails = wait_for_mail(&ann, 1).await;
    assert_eq!(mails.len(), 1, "an acknowledgement");
    let ack = &mails[0];
    assert_eq!(header(ack, "In-Reply-To"), Some("<first@ann.example>"));
    assert_eq!(header(ack, "References"), Some("<first@ann.example>"));
    assert_eq!(header(ack, "Auto-Submitted"), Some("auto-replied"));
    assert!(header(ack, "Subject").is_some_and(|s| s.contains("[#1001]")), "{ack}");
    assert!(header(ack, "Reply-To").is_some_and(|r| r.contains("+")), "{ack}");

    // An agent replies: a person's mail, threaded the same way.
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let ticket_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("ticket");
    server
        .clients
        .tickets()
        .reply(bearer(pb::ReplyRequest { ticket_id: ticket_id.to_string(), text: "Please unplug it.".into(), ..Default::default() }, &agent).expect("req"))
        .await
        .expect("reply");
    let mails = wait_for_mail(&ann, 2).await;
    assert_eq!(mails.len(), 2, "the agent's reply");
    let reply = &mails[1];
    assert!(header(reply, "Auto-Submitted").is_none(), "a person wrote it");
    assert!(decode_quoted_printable(reply).contains("Please unplug it."), "{reply}");
    let our_id = header(reply, "Message-ID").expect("message id").to_string();

    // Ann answers that mail: it threads onto #1001 by our Message-ID.
    env.deliver_inbound(&mail("second@ann.example", &ann, "Re: Printer on fire", &[&our_id])).await;
    let (number, rule): (i64, String) = sqlx::query_as(
        "SELECT t.number, m.thread_rule FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id
         JOIN tickets.tickets t ON t.id = i.ticket_id WHERE i.external_id = 'second@ann.example'",
    )
    .fetch_one(&pg)
    .await
    .expect("stored");
    assert_eq!((number, rule.as_str()), (1001, "message_id"));

    // Nothing goes back to an auto-reply or to a no-reply sender.
    let bob = format!("bob-{}@example.org", &unique[..8]);
    let out_of_office = InboundMessage {
        flags: Some(InboundFlags { auto_submitted: true, ..Default::default() }),
        ..mail("ooo@bob.example", &bob, "Out of office", &[])
    };
    env.deliver_inbound(&out_of_office).await;
    let robot = format!("no-reply-{}@shop.example", &unique[..8]);
    env.deliver_inbound(&mail("shop@robot.example", &robot, "Your order", &[])).await;
    env.ticket_mail_barrier().await;
    assert!(mail_to(&bob).is_empty(), "no acknowledgement for an auto-reply");
    assert!(mail_to(&robot).is_empty(), "no mail to a no-reply address");
    assert_eq!(mail_to(&ann).len(), 2, "Ann's own reply triggered nothing new");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn malformed_message_ids_are_not_echoed_into_our_threading_headers() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let ann = format!("ann-{}@example.org", &unique[..8]);
    let bob = format!("bob-{}@example.org", &unique[..8]);

    // Bob's client sent a Message-ID without an `@`: our acknowledgement answers nothing.
    env.deliver_inbound(&mail("1234567890", &bob, "No proper id", &[])).await;
    let mails = wait_for_mail(&bob, 1).await;
    assert_eq!(mails.len(), 1, "an acknowledgement");
    assert_eq!(header(&mails[0], "In-Reply-To"), None, "{}", mails[0]);
    assert_eq!(header(&mails[0], "References"), None, "{}", mails[0]);

    // Ann's first mail is fine, her answer to our acknowledgement is not: the agent's reply has
    // no In-Reply-To to the broken id, and References keep the valid root.
    env.deliver_inbound(&mail("root@ann.example", &ann, "Printer on fire", &[])).await;
    let ack = wait_for_mail(&ann, 1).await;
    assert_eq!(ack.len(), 1, "an acknowledgement");
    let ours = header(&ack[0], "Message-ID").expect("message id").to_string();
    env.deliver_inbound(&mail("broken id <from> ann", &ann, "Re: Printer on fire", &[&ours])).await;
    let (number, _) = placed(&pg, "broken id <from> ann").await;
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let ticket_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = $1").bind(number).fetch_one(&pg).await.expect("ticket");
    let request = pb::ReplyRequest { ticket_id: ticket_id.to_string(), text: "Unplug it.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, &agent).expect("req")).await.expect("reply");
    let mails = wait_for_mail(&ann, 2).await;
    assert_eq!(mails.len(), 2, "the agent's reply");
    assert_eq!(header(&mails[1], "In-Reply-To"), None, "{}", mails[1]);
    assert_eq!(header(&mails[1], "References"), Some("<root@ann.example>"), "{}", mails[1]);

    server.stop().await.expect("stop");
}
