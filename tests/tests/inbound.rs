//! Channel messages into tickets: the durable consumer of the inbound stream is idempotent on
//! (channel, external id), finds-or-creates the sender once, and quarantines what it cannot use
//! without holding up the messages behind it.

use helpdesk_proto::events::v1::{InboundChannel, InboundMessage, Sender};
use helpdesk_tests::TestEnv;
use prost::Message;

fn mail(external_id: &str, from: &str, subject: &str) -> InboundMessage {
    InboundMessage {
        channel: InboundChannel::Email as i32,
        source: "support@example.com".into(),
        external_id: external_id.into(),
        sender: Some(Sender {
            address: from.into(),
            display_name: "Carol Customer".into(),
            ..Default::default()
        }),
        subject: subject.into(),
        text: "My card does not work.".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_same_inbound_message_published_twice_makes_exactly_one_ticket() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let message = mail("<abc-123@mail.example.com>", "Carol@Example.com", "Card declined");

    // Twice with distinct publish ids, so the stream's own dedupe cannot hide a second delivery,
    // and once more with a repeated id.
    env.publish_inbound(message.encode_to_vec(), Some("first")).await;
    env.publish_inbound(message.encode_to_vec(), Some("second")).await;
    let last = env.publish_inbound(message.encode_to_vec(), Some("second")).await;
    env.wait_inbound_consumed(last).await;

    let pg = env.pg().await;
    let tickets: Vec<(String, i16)> = sqlx::query_as("SELECT subject, channel FROM tickets.tickets")
        .fetch_all(&pg)
        .await
        .expect("tickets");
    assert_eq!(tickets, vec![("Card declined".to_string(), 2)]);

    // Another mail from the same sender, spelled differently: a second ticket, the same contact.
    let other = mail("<def-456@mail.example.com>", "carol@EXAMPLE.com", "Still declined");
    let last = env.publish_inbound(other.encode_to_vec(), None).await;
    env.wait_inbound_consumed(last).await;
    let contacts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (SELECT count(*) FROM identity.contacts), (SELECT count(DISTINCT contact_id) FROM tickets.tickets)",
    )
    .fetch_all(&pg)
    .await
    .expect("counts");
    assert_eq!(contacts, vec![(1, 1)]);
    let name: String = sqlx::query_scalar("SELECT name FROM identity.contacts").fetch_one(&pg).await.expect("name");
    assert_eq!(name, "Carol Customer");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_unusable_inbound_message_is_quarantined_and_does_not_block_the_next() {
    let env = TestEnv::new().await;
    let server = env.start().await;

    env.publish_inbound(b"\xff\xfe definitely not protobuf".to_vec(), None).await;
    // Mail without a sender is filed under "unknown sender" now (issue 11); a chat message
    // without a handle is still unusable.
    let no_sender = InboundMessage {
        channel: InboundChannel::Discord as i32,
        sender: None,
        ..mail("no-sender-1", "", "Who am I")
    };
    env.publish_inbound(no_sender.encode_to_vec(), None).await;
    let good = mail("<good@x>", "dave@example.com", "After the poison");
    let last = env.publish_inbound(good.encode_to_vec(), None).await;
    env.wait_inbound_consumed(last).await;

    let pg = env.pg().await;
    let subjects: Vec<String> = sqlx::query_scalar("SELECT subject FROM tickets.tickets")
        .fetch_all(&pg)
        .await
        .expect("tickets");
    assert_eq!(subjects, vec!["After the poison".to_string()]);
    let mut reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM tickets.quarantine")
        .fetch_all(&pg)
        .await
        .expect("quarantine");
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("not an InboundMessage"), "{reasons:?}");
    assert!(reasons[1].contains("no address or handle"), "{reasons:?}");
    // The quarantined payload is kept whole.
    let kept: Vec<u8> = sqlx::query_scalar("SELECT payload FROM tickets.quarantine WHERE reason LIKE 'not an%'")
        .fetch_one(&pg)
        .await
        .expect("payload");
    assert_eq!(kept, b"\xff\xfe definitely not protobuf".to_vec());

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_chat_message_finds_its_sender_by_handle() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let chat = |id: &str| InboundMessage {
        channel: InboundChannel::Discord as i32,
        source: "guild-1".into(),
        external_id: id.into(),
        sender: Some(Sender {
            handle: "80351110224678912".into(),
            display_name: "Nelly".into(),
            ..Default::default()
        }),
        subject: String::new(),
        text: "hi, my order never came".into(),
        ..Default::default()
    };
    env.publish_inbound(chat("m-1").encode_to_vec(), None).await;
    let last = env.publish_inbound(chat("m-2").encode_to_vec(), None).await;
    env.wait_inbound_consumed(last).await;

    let pg = env.pg().await;
    let rows: Vec<(String, i16)> = sqlx::query_as("SELECT subject, channel FROM tickets.tickets")
        .fetch_all(&pg)
        .await
        .expect("tickets");
    assert_eq!(rows, vec![("(no subject)".to_string(), 3), ("(no subject)".to_string(), 3)]);
    let identities: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identity.external_identities WHERE provider = 'discord' AND subject = '80351110224678912'",
    )
    .fetch_one(&pg)
    .await
    .expect("count");
    assert_eq!(identities, 1);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_burst_of_mails_and_replies_to_them_threads_every_reply_despite_concurrency() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    // Each original is followed at once by a reply from someone else (so only the reference ties
    // them) and by a second copy of the original: published back to back, they are in flight
    // together in the consumer.
    let mut last = 0;
    for i in 0..40 {
        let original = mail(&format!("o{i}@burst.example"), &format!("author{i}@example.com"), &format!("Case {i}"));
        let reply = InboundMessage {
            thread_refs: vec![format!("o{i}@burst.example")],
            ..mail(&format!("r{i}@burst.example"), &format!("colleague{i}@example.com"), &format!("Re: Case {i}"))
        };
        env.publish_inbound(original.encode_to_vec(), None).await;
        env.publish_inbound(reply.encode_to_vec(), None).await;
        last = env.publish_inbound(original.encode_to_vec(), None).await;
    }
    env.wait_inbound_consumed(last).await;

    let pg = env.pg().await;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("count");
    assert_eq!(tickets, 40, "one ticket per original, none for a copy or a reply");
    let threaded: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.external_id, t.subject FROM tickets.inbound_messages i JOIN tickets.tickets t ON t.id = i.ticket_id
         WHERE i.external_id LIKE 'r%' ORDER BY i.external_id",
    )
    .fetch_all(&pg)
    .await
    .expect("replies");
    assert_eq!(threaded.len(), 40);
    for (reply, subject) in threaded {
        let n = reply.trim_start_matches('r').trim_end_matches("@burst.example");
        assert_eq!(subject, format!("Case {n}"), "{reply} threads onto its original's ticket");
    }
    server.stop().await.expect("stop");
}
