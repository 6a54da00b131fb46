//! Linking a Discord user to an email contact by a mailed link (issue 14), end to end: real
//! identity, tickets, mail and gateway, the mail read from the SMTP sink. A Discord user known
//! only as `discord:<id>` asks (as chat's `/link` does, with a service token) to be linked to an
//! address; the link's page shows what it does without using it; following it makes the Discord
//! user and the address's contact one contact with all their tickets — or, for an address nobody
//! has, gives the Discord contact that address. Links are single-use, expire, and tell nobody
//! whose address exists.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    events::v1::{InboundChannel, InboundMessage, Sender},
    identity::v1::{
        self as pb, account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
        find_or_create_contact_request::Key,
    },
};
use helpdesk_tests::{
    Client, Server, TestEnv, eventually, gateway::sign_up_and_activate, header, inbound_mail, link_token, mail_to,
    wait_until,
};
use sqlx::PgPool;
use tonic::Code;
use uuid::Uuid;

const LINK_SUBJECT: &str = "Link your Discord account";

fn unique(name: &str) -> String {
    format!("{name}-{}@link.example", &Uuid::new_v4().simple().to_string()[..12])
}

/// A Discord user id (a snowflake), fresh per call.
fn discord_user() -> String {
    (u64::from_be_bytes(Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes")) >> 2).to_string()
}

fn discord(user: &str) -> pb::ExternalIdentity {
    pb::ExternalIdentity { provider: "discord".into(), subject: user.into() }
}

/// A Discord message as chat publishes it.
fn discord_message(message_id: &str, user: &str, text: &str) -> InboundMessage {
    InboundMessage {
        channel: InboundChannel::Discord as i32,
        source: "bot".into(),
        external_id: message_id.into(),
        sender: Some(Sender { handle: user.into(), display_name: "Ann on Discord".into(), ..Default::default() }),
        subject: text.into(),
        text: text.into(),
        ..Default::default()
    }
}

fn accounts(server: &Server) -> AccountServiceClient<tonic::transport::Channel> {
    AccountServiceClient::new(server.identity_channel())
}

fn contacts(server: &Server) -> ContactServiceClient<tonic::transport::Channel> {
    ContactServiceClient::new(server.identity_channel())
}

/// The contact of a Discord user, found or made as tickets' intake does.
async fn discord_contact(server: &Server, user: &str) -> pb::FindOrCreateContactResponse {
    let request = pb::FindOrCreateContactRequest { key: Some(Key::ExternalIdentity(discord(user))), name: "Ann on Discord".into() };
    contacts(server)
        .find_or_create_contact(bearer(request, &server.service_token().await).expect("request"))
        .await
        .expect("find or create the Discord contact")
        .into_inner()
}

async fn request_link(server: &Server, token: &str, user: &str, email: &str) -> Result<pb::RequestIdentityLinkResponse, tonic::Status> {
    let request = pb::RequestIdentityLinkRequest { identity: Some(discord(user)), email: email.into() };
    accounts(server).request_identity_link(bearer(request, token).expect("request")).await.map(|r| r.into_inner())
}

async fn confirm(server: &Server, token: &str) -> Result<pb::Contact, tonic::Status> {
    let request = pb::ConfirmIdentityLinkRequest { token: token.into() };
    accounts(server).confirm_identity_link(request).await.map(|r| r.into_inner())
}

/// The link mail's token, once the sink holds it.
async fn link_mail_token(to: &str) -> String {
    let what = format!("the SMTP sink holds a link mail for {to}");
    let is_link = |mail: &String| header(mail, "Subject").is_some_and(|s| s.contains(LINK_SUBJECT));
    let mails = wait_until(std::time::Duration::from_secs(30), &what, async || mail_to(to), |mails| mails.iter().any(is_link)).await;
    let mail = mails.iter().find(|m| is_link(m)).expect("a link mail");
    assert!(mail.contains("ignore this mail"), "{mail}");
    link_token(mail, "link-identity")
}

/// The contact of the ticket tickets made from this inbound message.
async fn ticket_contact(pg: &PgPool, external_id: &str) -> Uuid {
    helpdesk_tests::placed(pg, external_id).await;
    sqlx::query_scalar(
        "SELECT t.contact_id FROM tickets.inbound_messages i JOIN tickets.tickets t ON t.id = i.ticket_id WHERE i.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(pg)
    .await
    .expect("the ticket's contact")
}

async fn link_used(pg: &PgPool) -> Vec<bool> {
    sqlx::query_scalar("SELECT used_at IS NOT NULL FROM identity.identity_links ORDER BY created_at")
        .fetch_all(pg)
        .await
        .expect("links")
}

fn subjects(page: &serde_json::Value) -> Vec<String> {
    let mut subjects: Vec<String> = page["tickets"]
        .as_array()
        .map_or_else(Vec::new, |t| t.iter().map(|t| t["subject"].as_str().unwrap_or("").to_string()).collect());
    subjects.sort();
    subjects
}

#[tokio::test]
async fn a_discord_user_who_links_a_known_address_becomes_that_contact_with_all_the_tickets() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let (user, ann) = (discord_user(), unique("ann"));

    // Ann on Discord, with a ticket from there …
    let discord_id = discord_contact(&server, &user).await.contact.expect("contact").id;
    let first = format!("{}", Uuid::new_v4().as_u128() >> 70);
    env.deliver_inbound(&discord_message(&first, &user, "Printer on fire")).await;
    assert_eq!(ticket_contact(&pg, &first).await.to_string(), discord_id);
    // … and Ann by mail, with one from there.
    env.deliver_inbound(&inbound_mail(&format!("<{}@mail.example>", Uuid::new_v4()), &ann, "Invoice missing", &[])).await;
    let ann_id = server.clients.find_or_create_contact(&ann, "").await.expect("ann");
    assert_ne!(ann_id, discord_id);

    // `/link ann@…` on Discord: a mail to the address.
    request_link(&server, &server.service_token().await, &user, &ann).await.expect("link requested");
    let token = link_mail_token(&ann).await;

    // The page asks first; showing it (twice: scanners prefetch) uses nothing.
    let browser = Client::browser(&server.gateway);
    for _ in 0..2 {
        let (status, html, _) = browser.page(&format!("/link-identity?token={token}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("Link your Discord account to {ann}?")), "{html}");
        assert!(html.contains("name=\"csrf_token\""), "{html}");
    }
    assert_eq!(link_used(&pg).await, [false], "a GET does not use the link");

    // A form without the CSRF token is refused and links nothing.
    let refused = browser.post_form("/link-identity", &[("token", &token)]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(link_used(&pg).await, [false]);

    // Following it links: the Discord identity is Ann's now.
    let csrf = browser.csrf();
    let response = browser.post_form("/link-identity", &[("csrf_token", &csrf), ("token", &token)]).await;
    let (status, html, _) = browser.read_page(response).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Your Discord account is linked"), "{html}");
    assert!(html.contains(&ann), "{html}");
    let found = discord_contact(&server, &user).await;
    assert!(!found.created);
    let found = found.contact.expect("contact");
    assert_eq!(found.id, ann_id, "FindOrCreateContact(discord:<id>) answers the email contact");
    assert!(found.external_identities.iter().any(|i| i.provider == "discord" && i.subject == user), "{found:?}");
    assert!(found.emails.iter().any(|e| e.address == ann && e.verified && e.primary), "{found:?}");
    let service = server.service_token().await;
    let merged = contacts(&server)
        .get_contact(bearer(pb::GetContactRequest { id: discord_id.clone() }, &service).expect("request"))
        .await
        .expect("the merged contact is kept")
        .into_inner();
    assert_eq!(merged.merged_into_contact_id, ann_id);
    assert!(merged.external_identities.is_empty() && merged.emails.is_empty(), "{merged:?}");

    // Ann's token lists both tickets, and her Discord message is hers.
    let portal = Client::new(&server.gateway, Some(&server.contact_token(&ann).await));
    eventually("Ann sees her Discord ticket and her mail ticket", || async {
        subjects(&portal.get("/api/v1/tickets").await.1) == ["Invoice missing", "Printer on fire"]
    })
    .await;
    let author: String = sqlx::query_scalar(
        "SELECT m.author_id FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id WHERE i.external_id = $1",
    )
    .bind(&first)
    .fetch_one(&pg)
    .await
    .expect("author");
    assert_eq!(author, ann_id, "the Discord message's author moved too");

    // A new Discord message files under Ann, though tickets' intake still remembers the old
    // contact for this Discord user.
    let second = format!("{}", Uuid::new_v4().as_u128() >> 70);
    env.deliver_inbound(&discord_message(&second, &user, "Still on fire")).await;
    assert_eq!(ticket_contact(&pg, &second).await.to_string(), ann_id);
    eventually("Ann sees the new Discord ticket", || async { subjects(&portal.get("/api/v1/tickets").await.1).len() == 3 }).await;

    // The link works once: the page and the call say so.
    let response = browser.post_form("/link-identity", &[("csrf_token", &csrf), ("token", &token)]).await;
    let (status, html, _) = browser.read_page(response).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("This link was used already"), "{html}");
    let again = confirm(&server, &token).await.expect_err("a second use");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(again.message().contains("used already"), "{again:?}");
    assert!(!again.message().contains(&ann) && !again.message().contains(&ann_id), "{again:?}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_discord_user_who_links_a_new_address_gains_it_and_can_get_a_password_for_it() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let (user, address) = (discord_user(), unique("new"));
    let discord_id = discord_contact(&server, &user).await.contact.expect("contact").id;

    request_link(&server, &server.service_token().await, &user, &address).await.expect("link requested");
    let token = link_mail_token(&address).await;
    let mail = mail_to(&address).pop().expect("the link mail");
    assert!(mail.contains("Hello,"), "an address nobody has is greeted by no name (a display name is anyone's choice)");

    // Followed without the portal (identity's call is public, like the link).
    let linked = confirm(&server, &token).await.expect("linked");
    assert_eq!(linked.id, discord_id, "the Discord contact keeps its identity and gains the address");
    assert!(linked.emails.iter().any(|e| e.address == address && e.primary && e.verified), "{linked:?}");
    assert!(linked.merged_into_contact_id.is_empty());

    // The address finds the Discord contact now: an account requested for it is that contact's.
    sign_up_and_activate(&Client::browser(&server.gateway), "Ann", &address, "a long enough passphrase").await;
    let with_account: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.accounts WHERE contact_id = $1::uuid")
        .bind(&discord_id)
        .fetch_one(&pg)
        .await
        .expect("accounts");
    assert_eq!(with_account, 1, "the Discord contact has a password for the linked address");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn link_requests_come_only_from_services_and_answer_alike_for_every_address() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let user = discord_user();
    discord_contact(&server, &user).await;
    let (known, unknown) = (unique("known"), unique("unknown"));
    server.contact_token(&known).await;
    let service = server.service_token().await;

    let for_known = request_link(&server, &service, &user, &known).await.expect("known address");
    let for_unknown = request_link(&server, &service, &user, &unknown).await.expect("unknown address");
    assert_eq!(for_known, for_unknown, "the same answer whether or not the address belongs to anyone");
    link_mail_token(&known).await;
    link_mail_token(&unknown).await;

    // A contact (not a service) may not ask, nor may anyone anonymous.
    let contact = server.contact_token(&known).await;
    let refused = request_link(&server, &contact, &user, &known).await.expect_err("a contact's token");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let request = pb::RequestIdentityLinkRequest { identity: Some(discord(&user)), email: known.clone() };
    let anonymous = accounts(&server).request_identity_link(request).await.expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::PermissionDenied, "{anonymous:?}");

    // The address is validated; the identity must be a contact's.
    let bad = request_link(&server, &service, &user, "not an address").await.expect_err("bad address");
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let stranger = request_link(&server, &service, &discord_user(), &known).await.expect_err("no such contact");
    assert_eq!(stranger.code(), Code::NotFound, "{stranger:?}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn expired_unknown_and_refused_links_link_nothing_and_say_why() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let pg = env.pg().await;
    let service = server.service_token().await;
    let browser = Client::browser(&server.gateway);

    // Expired.
    let (user, address) = (discord_user(), unique("late"));
    let discord_id = discord_contact(&server, &user).await.contact.expect("contact").id;
    request_link(&server, &service, &user, &address).await.expect("link requested");
    let token = link_mail_token(&address).await;
    sqlx::query("UPDATE identity.identity_links SET expires_at = now() - interval '1 second'")
        .execute(&pg)
        .await
        .expect("age the link");
    let expired = confirm(&server, &token).await.expect_err("expired");
    assert_eq!(expired.code(), Code::FailedPrecondition, "{expired:?}");
    assert!(expired.message().contains("expired"), "{expired:?}");
    let (status, html, _) = browser.page(&format!("/link-identity?token={token}")).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("This link has expired"), "{html}");
    let unchanged = discord_contact(&server, &user).await.contact.expect("contact");
    assert_eq!(unchanged.id, discord_id);
    assert!(unchanged.emails.is_empty(), "an expired link adds no address: {unchanged:?}");

    // Unknown.
    let unknown = confirm(&server, "made-up-token").await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let (status, html, _) = browser.page("/link-identity?token=made-up-token").await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("This link does not work"), "{html}");
    assert_eq!(browser.page("/link-identity").await.0, 404);

    // A Discord user blocked after asking: the link links nothing, and does not lift the block.
    let (user, ann) = (discord_user(), unique("ann"));
    let blocked_id = discord_contact(&server, &user).await.contact.expect("contact").id;
    let ann_id = server.clients.find_or_create_contact(&ann, "").await.expect("ann");
    request_link(&server, &service, &user, &ann).await.expect("link requested");
    let token = link_mail_token(&ann).await;
    let block = pb::SetContactBlockedRequest { id: blocked_id.clone(), blocked: true };
    contacts(&server).set_contact_blocked(bearer(block, &service).expect("request")).await.expect("block");
    let refused = confirm(&server, &token).await.expect_err("refused");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(!refused.message().contains(&ann) && !refused.message().contains(&ann_id), "{refused:?}");
    let still = discord_contact(&server, &user).await.contact.expect("contact");
    assert_eq!(still.id, blocked_id, "the blocked Discord user did not become Ann");
    assert_eq!(still.status, pb::ContactStatus::Blocked as i32);

    server.stop().await.expect("stop");
}
