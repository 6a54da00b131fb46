//! Ticket mail the relay does not take, and mail held back on purpose, against a scripted SMTP
//! peer (`helpdesk_tests::smtp_peer`: the stack's sink accepts everything). A permanent refusal
//! is given up at once, recorded once in the ledger with the reason and as an internal entry on
//! the ticket, and the address flagged, so later mail to it is skipped; a temporary one is retried
//! and delivered; a sender opening many tickets at once gets one acknowledgement per window.

use std::time::Duration;

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1 as pb;
use helpdesk_tests::{Server, TestEnv, eventually, inbound_mail as mail, smtp_peer::SmtpPeer};
use sqlx::PgPool;

/// Long enough for the old code's first retry (a 2 s back-off) to have happened.
const NO_RETRY: Duration = Duration::from_secs(5);

/// `gone-…` has no mailbox (550 5.1.1); `later-…` is refused for now once (451), then taken.
async fn peer() -> SmtpPeer {
    SmtpPeer::start(|address, attempt| {
        if address.starts_with("gone-") {
            format!("550 5.1.1 <{address}>: Recipient address rejected: User unknown")
        } else if address.starts_with("later-") && attempt == 1 {
            "451 4.3.0 Try again later".into()
        } else {
            "250 2.1.5 OK".into()
        }
    })
    .await
}

/// A help desk whose mail goes to the scripted peer, and an agent's token.
struct Desk {
    env: TestEnv,
    peer: SmtpPeer,
    server: Server,
    pg: PgPool,
    agent: String,
}

impl Desk {
    async fn start() -> Self {
        let env = TestEnv::new().await;
        let peer = peer().await;
        let mut settings = env.config.clone();
        settings.mail.smtp_port = peer.port;
        let server = env.start_with(settings).await;
        let pg = env.pg().await;
        let (_, agent) = env.staff_token(StaffRole::Agent);
        Self { env, peer, server, pg, agent }
    }

    async fn stop(self) {
        self.server.stop().await.expect("stop");
    }

    /// The ticket's ledger once its first mail's outcome is on the ticket, after long enough for
    /// a retry to have shown up.
    async fn settled(&self, number: i64) -> Vec<(String, String, String, i32, bool)> {
        eventually("the mail that was not sent is recorded", async || {
            ledger(&self.pg, number).await.first().is_some_and(|row| row.4)
        })
        .await;
        tokio::time::sleep(NO_RETRY).await;
        ledger(&self.pg, number).await
    }
}

fn unique(label: &str) -> String {
    format!("{label}-{}@example.org", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The ledger rows of a ticket's mail: (kind, status, reason, attempts, noted on the ticket).
async fn ledger(pg: &PgPool, number: i64) -> Vec<(String, String, String, i32, bool)> {
    sqlx::query_as(
        "SELECT l.kind, l.status, coalesce(l.reason, ''), l.attempts, l.noted_at IS NOT NULL
         FROM mail.outbound_ledger l JOIN tickets.tickets t ON t.id = l.ticket_id WHERE t.number = $1 ORDER BY l.created_at",
    )
    .bind(number)
    .fetch_all(pg)
    .await
    .expect("ledger")
}

async fn ticket_id(pg: &PgPool, number: i64) -> String {
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM tickets.tickets WHERE number = $1").bind(number).fetch_one(pg).await.expect("ticket");
    id.to_string()
}

/// The internal entries the system wrote on a ticket, as an agent reads them.
async fn system_notes(server: &Server, agent: &str, ticket: &str) -> Vec<String> {
    let request = pb::ListMessagesRequest { ticket_id: ticket.to_string(), ..Default::default() };
    let messages = server.clients.tickets().list_messages(bearer(request, agent).expect("request")).await.expect("messages");
    messages
        .into_inner()
        .messages
        .into_iter()
        .filter(|m| m.kind == pb::MessageKind::InternalNote as i32 && m.author_kind == pb::AuthorKind::System as i32)
        .map(|m| m.text)
        .collect()
}

async fn deliverable(pg: &PgPool, address: &str) -> bool {
    sqlx::query_scalar("SELECT deliverable FROM identity.contact_emails WHERE address_normalized = lower($1)")
        .bind(address)
        .fetch_one(pg)
        .await
        .expect("address")
}

#[tokio::test]
async fn a_permanent_refusal_is_given_up_at_once_noted_on_the_ticket_and_the_address_flagged() {
    let desk = Desk::start().await;
    let (env, peer, server, pg, agent) = (&desk.env, &desk.peer, &desk.server, &desk.pg, desk.agent.as_str());
    let gone = unique("gone");

    env.deliver_inbound(&mail("g1@gone.example", &gone, "Where is my order?", &[])).await;
    let rows = desk.settled(1001).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (kind, status, reason, attempts, _) = &rows[0];
    assert_eq!((kind.as_str(), status.as_str(), *attempts), ("ticket_acknowledgement", "refused", 1), "{rows:?}");
    assert!(reason.contains("550") && reason.contains("User unknown"), "{reason}");
    assert_eq!(peer.attempts(&gone), 1, "asked the relay once, never again");
    let ticket = ticket_id(pg, 1001).await;
    let notes = system_notes(server, agent, &ticket).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("acknowledgement not sent: ") && notes[0].contains("User unknown"), "{notes:?}");
    assert!(!deliverable(pg, &gone).await, "the refused address is flagged");

    // Later mail to the flagged address is skipped and recorded, not tried: a second ticket's
    // acknowledgement and the agent's reply on the first.
    env.deliver_inbound(&mail("g2@gone.example", &gone, "Another question", &[])).await;
    let reply = pb::ReplyRequest { ticket_id: ticket.clone(), text: "It is on its way.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(reply, agent).expect("request")).await.expect("reply");
    eventually("both skips are noted", async || {
        ledger(pg, 1002).await.first().is_some_and(|row| row.4) && ledger(pg, 1001).await.get(1).is_some_and(|row| row.4)
    })
    .await;
    let second = ledger(pg, 1002).await;
    assert_eq!((second[0].1.as_str(), second[0].2.as_str()), ("skipped", "the address is marked undeliverable"), "{second:?}");
    let reply_row = &ledger(pg, 1001).await[1];
    assert_eq!((reply_row.0.as_str(), reply_row.1.as_str()), ("agent_reply", "skipped"), "{reply_row:?}");
    let notes = system_notes(server, agent, &ticket).await;
    assert!(notes.iter().any(|n| n == "reply not mailed: the address is marked undeliverable"), "{notes:?}");
    let notes = system_notes(server, agent, &ticket_id(pg, 1002).await).await;
    assert_eq!(notes, ["acknowledgement not sent: the address is marked undeliverable"]);
    tokio::time::sleep(NO_RETRY).await;
    assert_eq!(peer.attempts(&gone), 1, "nothing more was tried");
    assert_eq!(peer.delivered(), 0);

    desk.stop().await;
}

#[tokio::test]
async fn an_address_the_relay_cannot_take_is_not_retried() {
    let desk = Desk::start().await;
    let (peer, server, pg, agent) = (&desk.peer, &desk.server, &desk.pg, desk.agent.as_str());
    // A non-ASCII local part needs SMTPUTF8 (RFC 6531), which this relay does not offer.
    let address = format!("jürgen-{}@example.de", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let contact = server.clients.find_or_create_contact(&address, "Jürgen").await.expect("contact");
    let request = pb::CreateTicketRequest {
        subject: "Rechnung".into(),
        text: "Die Rechnung stimmt nicht.".into(),
        contact_id: contact,
        channel: pb::Channel::Email as i32,
        ..Default::default()
    };
    server.clients.tickets().create_ticket(bearer(request, agent).expect("request")).await.expect("ticket");

    let rows = desk.settled(1001).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].1.as_str(), rows[0].3), ("refused", 1), "given up on the first attempt: {rows:?}");
    assert!(rows[0].2.contains("non-ASCII"), "{rows:?}");
    let notes = system_notes(server, agent, &ticket_id(pg, 1001).await).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("acknowledgement not sent: the address has non-ASCII characters"), "{notes:?}");
    assert!(!deliverable(pg, &address).await, "the address is flagged");
    assert_eq!(peer.delivered(), 0);

    desk.stop().await;
}

