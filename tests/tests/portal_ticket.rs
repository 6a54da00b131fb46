//! The ticket details page over HTTP, as a signed-in browser meets it (the same page is walked in
//! Chromium by `tests/browser/ticket.test.mjs`): who may see it (the owner yes, another contact and
//! a malformed id get the 404 page), what it shows (properties with custom-field labels, the
//! conversation without internal notes, message HTML sanitized and text escaped), the reply form
//! (multipart with attachments, POST-redirect-GET to the new message, errors that keep the text,
//! CSRF refusal), "Mark as complete" only while the setting allows it, and the live-update stream
//! (a `changed` event after an agent's reply, nothing for other tickets or notes, ended by
//! shutdown), read with reqwest.

use std::time::Duration;

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient};
use helpdesk_tests::{
    Client, Server, TestEnv,
    gateway::signed_up,
    http,
};
use reqwest::{Method, StatusCode, header};

const PASSWORD: &str = "correct-horse-battery-42";

/// A signed-in contact: the browser, and the contact's own token for making tickets over gRPC.
struct Browser {
    client: Client,
    token: String,
}

impl Browser {
    async fn sign_up(server: &Server, name: &str) -> Self {
        let email = format!("{}-{}@ticket-page.example", name.to_lowercase(), &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let client = signed_up(&server.gateway, name, &email, PASSWORD).await;
        Self { token: server.contact_token(&email).await, client }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get_raw(path).await
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.expect("html"))
    }

    /// The CSRF token of the ticket page's forms.
    async fn csrf(&self, ticket: &str) -> String {
        let (_, html) = self.page(&format!("/tickets/{ticket}")).await;
        html.split("name=\"csrf_token\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form with a token").to_string()
    }

    async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post_form(path, fields).await
    }

    async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
        self.client.post_multipart(path, form).await
    }

    /// A ticket filed over gRPC as this contact.
    async fn ticket(&self, server: &Server, request: pb::CreateTicketRequest) -> pb::Ticket {
        server.clients.tickets().create_ticket(bearer(request, &self.token).expect("req")).await.expect("ticket").into_inner()
    }
}

fn ticket_request(subject: &str, text: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest { subject: subject.into(), text: text.into(), ..Default::default() }
}

fn agent(env: &TestEnv) -> String {
    env.staff_token(StaffRole::Agent).1
}

async fn agent_reply(server: &Server, agent: &str, ticket: &str, text: &str, html: &str) {
    let request = pb::ReplyRequest { ticket_id: ticket.into(), text: text.into(), html: html.into(), ..Default::default() };
    server.clients.tickets().reply(bearer(request, agent).expect("req")).await.expect("agent reply");
}

