//! The email channel from the mailbox side, against the stack's real Dovecot and SMTP sink: mail
//! is delivered with IMAP APPEND, the mail part reads it (IDLE, lease, cursor), and tickets,
//! threading, ticket mail, flags and the quarantine are checked end to end.

use std::time::Duration;

use helpdesk::config::HelpdeskConfig;
use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{mail::v1 as mail_pb, tickets::v1 as pb};
use helpdesk_tests::{
    Server, TestEnv, decode_quoted_printable, header,
    mailbox::{TestMailbox, customer_mail, imported},
    mail_to, placed, wait_for_mail, within,
};

const WAIT: Duration = Duration::from_secs(30);

fn settings(env: &TestEnv, mailboxes: &[&TestMailbox]) -> HelpdeskConfig {
    let mut settings = env.config.clone();
    settings.mail.mailboxes = mailboxes.iter().map(|m| m.config()).collect();
    settings.mail.imap_poll_secs = 2;
    settings.mail.imap_lease_secs = 6;
    settings
}

async fn reading(env: &TestEnv, mailboxes: &[&TestMailbox]) -> Server {
    env.start_with(settings(env, mailboxes)).await
}

async fn ticket_count(pg: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(pg).await.expect("count")
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
    let archived = std::fs::read_dir(env.config.shared.blob.dir.join("mail/raw")).expect("raw archive").count();
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

    // The agent's next answer replies to that latest mail and keeps the thread's root.
    let request = pb::ReplyRequest { ticket_id: ticket_id.to_string(), text: "Glad to hear.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, &agent).expect("request")).await.expect("reply");
    let mails = wait_for_mail(&ann, 3).await;
    assert_eq!(mails.len(), 3, "the second reply");
    assert_eq!(header(&mails[2], "In-Reply-To"), Some("<m2@ann.example>"));
    assert_eq!(header(&mails[2], "References"), Some("<m1@ann.example> <m2@ann.example>"));

    // Someone else quoting the ticket number opens a ticket of their own.
    let mallory = unique("mallory");
    support
        .append(&customer_mail("x1@evil.example", &mallory, &support.address, "Re: [#1001] Printer on fire", "Me too", &[]))
        .await;
    assert_eq!(placed(&pg, "x1@evil.example").await, (1002, "new".into()));

    server.stop().await.expect("stop");
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
    env.ticket_mail_barrier().await;
    assert_eq!(mail_to(&bea).len(), sent, "nothing answers an auto-reply");
    assert!(mail_to(&list).is_empty(), "no acknowledgement for list mail");

    // Her server bounces our acknowledgement: an internal note on the ticket, her address marked
    // undeliverable, and the agent's next reply mails nobody.
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.bea.example>\r\nTo: {}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-1@mx.bea.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.bea.example\r\n\r\n\
         Final-Recipient: rfc822; {bea}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@helpdesk.localhost\r\nTo: {bea}\r\n\
         Message-ID: <{ack_id}>\r\nSubject: [#1001] Invoice\r\n\r\n--b--\r\n",
        support.address
    );
    support.append(&dsn).await;
    assert_eq!(placed(&pg, "dsn-1@mx.bea.example").await, (1001, "bounce".into()));
    let deliverable: bool = sqlx::query_scalar("SELECT deliverable FROM identity.contact_emails WHERE address_normalized = $1")
        .bind(&bea)
        .fetch_one(&pg)
        .await
        .expect("address");
    assert!(!deliverable, "the address is marked undeliverable");
    let request = pb::ReplyRequest { ticket_id: ticket_id.to_string(), text: "Are you there?".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, &agent).expect("request")).await.expect("reply");
    env.ticket_mail_barrier().await;
    assert_eq!(mail_to(&bea).len(), sent, "no mail to an undeliverable address");

    server.stop().await.expect("stop");
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
    env.wait_inbound_drained().await;
    assert_eq!(ticket_count(&pg).await, 1, "one ticket for one mail");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.messages").fetch_one(&pg).await.expect("messages");
    assert_eq!(messages, 1);

    // The attachment: stored with the message, its type from the bytes and its name cleaned.
    let files: Vec<(uuid::Uuid, uuid::Uuid, String, String, i64)> =
        sqlx::query_as("SELECT id, ticket_id, filename, content_type, size FROM tickets.attachments WHERE NOT raw ORDER BY filename DESC")
            .fetch_all(&pg)
            .await
            .expect("attachments");
    let described: Vec<(&str, &str, i64)> = files.iter().map(|(_, _, f, t, s)| (f.as_str(), t.as_str(), *s)).collect();
    assert_eq!(described, [("photo.png", "image/png", 70), ("page.html", "application/octet-stream", 25)]);
    // Beside them, the message's raw original (staff only), once.
    let raws: Vec<String> = sqlx::query_scalar("SELECT blob_key FROM tickets.attachments WHERE raw").fetch_all(&pg).await.expect("raw");
    assert!(raws.len() == 1 && raws[0].starts_with("mail/raw/"), "{raws:?}");
    let (attachment, ticket) = (files[0].0, files[0].1);
    let token = server.contact_token(&cid).await;
    let api = helpdesk_tests::Client::new(&server.gateway, Some(&token));
    let (status, messages) = api.get(&format!("/api/v1/tickets/{ticket}/messages")).await;
    assert_eq!(status, 200, "{messages}");
    assert!(messages.to_string().contains("photo.png"), "{messages}");
    let (status, headers, bytes) = api.download(&format!("/api/v1/tickets/{ticket}/attachments/{attachment}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(bytes.len(), 70);

    server.stop().await.expect("stop");
}

fn crash_mail(i: usize, support: &TestMailbox) -> String {
    customer_mail(
        &format!("c{i}@crash.example"),
        &format!("crash-{i}@example.org"),
        &support.address,
        &format!("Question {i}"),
        "Something is wrong.",
        &[],
    )
}

#[tokio::test]
async fn killed_between_publish_and_flag_nothing_is_lost_or_doubled() {
    const MAILS: i64 = 300;
    let env = TestEnv::new().await;
    let support = TestMailbox::new("crash");
    let pg = env.pg().await;
    let mails: Vec<String> = (0..MAILS as usize).map(|i| crash_mail(i, &support)).collect();
    support.append_all(&mails).await;
    let mailboxes = format!("[{}]", support.toml());
    let extra = [
        ("HELPDESK_MAIL__MAILBOXES", mailboxes.as_str()),
        ("HELPDESK_MAIL__IMAP_BATCH", "20"),
        ("HELPDESK_MAIL__IMAP_POLL_SECS", "2"),
        ("HELPDESK_MAIL__IMAP_LEASE_SECS", "6"),
        ("HELPDESK_MAIL__ACKNOWLEDGE_NEW_TICKETS", "false"),
    ];
    let binary = env!("CARGO_BIN_EXE_helpdesk-under-test");

    // SIGKILL while batches are being published and flagged.
    let child = env.spawn_process(binary, &extra).await;
    within(WAIT, "the first tickets", async || ticket_count(&pg).await > 0).await;
    child.kill().await;
    let child = env.spawn_process(binary, &extra).await;
    within(Duration::from_secs(120), "every mail is a ticket", async || ticket_count(&pg).await == MAILS).await;
    within(WAIT, "every mail is flagged", async || support.flags("INBOX").await.iter().all(|(_, f)| imported(f))).await;
    child.kill().await;
    assert_eq!(ticket_count(&pg).await, MAILS, "no duplicate after the crash");

    // Exactly the state a crash between publish and flag leaves: every mail published, none
    // flagged, the cursor not advanced. The restart publishes everything again; nothing doubles.
    support.clear_flags().await;
    sqlx::query("UPDATE mail.mailbox_cursors SET last_uid = 0").execute(&pg).await.expect("rewind the cursor");
    let child = env.spawn_process(binary, &extra).await;
    within(WAIT, "every mail is flagged again", async || support.flags("INBOX").await.iter().all(|(_, f)| imported(f))).await;
    let last: i64 = sqlx::query_scalar("SELECT last_uid FROM mail.mailbox_cursors").fetch_one(&pg).await.expect("cursor");
    assert_eq!(last, MAILS);
    env.wait_inbound_drained().await;
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT external_id) FROM tickets.inbound_messages")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!((ticket_count(&pg).await, distinct), (MAILS, MAILS));
    child.kill().await;
}

/// A nats-server of the test's own (the stack's binary, a private port and store), which the
/// test can stop and start again.
struct PrivateNats {
    binary: String,
    port: u16,
    store: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl PrivateNats {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let binary = std::env::var(helpdesk_tests::stack_env::HELPDESK_STACK_NATS_BIN).expect("the stack's nats-server (deploy/stack.sh env)");
        let mut nats = Self { binary, port, store: tempfile::tempdir().expect("store"), child: None };
        nats.resume().await;
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn resume(&mut self) {
        let child = tokio::process::Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let port = self.port;
        within(WAIT, "the private NATS accepts connections", async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("stop nats-server");
        }
    }
}

#[tokio::test]
async fn while_nats_is_down_mail_waits_in_the_mailbox_and_flows_after() {
    let mut nats = PrivateNats::start().await;
    let mut env = TestEnv::new().await;
    env.config.shared.nats.url = nats.url();
    let support = TestMailbox::new("natsdown");
    let server = reading(&env, &[&support]).await;
    let pg = env.pg().await;

    support.append(&customer_mail("d1@down.example", &unique("dan"), &support.address, "Before", "One", &[])).await;
    placed(&pg, "d1@down.example").await;

    nats.stop().await;
    support.append(&customer_mail("d2@down.example", &unique("dan"), &support.address, "During", "Two", &[])).await;
    support.append(&customer_mail("d3@down.example", &unique("dan"), &support.address, "During", "Three", &[])).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let flags = support.flags("INBOX").await;
    assert_eq!(flags.len(), 3);
    assert!(flags[1..].iter().all(|(_, f)| !imported(f)), "nothing is flagged while it cannot be published: {flags:?}");
    assert_eq!(ticket_count(&pg).await, 1);

    nats.resume().await;
    assert_eq!(placed(&pg, "d2@down.example").await.1, "new");
    assert_eq!(placed(&pg, "d3@down.example").await.1, "new");
    within(WAIT, "all three are flagged", async || support.flags("INBOX").await.iter().all(|(_, f)| imported(f))).await;
    assert_eq!(ticket_count(&pg).await, 3);

    server.stop().await.expect("stop");
    nats.stop().await;
}

#[tokio::test]
async fn poison_mail_is_quarantined_without_blocking_and_an_admin_can_retry_it() {
    let env = TestEnv::new().await;
    let support = TestMailbox::new("poison");
    let pg = env.pg().await;
    let mut tight = settings(&env, &[&support]);
    tight.mail.inbound_max_bytes = 4000;
    let server = env.start_with(tight).await;

    let big = "x".repeat(6000);
    support.append(&customer_mail("g1@ok.example", &unique("gil"), &support.address, "Fine", "Hello", &[])).await;
    support.append(&customer_mail("p1@big.example", &unique("pat"), &support.address, "Huge", &big, &[])).await;
    // Not a mail at all: no header, only a line of text (a truncated or corrupt file). A mail
    // without a sender is no longer poison (it becomes an "unknown sender" ticket).
    support.append("Who am I? Not even a header.\r\n").await;
    support.append(&customer_mail("g2@ok.example", &unique("gil"), &support.address, "Also fine", "Hello", &[])).await;
    placed(&pg, "g2@ok.example").await;
    placed(&pg, "g1@ok.example").await;
    within(WAIT, "all four are flagged", async || support.flags("INBOX").await.iter().all(|(_, f)| imported(f))).await;
    assert_eq!(ticket_count(&pg).await, 2, "poison makes no ticket");

    let mut admin_client = mail_pb::mail_admin_service_client::MailAdminServiceClient::new(server.clients.mail());
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let refused = admin_client
        .list_quarantined_mail(bearer(mail_pb::ListQuarantinedMailRequest::default(), &agent).expect("request"))
        .await
        .expect_err("agents may not");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let list = admin_client
        .list_quarantined_mail(bearer(mail_pb::ListQuarantinedMailRequest::default(), &admin).expect("request"))
        .await
        .expect("list")
        .into_inner()
        .mails;
    let mut reasons: Vec<(u32, String)> = list.iter().map(|m| (m.uid, m.reason.clone())).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, 2);
    assert!(reasons[0].1.contains("over the limit of 4000"), "{reasons:?}");
    assert_eq!(reasons[1], (3, "the mail cannot be parsed".into()));
    let nobody = list.iter().find(|m| m.uid == 3).expect("uid 3").id.clone();
    let big_one = list.iter().find(|m| m.uid == 2).expect("uid 2").id.clone();

    // Retrying what cannot be fixed says why and keeps it.
    let again = admin_client
        .retry_quarantined_mail(bearer(mail_pb::RetryQuarantinedMailRequest { id: nobody.clone() }, &admin).expect("request"))
        .await
        .expect_err("still not a mail");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    server.stop().await.expect("stop");

    // With the limit raised, the big mail goes through on retry; the other stays.
    let server = reading(&env, &[&support]).await;
    let mut admin_client = mail_pb::mail_admin_service_client::MailAdminServiceClient::new(server.clients.mail());
    let done = admin_client
        .retry_quarantined_mail(bearer(mail_pb::RetryQuarantinedMailRequest { id: big_one }, &admin).expect("request"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(done.external_id, "p1@big.example");
    assert_eq!(placed(&pg, "p1@big.example").await.1, "new");
    let left = admin_client
        .list_quarantined_mail(bearer(mail_pb::ListQuarantinedMailRequest::default(), &admin).expect("request"))
        .await
        .expect("list")
        .into_inner()
        .mails;
    assert_eq!(left.iter().map(|m| (m.id.clone(), m.attempts)).collect::<Vec<_>>(), [(nobody.clone(), 2)]);

    // The same through the CLI an operator uses.
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-under-test"));
        command
            .args(args)
            .envs(env.child_env())
            .env("HELPDESK_ENDPOINTS__IDENTITY", &server.config.shared.endpoints.identity)
            .env("HELPDESK_ENDPOINTS__MAIL", &server.config.shared.endpoints.mail)
            .env("RUST_LOG", "error");
        command
    };
    let listed = cli(&["mail", "quarantine"]).output().await.expect("cli");
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed = String::from_utf8(listed.stdout).expect("utf8");
    assert!(listed.contains(&nobody) && listed.contains("cannot be parsed"), "{listed}");
    let retried = cli(&["mail", "retry", &nobody]).output().await.expect("cli");
    assert!(!retried.status.success());
    assert!(String::from_utf8_lossy(&retried.stderr).contains("still cannot be imported"), "{retried:?}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_changed_uidvalidity_rescans_without_importing_twice_and_moved_mail_leaves_the_inbox() {
    let env = TestEnv::new().await;
    let support = TestMailbox::new("rescan");
    let pg = env.pg().await;
    let server = reading(&env, &[&support]).await;
    for i in 1..=3 {
        support.append(&customer_mail(&format!("r{i}@rescan.example"), &unique("rae"), &support.address, "Hi", "Hello", &[])).await;
    }
    placed(&pg, "r3@rescan.example").await;
    within(WAIT, "all are flagged", async || support.flags("INBOX").await.iter().all(|(_, f)| imported(f))).await;
    server.stop().await.expect("stop");

    // The server's UIDVALIDITY no longer matches the stored one: everything is read again. One
    // mail lost its flag on the way (so it is published again); the stream and tickets drop it.
    sqlx::query("UPDATE mail.mailbox_cursors SET uid_validity = uid_validity + 1, last_uid = 0").execute(&pg).await.expect("cursor");
    let mut session = support.session().await;
    session.select("INBOX").await.expect("select");
    let _: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        session.uid_store("2", "-FLAGS.SILENT (\\Seen $HelpdeskImported)").await.expect("store"),
    )
    .await
    .expect("store");
    session.logout().await.expect("logout");
    let mut moving = settings(&env, &[&support]);
    moving.mail.mailboxes[0].move_to = "Imported".into();
    let server = env.start_with(moving).await;
    support.append(&customer_mail("r4@rescan.example", &unique("rae"), &support.address, "Hi", "Hello", &[])).await;
    placed(&pg, "r4@rescan.example").await;
    within(WAIT, "the inbox is emptied into Imported", async || support.flags("INBOX").await.is_empty()).await;
    assert_eq!(support.flags("Imported").await.len(), 4);
    assert_eq!(ticket_count(&pg).await, 4, "the rescan imported nothing twice");
    let (validity_ok, last): (bool, i64) = sqlx::query_as(
        "SELECT uid_validity > 0, last_uid FROM mail.mailbox_cursors",
    )
    .fetch_one(&pg)
    .await
    .expect("cursor");
    assert!(validity_ok);
    assert_eq!(last, 4);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn one_replica_holds_a_mailbox_lease_until_it_lets_go_or_stops_renewing() {
    let env = TestEnv::new().await;
    let nats = helpdesk_kit::nats::Nats::connect(&env.config.shared.nats).await.expect("nats");
    let ttl = Duration::from_secs(2);
    let first = helpdesk_kit::lease::Leases::open(&nats, nats.subjects.mail_leases_bucket(), ttl).await.expect("leases");
    let second = helpdesk_kit::lease::Leases::open(&nats, nats.subjects.mail_leases_bucket(), ttl).await.expect("leases");

    let mut held = first.acquire("support").await.expect("acquire").expect("free");
    assert!(second.acquire("support").await.expect("acquire").is_none(), "taken");
    assert!(second.acquire("billing").await.expect("acquire").is_some(), "another mailbox is free");
    assert!(first.renew(&mut held).await.expect("renew"));
    first.release(held).await;
    let mut taken = second.acquire("support").await.expect("acquire").expect("released");

    // The holder stops renewing (crashed): after the TTL another replica takes over, and the old
    // holder learns it lost the lease.
    tokio::time::sleep(ttl + Duration::from_secs(2)).await;
    let _new = first.acquire("support").await.expect("acquire").expect("expired");
    assert!(!second.renew(&mut taken).await.expect("renew"), "lost");
}

#[tokio::test]
async fn mailboxes_over_implicit_tls_and_starttls_verify_the_server() {
    let env = TestEnv::new().await;
    let ca = std::env::var(helpdesk_tests::stack_env::HELPDESK_TEST_IMAP_CA).expect("the test CA (deploy/stack.sh env)");
    let tls_port: u16 = std::env::var(helpdesk_tests::stack_env::HELPDESK_TEST_IMAPS_PORT).expect("the IMAPS port").parse().expect("port");
    let implicit = TestMailbox::new("imaps");
    let starttls = TestMailbox::new("starttls");
    let untrusted = TestMailbox::new("untrusted");
    let mut settings = settings(&env, &[&implicit, &starttls, &untrusted]);
    let [a, b, c] = &mut settings.mail.mailboxes[..] else { panic!("three mailboxes") };
    (a.tls, a.port, a.ca_file) = (helpdesk_mail::ImapTls::Tls, tls_port, ca.clone());
    (b.tls, b.ca_file) = (helpdesk_mail::ImapTls::Starttls, ca);
    // No CA file: the test CA is not among the public roots, so the handshake must fail.
    (c.tls, c.port) = (helpdesk_mail::ImapTls::Tls, tls_port);
    let server = env.start_with(settings).await;
    let pg = env.pg().await;

    for (mailbox, id) in [(&implicit, "t1@tls.example"), (&starttls, "t2@tls.example"), (&untrusted, "t3@tls.example")] {
        mailbox.append(&customer_mail(id, &unique("tess"), &mailbox.address, "Over TLS", "Hello", &[])).await;
    }
    assert_eq!(placed(&pg, "t1@tls.example").await.1, "new");
    assert_eq!(placed(&pg, "t2@tls.example").await.1, "new");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inbound_messages WHERE external_id = 't3@tls.example'")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(stored, 0, "a server whose certificate is not trusted is not read");
    assert!(untrusted.flags("INBOX").await.iter().all(|(_, f)| !imported(f)), "its mail stays unread");

    server.stop().await.expect("stop");
}
