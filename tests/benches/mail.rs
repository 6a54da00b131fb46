//! Mail ingestion end to end: loads 10,000 real-looking mails (plain and HTML, replies with quoted
//! history and signatures, some attachments, a few thousand distinct senders) into a fresh Dovecot
//! mailbox, measures a bare IMAP fetch of all of them (one connection, the service's batch size),
//! then starts the help desk reading that mailbox and measures until every mail is stored by
//! tickets. Prints mails/s for both and their ratio; asserts nothing about time.
//! Run: `deploy/bench.sh mail` (HELPDESK_BENCH_MAILS overrides the count).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpdesk_tests::{TestEnv, mailbox::TestMailbox};

const BATCH: usize = 200;
const LOADERS: usize = 4;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let count: usize = std::env::var("HELPDESK_BENCH_MAILS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut env = TestEnv::new().await;
    env.config.shared.database.max_connections = 10;
    let support = TestMailbox::new("bench");
    println!("# mail ingestion benchmark: {count} mails");

    let started = Instant::now();
    let mails: Vec<String> = (0..count).map(|i| mail(i, &support.address)).collect();
    let bytes: usize = mails.iter().map(String::len).sum();
    let chunks: Vec<Vec<String>> = mails.chunks(count.div_ceil(LOADERS)).map(<[String]>::to_vec).collect();
    let loaders: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let support = support.clone();
            tokio::spawn(async move { support.append_all(&chunk).await })
        })
        .collect();
    for loader in loaders {
        loader.await.expect("loader");
    }
    println!(
        "loaded {count} mails ({:.1} MB) into Dovecot in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let bare = bare_fetch(&support, count).await;
    let bare_rate = count as f64 / bare.as_secs_f64();
    println!("bare IMAP fetch (UID FETCH BODY.PEEK[] in batches of {BATCH}): {:.2} s, {bare_rate:.0} mails/s", bare.as_secs_f64());

    let mut settings = env.config.clone();
    settings.mail.mailboxes = vec![support.config()];
    settings.mail.imap_batch = BATCH;
    settings.mail.acknowledge_new_tickets = false;
    let pg = env.pg().await;
    let started = Instant::now();
    let server = env.start_with(settings).await;
    let mut flagged_at = None;
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inbound_messages").fetch_one(&pg).await.expect("count");
        if flagged_at.is_none() {
            let last: Option<i64> = sqlx::query_scalar("SELECT last_uid FROM mail.mailbox_cursors").fetch_optional(&pg).await.expect("cursor");
            if last == Some(count as i64) {
                flagged_at = Some(started.elapsed());
            }
        }
        if stored as usize >= count {
            break;
        }
        assert!(Instant::now() < deadline, "only {stored} of {count} mails stored after 30 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed();
    let rate = count as f64 / total.as_secs_f64();
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.tickets").fetch_one(&pg).await.expect("tickets");
    if let Some(flagged) = flagged_at {
        println!(
            "mail part: all {count} archived, published, flagged, cursor advanced after {:.2} s ({:.0} mails/s)",
            flagged.as_secs_f64(),
            count as f64 / flagged.as_secs_f64()
        );
    }
    println!(
        "end to end (start of the help desk → every mail stored by tickets, {tickets} tickets + replies): {:.2} s, {rate:.0} mails/s",
        total.as_secs_f64()
    );
    println!("ratio end to end / bare IMAP fetch: {:.2}", rate / bare_rate);
    server.stop().await.expect("stop");
}

async fn bare_fetch(support: &TestMailbox, count: usize) -> Duration {
    let mut session = support.session().await;
    session.select("INBOX").await.expect("select");
    let started = Instant::now();
    let mut fetched = 0;
    let mut first = 1;
    while fetched < count {
        let last = first + BATCH - 1;
        let batch: Vec<async_imap::types::Fetch> = session
            .uid_fetch(format!("{first}:{last}"), "(UID BODY.PEEK[])")
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch");
        fetched += batch.iter().filter(|f| f.body().is_some()).count();
        first = last + 1;
        assert!(first <= count + BATCH, "the mailbox holds fewer mails than loaded");
    }
    let elapsed = started.elapsed();
    session.logout().await.expect("logout");
    elapsed
}

/// A deterministic, varied customer mail: about one in four answers an earlier one (quoted
/// history, signature, In-Reply-To), one in three is HTML + text, one in ten carries a file.
fn mail(i: usize, to: &str) -> String {
    const TOPICS: [&str; 8] = [
        "Cannot log in to my account",
        "Invoice shows the wrong amount",
        "Order has not arrived",
        "How do I change my password?",
        "App crashes on start",
        "Refund for a cancelled subscription",
        "Two-factor code never arrives",
        "Export to CSV is empty",
    ];
    let customer = (i * 7919) % 3000;
    let from = format!("Customer {customer} <customer{customer}@example.org>");
    let topic = TOPICS[i % TOPICS.len()];
    let reply = i % 4 == 3 && i >= 8;
    let subject = if reply { format!("Re: {topic}") } else { topic.to_string() };
    let mut headers = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <bench-{i}@example.org>\r\n\
         Date: Wed, 25 Nov 2026 10:{:02}:{:02} +0000\r\nMIME-Version: 1.0\r\n",
        (i / 60) % 60,
        i % 60
    );
    if reply {
        headers.push_str(&format!("In-Reply-To: <bench-{}@example.org>\r\n", i - 8));
    }
    let body = format!(
        "Hello support,\r\n\r\nThis is message {i} about \"{topic}\". Since yesterday it does not work as it\r\n\
         should: I tried again this morning and restarted everything, with the same result. Could you\r\n\
         please have a look? My customer number is {customer}.\r\n\r\nThanks,\r\nCustomer {customer}\r\n-- \r\n\
         Customer {customer} · Example Org · +1 555 0100\r\n{}",
        if reply { "\r\nOn Tue, 24 Nov 2026, Support wrote:\r\n> We are looking into it.\r\n> Kind regards\r\n" } else { "" }
    );
    let mut mail = headers;
    if i % 10 == 5 {
        mail.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        mail.push_str(&body);
        mail.push_str("\r\n--b\r\nContent-Type: image/png; name=\"screen.png\"\r\nContent-Disposition: attachment; filename=\"screen.png\"\r\n");
        mail.push_str("Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n--b--\r\n");
    } else if i.is_multiple_of(3) {
        mail.push_str("Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        mail.push_str(&body);
        mail.push_str("\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello support,</p><p>This is message ");
        mail.push_str(&format!("{i} about <b>{topic}</b>.</p><p>Thanks</p></body></html>\r\n--a--\r\n"));
    } else {
        mail.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        mail.push_str(&body);
    }
    mail
}
