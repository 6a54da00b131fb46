//! Real-world input into tickets (issue 11), fed as the channels publish it: no message is lost
//! for its control characters or its length, a deterministic data error is quarantined at once,
//! replies thread by In-Reply-To before older References, a parent arriving after its reply joins
//! the reply's ticket, a reused Message-ID with other content is its own message, and mail with no
//! readable sender is filed under one "unknown sender" contact.

use helpdesk_kit::limits::MAX_MESSAGE_TEXT_BYTES;
use helpdesk_proto::events::v1::{BlobRef, InboundChannel, InboundMessage, Sender};
use helpdesk_tests::{TestEnv, inbound_mail as mail, placed};
use prost::Message;
use sqlx::PgPool;

async fn text_of(pg: &PgPool, external_id: &str) -> String {
    sqlx::query_scalar(
        "SELECT m.body_text FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id WHERE i.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(pg)
    .await
    .expect("stored message")
}

async fn quarantined(pg: &PgPool) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT reason, attempts FROM tickets.quarantine ORDER BY created_at")
        .fetch_all(pg)
        .await
        .expect("quarantine")
}

#[tokio::test]
async fn nul_and_control_characters_are_removed_and_the_mail_is_stored_at_once() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    // Quoted-printable `=00` and stray escapes, as real mail carries them.
    let message = InboundMessage {
        sender: Some(Sender { address: "nul@example.org".into(), display_name: "Nul\0 Sender".into(), ..Default::default() }),
        subject: "Broken\0 subject".into(),
        text: "first line\0 and\x01 more\tcolumns\r\nsecond line\x1b".into(),
        html: "<p>first\0 line</p>".into(),
        thread_refs: vec!["<ref\0@x>".into()],
        ..mail("nul\0@mail", "nul@example.org", "", &[])
    };
    env.deliver_inbound(&message).await;

    assert_eq!(text_of(&pg, "nul@mail").await, "first line and more\tcolumns\r\nsecond line");
    let (subject, html): (String, String) = sqlx::query_as(
        "SELECT t.subject, m.body_html FROM tickets.tickets t JOIN tickets.messages m ON m.ticket_id = t.id",
    )
    .fetch_one(&pg)
    .await
    .expect("ticket");
    assert!(subject.starts_with("Broken") && subject.ends_with("subject") && !subject.contains('\0'), "{subject:?}");
    assert_eq!(html, "<p>first line</p>");
    let name: String = sqlx::query_scalar("SELECT name FROM identity.contacts").fetch_one(&pg).await.expect("contact");
    assert_eq!(name, "Nul Sender");
    assert_eq!(quarantined(&pg).await, vec![], "stored on the first delivery, nothing quarantined");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_message_the_database_refuses_as_data_is_quarantined_at_its_first_delivery() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    // A channel bug: a blob key with a NUL (a key cannot be "cleaned": it would name another
    // blob). Postgres refuses it (SQLSTATE 22021) the same way every time, so retrying is useless.
    let broken = InboundMessage {
        raw: Some(BlobRef { key: "mail/raw/\0.eml".into(), ..Default::default() }),
        ..mail("refused@mail", "ref@example.org", "Refused", &[])
    };
    env.publish_inbound(broken.encode_to_vec(), None).await;
    let next = env.publish_inbound(mail("next@mail", "ref@example.org", "Next", &[]).encode_to_vec(), None).await;
    env.wait_inbound_consumed(next).await;

    let rows = quarantined(&pg).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, 1, "quarantined at the first delivery, not after five");
    assert!(rows[0].0.contains("22021"), "the reason names the data error: {rows:?}");
    assert_eq!(placed(&pg, "next@mail").await.1, "new");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_over_long_text_is_cut_to_the_one_limit_and_recorded_never_quarantined() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    // 300 KiB of multi-byte text: over the limit, and a cut could land inside a character.
    let long = InboundMessage { text: "ü".repeat(150 * 1024), ..mail("long@mail", "long@example.org", "Logs", &[]) };
    env.deliver_inbound(&long).await;
    // The channel cut it already (to the limit, marker included) and says so.
    let mut cut_by_mail = "x".repeat(MAX_MESSAGE_TEXT_BYTES - 60);
    cut_by_mail.push_str("\n[… cut here: the whole mail is archived]");
    let channel_cut = InboundMessage { text: cut_by_mail.clone(), text_truncated: true, ..mail("cut@mail", "long@example.org", "More logs", &[]) };
    env.deliver_inbound(&channel_cut).await;

    let text = text_of(&pg, "long@mail").await;
    assert!(text.len() <= MAX_MESSAGE_TEXT_BYTES, "{} bytes", text.len());
    assert!(text.starts_with("üüü") && text.ends_with("the whole message is in the raw original]"), "{}", &text[text.len() - 80..]);
    assert_eq!(text_of(&pg, "cut@mail").await, cut_by_mail, "the channel's cut is kept as it is");
    let recorded: Vec<(String, bool)> =
        sqlx::query_as("SELECT external_id, text_truncated FROM tickets.inbound_messages ORDER BY external_id")
            .fetch_all(&pg)
            .await
            .expect("rows");
    assert_eq!(recorded, vec![("cut@mail".into(), true), ("long@mail".into(), true)]);
    assert_eq!(quarantined(&pg).await, vec![]);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_html_only_mail_is_stored_with_its_words_as_text() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    let html_only = InboundMessage {
        text: String::new(),
        html: "<div><p>The invoice&nbsp;is wrong,</p><p>please fix &amp; resend.</p></div>".into(),
        ..mail("html@mail", "html@example.org", "Invoice", &[])
    };
    env.deliver_inbound(&html_only).await;
    assert_eq!(text_of(&pg, "html@mail").await, "The invoice is wrong,\nplease fix & resend.");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn in_reply_to_wins_over_an_older_reference_to_another_ticket() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    env.deliver_inbound(&mail("a1@mail", "ann@example.org", "Ticket A", &[])).await;
    env.deliver_inbound(&mail("b1@mail", "ann@example.org", "Ticket B", &[])).await;
    // A reply to B whose References also name A's older mail (a thread that moved on): In-Reply-To
    // first, then References newest to oldest, as the channel sends them.
    env.deliver_inbound(&mail("r1@mail", "ann@example.org", "Re: Ticket B", &["<b1@mail>", "<b1@mail>", "<a1@mail>"])).await;
    assert_eq!(placed(&pg, "r1@mail").await, (1002, "message_id".into()));
    // And the other way round, so neither ticket wins by the order it was stored in.
    env.deliver_inbound(&mail("r2@mail", "ann@example.org", "Re: Ticket A", &["<a1@mail>", "<b1@mail>"])).await;
    assert_eq!(placed(&pg, "r2@mail").await, (1001, "message_id".into()));

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_parent_arriving_after_its_reply_joins_the_replys_ticket() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    // The reply came first (clock skew): it opens a ticket; its parent then joins it.
    env.deliver_inbound(&mail("child@mail", "bob@example.org", "Re: Server down", &["<parent@mail>"])).await;
    assert_eq!(placed(&pg, "child@mail").await, (1001, "new".into()));
    env.deliver_inbound(&mail("parent@mail", "ann@example.org", "Server down", &[])).await;
    assert_eq!(placed(&pg, "parent@mail").await, (1001, "child_reference".into()));

    // Both in one burst, the reply first: the parent waits for it in flight, then joins it.
    let mut last = 0;
    for i in 0..20 {
        let child = mail(&format!("c{i}@burst"), &format!("bob{i}@example.org"), "Re: x", &[&format!("<p{i}@burst>")]);
        env.publish_inbound(child.encode_to_vec(), None).await;
        last = env.publish_inbound(mail(&format!("p{i}@burst"), &format!("ann{i}@example.org"), "x", &[]).encode_to_vec(), None).await;
    }
    env.wait_inbound_consumed(last).await;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(tickets, 21, "one ticket per pair (and the first one)");
    for i in 0..20 {
        let (child, _) = placed(&pg, &format!("c{i}@burst")).await;
        assert_eq!(placed(&pg, &format!("p{i}@burst")).await, (child, "child_reference".into()), "pair {i}");
    }

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_reused_message_id_with_other_content_is_its_own_message() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    let original = mail("reused@mail", "ann@example.org", "Printer", &[]);
    env.deliver_inbound(&original).await;
    // The same mail from a second support mailbox: the same message.
    env.deliver_inbound(&InboundMessage { source: "sales@example.com".into(), ..original.clone() }).await;
    // Another sender's mail with the same Message-ID: not a duplicate.
    let other = InboundMessage { text: "Cheap pills".into(), ..mail("reused@mail", "spam@example.net", "Printer", &[]) };
    env.deliver_inbound(&other).await;
    env.deliver_inbound(&other).await;

    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.external_id, m.body_text FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id
         ORDER BY i.received_at",
    )
    .fetch_all(&pg)
    .await
    .expect("rows");
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[0], ("reused@mail".into(), "text of reused@mail".into()));
    assert!(stored[1].0.starts_with("reused@mail#") && stored[1].1 == "Cheap pills", "{stored:?}");
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(tickets, 2);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn mail_without_a_readable_sender_is_filed_under_one_unknown_sender_contact() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;

    let nobody = |id: &str| InboundMessage {
        sender: Some(Sender { display_name: "=?x?garbage".into(), ..Default::default() }),
        ..mail(id, "", "Who am I", &[])
    };
    env.deliver_inbound(&nobody("u1@mail")).await;
    env.deliver_inbound(&InboundMessage { sender: None, ..nobody("u2@mail") }).await;
    assert_eq!(placed(&pg, "u1@mail").await, (1001, "new".into()));
    assert_eq!(placed(&pg, "u2@mail").await, (1002, "new".into()));
    let contacts: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.name, e.provider, e.subject FROM identity.contacts c JOIN identity.external_identities e ON e.contact_id = c.id",
    )
    .fetch_all(&pg)
    .await
    .expect("contacts");
    assert_eq!(contacts, vec![("Unknown sender".into(), "helpdesk".into(), "unknown-sender".into())]);
    let owners: i64 = sqlx::query_scalar("SELECT count(DISTINCT contact_id) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(owners, 1);

    // The unknown sender's tickets are strangers' to each other: a number in the subject does not thread.
    env.deliver_inbound(&InboundMessage { subject: "Re: [#1001]".into(), ..nobody("u3@mail") }).await;
    assert_eq!(placed(&pg, "u3@mail").await, (1003, "new".into()));

    // A chat message without a handle is still malformed.
    let chat = InboundMessage {
        channel: InboundChannel::Discord as i32,
        sender: Some(Sender::default()),
        ..mail("chat-1", "", "", &[])
    };
    env.deliver_inbound(&chat).await;
    let reasons: Vec<String> = quarantined(&pg).await.into_iter().map(|(reason, _)| reason).collect();
    assert_eq!(reasons, vec!["the sender has no address or handle".to_string()]);

    server.stop().await.expect("stop");
}
