//! The email channel from the mailbox side, against the stack's real Dovecot and SMTP sink: mail
//! is delivered with IMAP APPEND, the mail part reads it (IDLE, lease, cursor), and tickets,
//! threading, ticket mail, flags and the quarantine are checked end to end.

use std::time::Duration;

use helpdesk::serve::PartSettings;
use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{mail::v1 as mail_pb, tickets::v1 as pb};
use helpdesk_tests::{
    Server, TestEnv, decode_quoted_printable,
    mailbox::{TestMailbox, customer_mail, imported, within},
    mail_to, wait_for_mail,
};

const WAIT: Duration = Duration::from_secs(30);

fn settings(mailboxes: &[&TestMailbox]) -> PartSettings {
    let mut settings = PartSettings::load(None).expect("part settings");
    settings.mail.mailboxes = mailboxes.iter().map(|m| m.config()).collect();
    settings.mail.imap_poll_secs = 2;
    settings.mail.imap_lease_secs = 6;
    settings
}

async fn reading(env: &TestEnv, mailboxes: &[&TestMailbox]) -> Server {
    env.start_with(settings(mailboxes)).await
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_lowercase());
    mail.lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

async fn ticket_count(pg: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(pg).await.expect("count")
}

/// (ticket number, threading rule) of the message stored for this Message-ID, once it is there.
async fn placed(pg: &sqlx::PgPool, external_id: &str) -> (i64, String) {
    let query = "SELECT t.number, m.thread_rule FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id
         JOIN tickets.tickets t ON t.id = i.ticket_id WHERE i.external_id = $1";
    within(WAIT, &format!("{external_id} is stored"), async || {
        sqlx::query(query).bind(external_id).fetch_optional(pg).await.expect("query").is_some()
    })
    .await;
    sqlx::query_as(query).bind(external_id).fetch_one(pg).await.expect("placed")
}