async fn agent_note(server: &Server, agent: &str, ticket: &str, text: &str) {
    let request = pb::AddNoteRequest { ticket_id: ticket.into(), text: text.into() };
    server.clients.tickets().add_note(bearer(request, agent).expect("req")).await.expect("note");
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

#[tokio::test]
async fn a_contact_sees_their_ticket_with_its_properties_and_nobody_else_does() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = Browser::sign_up(&server, "Ann").await;
    let olga = Browser::sign_up(&server, "Olga").await;

    let (_, admin) = env.staff_token(StaffRole::Admin);
    let field = |key: &str, label: &str, kind: pb::FieldType, position| pb::FieldDefinition {
        key: key.into(),
        label: label.into(),
        r#type: kind as i32,
        position,
        ..Default::default()
    };
    let category = pb::Category {
        name: "Billing".into(),
        fields: vec![
            field("invoice", "Invoice number", pb::FieldType::Text, 0),
            field("refund", "Refund requested", pb::FieldType::Checkbox, 1),
        ],
        active: true,
        ..Default::default()
    };
    let category = TicketAdminServiceClient::new(server.clients.tickets_channel())
        .upsert_category(bearer(category, &admin).expect("req"))
        .await
        .expect("category")
        .into_inner();
    let value = |v| pb::FieldValue { value: Some(v) };
    let mut request = pb::CreateTicketRequest {
        category_id: category.id.clone(),
        priority_id: "high".into(),
        custom_fields: [
            ("invoice".to_string(), value(pb::field_value::Value::Text("INV-2026-0042".into()))),
            ("refund".to_string(), value(pb::field_value::Value::Checkbox(true))),
        ]
        .into(),
        ..ticket_request("Charged twice for November", "My card shows two charges.")
    };
    // Due 2031-01-01T00:00:00Z.
    request.due_at.get_or_insert_with(Default::default).seconds = 1_924_992_000;
    let ticket = ann.ticket(&server, request).await;

    let (status, html) = ann.page(&format!("/tickets/{}", ticket.id)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1 id=\"ticket-title\">Charged twice for November</h1>"), "{html}");
    assert!(html.contains(&format!("Ticket #{}", ticket.number)), "{html}");
    assert!(html.contains("data-status-kind=\"pending\">Pending<"), "status in the contact's words: {html}");
    for shown in ["<dt>Category</dt><dd>Billing</dd>", "<dt>Invoice number</dt><dd>INV-2026-0042</dd>", "<dt>Refund requested</dt><dd>Yes</dd>", "<dt>Priority</dt><dd>High</dd>", "My card shows two charges."] {
        assert!(html.contains(shown), "{shown} is missing: {html}");
    }
    assert!(html.contains("<time datetime=\"2031-01-01T00:00:00+00:00\">"), "the due date as a <time>: {html}");
    assert!(html.contains(">Mark as complete</button>"), "{html}");
    assert!(html.contains("Up to 5 files, 10 MB each."), "the form states its limits: {html}");
    assert!(html.contains("data-events=\"/tickets/") && html.contains("/static/ticket."), "the live script is wired: {html}");
    assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");

    // Another contact, an id that is no UUID and one that names nothing: the 404 page, nothing leaks.
    for (who, path) in [
        (&olga, format!("/tickets/{}", ticket.id)),
        (&olga, format!("/tickets/{}/conversation", ticket.id)),
        (&olga, format!("/tickets/{}/events", ticket.id)),
        (&ann, "/tickets/not-a-uuid".to_string()),
        (&ann, "/tickets/not-a-uuid/events".to_string()),
        (&ann, format!("/tickets/{}", uuid::Uuid::new_v4())),
    ] {
        let (status, html) = who.page(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Page not found") && !html.contains("Charged twice"), "{path}: {html}");
    }
    // Olga cannot reply or complete it either (and learns nothing).
    let token = olga.csrf(&olga_ticket(&server, &olga).await).await;
    let response = olga.post_form(&format!("/tickets/{}/complete", ticket.id), &[("csrf_token", token.as_str())]).await;
    assert_eq!(response.status(), 404);

    // Signed out: to the login page and back here.
    let response = http().get(format!("{}/tickets/{}", server.gateway, ticket.id)).send().await.expect("GET");
    assert!(response.url().path() == "/login" || response.status() == 303, "{}", response.url());
    let response = Client::browser(&server.gateway).get_raw(&format!("/tickets/{}", ticket.id)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/login?next=%2Ftickets%2F{}", ticket.id.replace('-', "%2D")));

    server.stop().await.expect("clean shutdown");
}

/// A ticket of Olga's own, whose page gives her a CSRF token.
async fn olga_ticket(server: &Server, olga: &Browser) -> String {
    olga.ticket(server, ticket_request("Olga's own", "hello")).await.id
}

#[tokio::test]
async fn internal_notes_never_show_and_message_html_is_sanitized_and_text_escaped() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = Browser::sign_up(&server, "Ann").await;
    let ticket = ann.ticket(&server, ticket_request("Hostile", "<script>alert('text')</script> & <b>not bold</b>")).await;
    let agent = agent(&env);
    agent_note(&server, &agent, &ticket.id, "INTERNAL wombat: customer is on the old plan").await;
    agent_reply(
        &server,
        &agent,
        &ticket.id,
        "Hello there",
        "<p>Hello <b>there</b></p><script>alert('html')</script><img src=\"x\" onerror=\"alert('img')\"><a href=\"javascript:alert(1)\">link</a>",
    )
    .await;

    for path in [format!("/tickets/{}", ticket.id), format!("/tickets/{}/conversation", ticket.id)] {
        let (status, html) = ann.page(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains("wombat"), "{path}: an internal note leaked: {html}");
        assert!(html.contains("<p>Hello <b>there</b></p>"), "{path}: the agent's formatting is kept: {html}");
        for hostile in ["<script>alert", "onerror", "javascript:"] {
            assert!(!html.contains(hostile), "{path}: {hostile} reached the page: {html}");
        }
        assert!(html.contains("&#60;script&#62;alert(&#39;text&#39;)&#60;/script&#62; &#38; &#60;b&#62;not bold&#60;/b&#62;"), "{path}: {html}");
    }
    let (_, fragment) = ann.page(&format!("/tickets/{}/conversation", ticket.id)).await;
    assert!(!fragment.contains("<html") && fragment.contains("id=\"conversation\"") && fragment.contains("id=\"ticket-state\""), "{fragment}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_reply_form_posts_with_attachments_keeps_the_text_on_errors_and_needs_the_token() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = Browser::sign_up(&server, "Ann").await;
    let ticket = ann.ticket(&server, ticket_request("Printer", "It jams.")).await;
    let path = format!("/tickets/{}/reply", ticket.id);
    let token = ann.csrf(&ticket.id).await;
    let file = |name: &str, body: &str| reqwest::multipart::Part::bytes(body.as_bytes().to_vec()).file_name(name.to_string()).mime_str("text/plain").expect("mime");

    // A reply with two files: 303 to the page at the new message, which shows both as downloads.
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token.clone())
        .text("message", "Here are the logs.\nSecond line.")
        .part("attachments", file("log-1.txt", "first log"))
        .part("attachments", file("log-2.txt", "second log"))
        // An input left empty sends an empty part: no file.
        .part("attachments", reqwest::multipart::Part::bytes(Vec::new()).file_name(""));
    let response = ann.post_multipart(&path, form).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap_or_default());
    let target = location(&response);
    let prefix = format!("/tickets/{}#message-", ticket.id);
    assert!(target.starts_with(&prefix), "{target}");
    let message_id = &target[prefix.len()..];
    let (_, html) = ann.page(&format!("/tickets/{}", ticket.id)).await;
    assert!(html.contains(&format!("id=\"message-{message_id}\"")), "{html}");
    assert!(html.contains("Here are the logs.\nSecond line."), "{html}");
    let href = html
        .split("<a href=\"")
        .find(|r| r.contains(">log-1.txt<"))
        .and_then(|r| r.split('"').next())
        .expect("log-1.txt is a link")
        .to_string();
    assert!(html.contains(">log-2.txt<"), "{html}");
    let download = ann.get(&href).await;
    assert_eq!(download.status(), 200, "{href}: the download works with the session cookie");
    assert_eq!(download.bytes().await.expect("file").as_ref(), b"first log");

    // A browser's boundary has capitals (Chromium: `----WebKitFormBoundary…`); it is case-sensitive.
    let boundary = "----WebKitFormBoundaryQx7AbCdEfGh";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nFrom a browser\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
    );
    let request = ann.client.request(Method::POST, &path);
    let request = request.header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")).body(body);
    let response = ann.client.send(request).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap_or_default());

    // An empty message: 422, the error summary, the field tied to its message.
    let form = reqwest::multipart::Form::new().text("csrf_token", token.clone()).text("message", "   ");
    let response = ann.post_multipart(&path, form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains("class=\"error-summary\"") && html.contains("href=\"#message\""), "{html}");
    assert!(html.contains("aria-describedby=\"message-error\""), "{html}");

    // Too many files: 422, and the text is kept (the files cannot be, and the page says so).
    let mut form = reqwest::multipart::Form::new().text("csrf_token", token.clone()).text("message", "Six files <for> you");
    for i in 0..6 {
        form = form.part("attachments", file(&format!("f{i}.txt"), "x"));
    }
    let response = ann.post_multipart(&path, form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains(">Six files &#60;for&#62; you</textarea>"), "the text is kept: {html}");
    assert!(html.contains("Choose your files again") && html.contains("href=\"#attachments\""), "{html}");

    // Without this browser's token: refused, nothing stored.
    let form = reqwest::multipart::Form::new().text("message", "forged");
    let response = ann.post_multipart(&path, form).await;
    assert_eq!(response.status(), 403);
    let form = reqwest::multipart::Form::new().text("csrf_token", "not-a-token").text("message", "forged");
    assert_eq!(ann.post_multipart(&path, form).await.status(), 403);
    let messages = helpdesk_kit::pages::all_messages(&mut server.clients.tickets(), &ann.token, &ticket.id).await.expect("messages");
    assert_eq!(messages.len(), 3, "the first message and the two replies");
    assert!(messages.iter().all(|m| m.text != "forged" && !m.text.starts_with("Six files")));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn mark_as_complete_is_offered_and_done_only_while_the_setting_allows() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = Browser::sign_up(&server, "Ann").await;
    let first = ann.ticket(&server, ticket_request("Done soon", "Please close me.")).await;
    let token = ann.csrf(&first.id).await;
    let response = ann.post_form(&format!("/tickets/{}/complete", first.id), &[("csrf_token", token.as_str())]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/tickets/{}", first.id));
    let (_, html) = ann.page(&format!("/tickets/{}", first.id)).await;
    assert!(html.contains("data-status-kind=\"completed\">Completed<"), "{html}");
    assert!(!html.contains("Mark as complete"), "not offered once completed: {html}");
    // Without the token: refused.
    let second = ann.ticket(&server, ticket_request("Stays open", "Keep me.")).await;
    assert_eq!(ann.post_form(&format!("/tickets/{}/complete", second.id), &[]).await.status(), 403);

    server.change_portal_settings(|s| s.contacts_may_close_tickets = false).await;
    let (_, html) = ann.page(&format!("/tickets/{}", second.id)).await;
    assert!(!html.contains("Mark as complete"), "absent while contacts may not close: {html}");
    let token = ann.csrf(&second.id).await;
    let response = ann.post_form(&format!("/tickets/{}/complete", second.id), &[("csrf_token", token.as_str())]).await;
    assert_eq!(response.status(), 403);
    let (_, html) = ann.page(&format!("/tickets/{}", second.id)).await;
    assert!(html.contains("data-status-kind=\"pending\">Pending<"), "{html}");

    server.stop().await.expect("clean shutdown");
}