#[tokio::test]
async fn a_temporary_refusal_is_retried_and_then_delivered() {
    let desk = Desk::start().await;
    let (env, peer, server, pg, agent) = (&desk.env, &desk.peer, &desk.server, &desk.pg, desk.agent.as_str());
    let later = unique("later");

    env.deliver_inbound(&mail("l1@later.example", &later, "Slow server", &[])).await;
    eventually("the acknowledgement is delivered on the second try", async || peer.delivered_to(&later).len() == 1).await;
    eventually("the ledger says sent", async || ledger(pg, 1001).await.first().is_some_and(|row| row.1 == "sent")).await;
    let rows = ledger(pg, 1001).await;
    assert_eq!((rows[0].1.as_str(), rows[0].3, rows[0].2.as_str()), ("sent", 2, ""), "{rows:?}");
    assert_eq!(peer.attempts(&later), 2);
    assert!(deliverable(pg, &later).await, "a temporary refusal flags nothing");
    assert!(system_notes(server, agent, &ticket_id(pg, 1001).await).await.is_empty());

    desk.stop().await;
}

#[tokio::test]
async fn a_sender_opening_many_tickets_at_once_gets_one_acknowledgement() {
    let desk = Desk::start().await;
    let (env, peer, server, pg, agent) = (&desk.env, &desk.peer, &desk.server, &desk.pg, desk.agent.as_str());
    let feed = unique("alerts");
    let ann = unique("ann");

    for n in 1..=4 {
        env.deliver_inbound(&mail(&format!("a{n}@feed.example"), &feed, &format!("Disk {n} is full"), &[])).await;
    }
    env.deliver_inbound(&mail("ann1@ann.example", &ann, "Printer on fire", &[])).await;
    eventually("every ticket's acknowledgement is settled", async || {
        let mut settled = 0;
        for number in 1001..=1005 {
            settled += ledger(pg, number).await.iter().filter(|row| row.1 == "sent" || row.4).count();
        }
        settled == 5
    })
    .await;
    assert_eq!(peer.delivered_to(&feed).len(), 1, "one acknowledgement for the flood");
    assert_eq!(peer.delivered_to(&ann).len(), 1, "another sender is not held back");
    assert_eq!(ledger(pg, 1001).await[0].1, "sent");
    for number in 1002..=1004 {
        let rows = ledger(pg, number).await;
        assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("ticket_acknowledgement", "skipped"), "{rows:?}");
        assert!(rows[0].2.contains("already got 1 acknowledgement(s) within 10 min"), "{rows:?}");
        let notes = system_notes(server, agent, &ticket_id(pg, number).await).await;
        assert_eq!(notes, [format!("acknowledgement not sent: {}", rows[0].2)]);
    }

    // The window holds back acknowledgements only: an agent's reply to the flood still goes out.
    let reply = pb::ReplyRequest { ticket_id: ticket_id(pg, 1003).await, text: "Cleaned up.".into(), ..Default::default() };
    server.clients.tickets().reply(bearer(reply, agent).expect("request")).await.expect("reply");
    eventually("the reply is delivered", async || peer.delivered_to(&feed).len() == 2).await;

    desk.stop().await;
}