fn unique(label: &str) -> String {
    format!("{label}-{}@example.org", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[tokio::test]
async fn a_mail_becomes_a_ticket_and_the_conversation_threads_both_ways() {
    let env = TestEnv::new().await;
    let support = TestMailbox::new("loop");
    let server = reading(&env, &[&support]).await;
    let pg = env.pg().await;
    let ann = unique("ann");

    support
        .append(&customer_mail("m1@ann.example", &ann, &support.address, "Printer on fire", "It is really on fire.", &[]))
        .await;
    assert_eq!(placed(&pg, "m1@ann.example").await, (1001, "new".into()));
    let contact: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contact_emails WHERE address_normalized = $1")
        .bind(&ann)
        .fetch_one(&pg)
        .await
        .expect("contact");
    assert_eq!(contact, 1, "the sender became a contact");
    within(WAIT, "the mail is flagged imported", async || {
        support.flags("INBOX").await.iter().all(|(_, flags)| imported(flags))
    })
    .await;
    let (validity, last): (i64, i64) = sqlx::query_as("SELECT uid_validity, last_uid FROM mail.mailbox_cursors WHERE mailbox = $1")
        .bind(&support.name)
        .fetch_one(&pg)
        .await
        .expect("cursor");
    assert!(validity > 0);
    assert_eq!(last, 1);
    let archived = std::fs::read_dir(env.config.blob.dir.join("mail/raw")).expect("raw archive").count();
    assert_eq!(archived, 1, "the raw mail is archived");

    // The acknowledgement threads under the customer's mail.
    let ack = wait_for_mail(&ann, 1).await;
    assert_eq!(ack.len(), 1, "an acknowledgement");
    assert_eq!(header(&ack[0], "In-Reply-To"), Some("<m1@ann.example>"));

    // An agent replies over gRPC: a mail with threading headers.
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let ticket_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("ticket");
    let request = pb::ReplyRequest { ticket_id: ticket_id.to_string(), text: "Please unplug it.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, &agent).expect("request")).await.expect("reply");
    let mails = wait_for_mail(&ann, 2).await;
    assert_eq!(mails.len(), 2, "the agent's reply");
    let reply = &mails[1];
    assert!(decode_quoted_printable(reply).contains("Please unplug it."), "{reply}");
    assert_eq!(header(reply, "In-Reply-To"), Some("<m1@ann.example>"));
    assert!(header(reply, "References").is_some_and(|r| r.contains("<m1@ann.example>")), "{reply}");
    let ours = header(reply, "Message-ID").expect("Message-ID").trim_matches(['<', '>']).to_string();

    // The customer answers that mail from her client: the same ticket.
    let answer = customer_mail(
        "m2@ann.example",
        &ann,
        &support.address,
        "Re: [#1001] Printer on fire",
        "Unplugged, thanks.\n\nOn Wed, Support wrote:\n> Please unplug it.",
        &[&format!("In-Reply-To: <{ours}>"), &format!("References: <m1@ann.example> <{ours}>")],
    );
    support.append(&answer).await;
    assert_eq!(placed(&pg, "m2@ann.example").await, (1001, "message_id".into()));
    let text: String = sqlx::query_scalar(
        "SELECT m.body_text FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id WHERE i.external_id = 'm2@ann.example'",
    )
    .fetch_one(&pg)
    .await
    .expect("text");
    assert_eq!(text, "Unplugged, thanks.", "quoted history is stripped");

    // Someone else quoting the ticket number opens a ticket of their own.
    let mallory = unique("mallory");
    support
        .append(&customer_mail("x1@evil.example", &mallory, &support.address, "Re: [#1001] Printer on fire", "Me too", &[]))
        .await;
    assert_eq!(placed(&pg, "x1@evil.example").await, (1002, "new".into()));

    server.stop().await.expect("stop");
    env.cleanup().await;
}

#[tokio::test]
async fn automatic_and_list_mail_get_no_answer_and_reopen_nothing() {
    let env = TestEnv::new().await;
    let support = TestMailbox::new("auto");
    let server = reading(&env, &[&support]).await;
    let pg = env.pg().await;
    let bea = unique("bea");

    support.append(&customer_mail("b1@bea.example", &bea, &support.address, "Invoice", "Wrong amount.", &[])).await;
    placed(&pg, "b1@bea.example").await;
    let ack = wait_for_mail(&bea, 1).await;
    let ack_id = header(&ack[0], "Message-ID").expect("Message-ID").trim_matches(['<', '>']).to_string();
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let ticket_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("ticket");
    let complete = pb::CompleteTicketRequest { ticket_id: ticket_id.to_string() };
    server.clients.tickets().complete_ticket(bearer(complete, &agent).expect("request")).await.expect("complete");
    let sent = wait_for_mail(&bea, 2).await.len();

    // Her out-of-office answers our mail: stored on the ticket, no reopen, nothing sent back.
    let ooo = customer_mail(
        "b2@bea.example",
        &bea,
        &support.address,
        "Automatic reply: [#1001] Invoice",
        "I am out of the office.",
        &["Auto-Submitted: auto-replied", &format!("In-Reply-To: <{ack_id}>")],
    );
    support.append(&ooo).await;
    assert_eq!(placed(&pg, "b2@bea.example").await, (1001, "message_id".into()));
    let kind: i16 =
        sqlx::query_scalar("SELECT status_kind FROM tickets.tickets WHERE number = 1001").fetch_one(&pg).await.expect("kind");
    assert_eq!(kind, 2, "still completed");

    // A newsletter: a ticket, but no acknowledgement.
    let list = unique("news");
    support
        .append(&customer_mail("n1@news.example", &list, &support.address, "Our news", "Hello!", &["List-Id: <news.example>", "Precedence: bulk"]))
        .await;
    placed(&pg, "n1@news.example").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail_to(&bea).len(), sent, "nothing answers an auto-reply");
    assert!(mail_to(&list).is_empty(), "no acknowledgement for list mail");

    server.stop().await.expect("stop");
    env.cleanup().await;
}

#[tokio::test]
async fn the_same_mail_twice_or_in_two_mailboxes_is_one_ticket_with_its_attachments() {
    let env = TestEnv::new().await;
    let sales = TestMailbox::new("sales");
    let help = TestMailbox::new("help");
    let server = reading(&env, &[&sales, &help]).await;
    let pg = env.pg().await;
    let cid = unique("cid");

    let with_file = format!(
        "From: Cid <{cid}>\r\nTo: {}, {}\r\nSubject: Broken part\r\nMessage-ID: <c1@cid.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPhoto attached.\r\n\
         --b\r\nContent-Type: application/octet-stream; name=\"photo.png\"\r\nContent-Disposition: attachment; filename=\"../photo.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n\
         --b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n",
        sales.address, help.address
    );
    sales.append(&with_file).await;
    sales.append(&with_file).await;
    help.append(&with_file).await;
    placed(&pg, "c1@cid.example").await;
    within(WAIT, "all three copies are imported", async || {
        let a = sales.flags("INBOX").await;
        let b = help.flags("INBOX").await;
        a.len() == 2 && b.len() == 1 && a.iter().chain(&b).all(|(_, f)| imported(f))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ticket_count(&pg).await, 1, "one ticket for one mail");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.messages").fetch_one(&pg).await.expect("messages");
    assert_eq!(messages, 1);

    // The attachment: stored with the message, its type from the bytes and its name cleaned.
    let files: Vec<(uuid::Uuid, uuid::Uuid, String, String, i64)> =
        sqlx::query_as("SELECT id, ticket_id, filename, content_type, size FROM tickets.attachments ORDER BY filename DESC")
            .fetch_all(&pg)
            .await
            .expect("attachments");
    let described: Vec<(&str, &str, i64)> = files.iter().map(|(_, _, f, t, s)| (f.as_str(), t.as_str(), *s)).collect();
    assert_eq!(described, [("photo.png", "image/png", 70), ("page.html", "application/octet-stream", 25)]);
    let (attachment, ticket) = (files[0].0, files[0].1);
    let token = server.contact_token(&cid).await;
    let api = helpdesk_tests::Api::new(&server.gateway, Some(&token));
    let (status, messages) = api.get(&format!("/api/v1/tickets/{ticket}/messages")).await;
    assert_eq!(status, 200, "{messages}");
    assert!(messages.to_string().contains("photo.png"), "{messages}");
    let (status, headers, bytes) = api.download(&format!("/api/v1/tickets/{ticket}/attachments/{attachment}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(bytes.len(), 70);

    server.stop().await.expect("stop");
    env.cleanup().await;
}