/// Reads an event stream until `until` holds for what arrived, or `limit` passes; what arrived.
async fn read_stream(response: &mut reqwest::Response, seen: &mut String, limit: Duration, until: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !until(seen) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => {
                seen.push_str("<end>");
                return;
            }
            Ok(Err(error)) => panic!("the stream broke: {error}"),
            Err(_) => return,
        }
    }
}

#[tokio::test]
async fn the_event_stream_signals_an_agent_reply_and_nothing_for_notes_or_other_tickets() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = Browser::sign_up(&server, "Ann").await;
    let watched = ann.ticket(&server, ticket_request("Watched", "Tell me when.")).await;
    let other = ann.ticket(&server, ticket_request("Other", "Not this one.")).await;
    let agent = agent(&env);

    // Asked for gzip, as browsers do: the stream must not be held back by the compression layer.
    let request = ann.client.request(Method::GET, &format!("/tickets/{}/events", watched.id));
    let mut response = ann.client.send(request.header(header::ACCEPT_ENCODING, "gzip")).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none(), "event streams are not compressed");
    let mut seen = String::new();
    read_stream(&mut response, &mut seen, Duration::from_secs(5), |s| s.contains(": ready")).await;
    assert!(seen.contains("retry:") && seen.contains(": ready"), "the stream opens at once: {seen:?}");

    // A reply on another ticket and a note on this one: no signal.
    agent_reply(&server, &agent, &other.id, "About the other one", "").await;
    agent_note(&server, &agent, &watched.id, "INTERNAL wombat").await;
    read_stream(&mut response, &mut seen, Duration::from_secs(2), |s| s.contains("event: changed")).await;
    assert!(!seen.contains("event: changed") && !seen.contains("wombat"), "{seen:?}");

    // The agent's reply on this ticket: `changed` within a bounded wait, and no content with it.
    let sent = tokio::time::Instant::now();
    agent_reply(&server, &agent, &watched.id, "Here is your answer", "").await;
    read_stream(&mut response, &mut seen, Duration::from_secs(10), |s| s.contains("event: changed")).await;
    assert!(seen.contains("event: changed\ndata: message\n"), "{seen:?}");
    assert!(sent.elapsed() < Duration::from_secs(5), "the signal took {:?}", sent.elapsed());
    assert!(!seen.contains("Here is your answer"), "only the signal rides on the stream");

    // A status change is a signal too.
    let token = ann.csrf(&watched.id).await;
    let completed = ann.post_form(&format!("/tickets/{}/complete", watched.id), &[("csrf_token", token.as_str())]).await;
    assert_eq!(completed.status(), 303);
    read_stream(&mut response, &mut seen, Duration::from_secs(10), |s| s.contains("data: status")).await;
    assert!(seen.contains("event: changed\ndata: status\n"), "{seen:?}");

    // Shutting down ends the open stream (graceful shutdown does not wait on it forever).
    let stopping = tokio::spawn(server.stop());
    read_stream(&mut response, &mut seen, Duration::from_secs(15), |s| s.ends_with("<end>")).await;
    assert!(seen.ends_with("<end>"), "the stream ended on shutdown: {seen:?}");
    stopping.await.expect("join").expect("clean shutdown");
}
