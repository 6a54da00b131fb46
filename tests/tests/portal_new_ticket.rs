//! The new ticket page over HTTP, as a browser without JavaScript meets it (the script's part is
//! walked in Chromium by `tests/browser/new-ticket.test.mjs`): a signed-in contact's multipart
//! submission with a category's custom fields and two files becomes a ticket with them (read back
//! through the JSON API); a missing required custom field re-renders 422 with everything typed and
//! the message tied to its input; the "Show the fields" button re-renders without filing; guests
//! file through the confirmation page, or are sent to log in when the portal requires it; a form
//! without this browser's CSRF token files nothing; typed text comes back escaped.

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient};
use helpdesk_tests::{
    Client, Server, TestEnv,
    gateway::{VISITOR_COOKIE, signed_up},
    http,
};
use reqwest::{Method, StatusCode, header, multipart};

fn unique(name: &str) -> String {
    format!("{name}-{}@portal.example", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A category with a required text field, an optional number and a multi-select.
async fn add_category(server: &Server, env: &TestEnv) -> String {
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let field = |key: &str, label: &str, t: pb::FieldType, required: bool, options: &[&str], position: u32| pb::FieldDefinition {
        key: key.into(),
        label: label.into(),
        r#type: t as i32,
        required,
        options: options.iter().map(|o| o.to_string()).collect(),
        position,
    };
    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.tickets.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let category = pb::Category {
        id: String::new(),
        name: "Cards".into(),
        active: true,
        fields: vec![
            field("order", "Order number", pb::FieldType::Text, true, &[], 0),
            field("amount", "Amount", pb::FieldType::Number, false, &[], 1),
            field("channels", "Where it happened", pb::FieldType::MultiSelect, false, &["app", "web"], 2),
        ],
    };
    TicketAdminServiceClient::new(channel)
        .upsert_category(bearer(category, &admin).expect("request"))
        .await
        .expect("category")
        .into_inner()
        .id
}

/// A browser on the portal, and the CSRF token of the last page it loaded.
struct Browser {
    client: Client,
    token: String,
}

impl Browser {
    /// A visitor (no session): the visitor cookie from a first visit.
    async fn visitor(gateway: &str) -> Self {
        let client = Client::browser(gateway);
        client.get_raw("/").await;
        assert!(client.cookie(VISITOR_COOKIE).is_some(), "visitor cookie");
        Self { client, token: String::new() }
    }

    /// A contact who signed up and activated, signed in.
    async fn contact(gateway: &str, email: &str) -> Self {
        let client = signed_up(gateway, "Pat Portal", email, "correct horse battery staple").await;
        Self { client, token: String::new() }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String, header::HeaderMap) {
        let response = self.client.get_raw(path).await;
        let page = self.client.read_page(response).await;
        self.token = self.client.csrf();
        page
    }

    /// Posts the new ticket form: `csrf_token` first (as the page's form has it), then `fields`,
    /// then the files.
    async fn file(&self, token: Option<&str>, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (StatusCode, String, header::HeaderMap) {
        let mut form = multipart::Form::new();
        if let Some(token) = token {
            form = form.text("csrf_token", token.to_string());
        }
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        for (filename, data) in files {
            let part = multipart::Part::bytes(data.to_vec()).file_name(filename.to_string()).mime_str("text/plain").expect("mime");
            form = form.part("attachments", part);
        }
        let response = self.client.post_multipart("/tickets/new", form).await;
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.text().await.expect("html"), headers)
    }
}

fn location(headers: &header::HeaderMap) -> String {
    headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

#[tokio::test]
async fn a_contact_files_a_ticket_with_a_custom_field_and_two_attachments() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let category = add_category(&server, &env).await;
    let email = unique("pat");
    let mut browser = Browser::contact(&server.gateway, &email).await;

    let (status, html, _) = browser.get("/tickets/new").await;
    assert_eq!(status, 200, "{html}");
    for expected in [
        "<label for=\"subject\">Subject</label>",
        "<label for=\"message\">Message</label>",
        "<label for=\"category\">Category</label>",
        "<label for=\"priority\">Priority</label>",
        "Due date",
        "Attachments",
        "Up to 5 files, each up to 10 MB.",
        "Details for Cards",
        "Order number",
        ">Show the fields for this category</button>",
        ">Submit ticket</button>",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    assert!(!html.contains("id=\"email\""), "a signed-in contact is not asked who she is");
    // The form's first field is the CSRF token; the category's fields are there, hidden until chosen.
    let form = html.split("<form class=\"form nt-form\"").nth(1).expect("the form");
    assert!(form.split('>').nth(1).is_some_and(|f| f.contains("name=\"csrf_token\"")), "{form}");
    assert!(html.contains(&format!("data-category=\"{category}\" hidden disabled")), "{html}");

    let (status, html, headers) = browser
        .file(
            Some(&browser.token),
            &[
                ("subject", "Card declined at checkout"),
                ("message", "It was refused twice today.\r\nAs a browser sends a textarea."),
                ("category", &category),
                ("cf.order", " A-17 "),
                ("cf.amount", "12.5"),
                ("cf.channels", "web"),
                ("cf.channels", "app"),
                ("priority", "high"),
                ("due_date", "2099-01-31"),
                ("intent", "submit"),
            ],
            &[("receipt.txt", b"total 12.50"), ("notes.txt", b"tried twice")],
        )
        .await;
    assert_eq!(status, 303, "{html}");
    let target = location(&headers);
    let id = target.strip_prefix("/tickets/").expect("the ticket's page").to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{target}");

    // What the service stored, as the contact's own API sees it.
    let api = Client::new(&server.gateway, Some(&server.contact_token(&email).await));
    let (status, ticket) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, 200, "{ticket}");
    assert_eq!(ticket["subject"], "Card declined at checkout");
    assert_eq!(ticket["category_id"], category.as_str());
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["due_at"], "2099-01-31T12:00:00+00:00");
    assert_eq!(ticket["custom_fields"]["order"], "A-17");
    assert_eq!(ticket["custom_fields"]["amount"], 12.5);
    assert_eq!(ticket["custom_fields"]["channels"], serde_json::json!(["app", "web"]));
    let (_, messages) = api.get(&format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(messages[0]["text"], "It was refused twice today.\nAs a browser sends a textarea.");
    let mut names: Vec<&str> =
        messages[0]["attachments"].as_array().expect("attachments").iter().filter_map(|a| a["filename"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "receipt.txt"], "{messages}");
    let attachment = &messages[0]["attachments"].as_array().expect("attachments")[0];
    let (status, _, body) = api.download(&format!("/api/v1/tickets/{id}/attachments/{}", attachment["id"].as_str().unwrap_or(""))).await;
    assert_eq!(status, 200);
    assert!(body == b"total 12.50" || body == b"tried twice", "{body:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_missing_required_field_comes_back_422_with_everything_typed_and_escaped() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let category = add_category(&server, &env).await;
    let email = unique("sam");
    let mut browser = Browser::contact(&server.gateway, &email).await;
    browser.get("/tickets/new").await;
    let hostile = "<script>alert('x')</script> & \"quotes\"";

    let (status, html, _) = browser
        .file(
            Some(&browser.token),
            &[
                ("subject", hostile),
                ("message", "A long message I would hate to type again."),
                ("category", &category),
                ("cf.amount", "twelve"),
                ("cf.channels", "web"),
                ("due_date", "2099-02-01"),
            ],
            &[("receipt.txt", b"total")],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    // The summary links to each field; each message is tied to its input.
    assert!(html.contains("class=\"error-summary\""), "{html}");
    assert!(html.contains("<a href=\"#cf-0-order\">Order number: this field is required</a>"), "{html}");
    assert!(html.contains("id=\"cf-0-order\" name=\"cf.order\" type=\"text\" value=\"\" required aria-invalid=\"true\" aria-describedby=\"cf-0-order-error\""), "{html}");
    assert!(html.contains("<p class=\"field-error\" id=\"cf-0-order-error\">"), "{html}");
    assert!(html.contains("aria-describedby=\"cf-0-amount-error\"") && html.contains("value=\"twelve\""), "{html}");
    // Files must be chosen again, and the summary says so.
    assert!(html.contains("<a href=\"#attachments\">Choose your files again"), "{html}");
    // Everything typed is kept, escaped.
    assert!(html.contains("A long message I would hate to type again.</textarea>"), "{html}");
    assert!(html.contains("value=\"2099-02-01\""), "{html}");
    assert!(html.contains("value=\"web\" checked"), "{html}");
    assert!(html.contains(&format!("<option value=\"{category}\" selected>Cards</option>")), "{html}");
    assert!(html.contains(&format!("data-category=\"{category}\">")), "the chosen category's fields are shown: {html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;quotes&#34;"), "{html}");

    // The "Show the fields for this category" button: the form again, nothing filed.
    let (status, html, _) = browser
        .file(Some(&browser.token), &[("subject", "Still typing"), ("category", &category), ("intent", "fields")], &[])
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"Still typing\"") && !html.contains("class=\"error-summary\""), "{html}");
    assert!(html.contains(&format!("data-category=\"{category}\">")), "{html}");

    // A category that is not (or no longer) offered is named at its field.
    let (status, html, _) = browser
        .file(Some(&browser.token), &[("subject", "s"), ("message", "m"), ("category", &uuid::Uuid::new_v4().to_string())], &[])
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("<a href=\"#category\">"), "{html}");

    let api = Client::new(&server.gateway, Some(&server.contact_token(&email).await));
    let (_, page) = api.get("/api/v1/tickets").await;
    assert_eq!(page["tickets"].as_array().map(Vec::len), Some(0), "nothing was filed: {page}");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn guests_file_through_the_confirmation_page_or_are_sent_to_log_in() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let mut guest = Browser::visitor(&server.gateway).await;
    let (status, html, _) = guest.get("/tickets/new").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<label for=\"name\">Name</label>") && html.contains("<label for=\"email\">Email</label>"), "{html}");
    assert!(!html.contains("type=\"file\""), "guests are not offered files: {html}");
    assert!(!html.contains("data-captcha"), "the captcha is off by default");

    // Missing name and a bad address: both named, nothing filed.
    let (status, html, _) =
        guest.file(Some(&guest.token), &[("subject", "Help"), ("message", "Please"), ("email", "not-an-address")], &[]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("<a href=\"#name\">") && html.contains("<a href=\"#email\">"), "{html}");
    assert!(html.contains("value=\"not-an-address\""), "{html}");

    let email = unique("guest");
    let (status, html, headers) = guest
        .file(Some(&guest.token), &[("name", "Gus Guest"), ("email", &email), ("subject", "Guest question"), ("message", "How?")], &[])
        .await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(location(&headers), "/tickets/new/sent");
    let (status, html, _) = guest.get("/tickets/new/sent").await;
    assert_eq!(status, 200);
    assert!(html.contains("Check your mail"), "{html}");
    let (_, agent_token) = env.staff_token(StaffRole::Agent);
    let (_, queue) = Client::new(&server.gateway, Some(&agent_token)).get("/api/v1/tickets").await;
    assert_eq!(queue["tickets"][0]["subject"], "Guest question", "{queue}");

    // Login required to submit: the form sends a guest to log in and back.
    server.change_portal_settings(|s| s.login_required_to_submit = true).await;
    let (status, _, headers) = guest.get("/tickets/new").await;
    assert_eq!(status, 303);
    assert_eq!(location(&headers), "/login?next=%2Ftickets%2Fnew");
    let (status, _, headers) = guest.file(Some(&guest.token), &[("subject", "x"), ("message", "y")], &[]).await;
    assert_eq!(status, 303);
    assert!(location(&headers).starts_with("/login"), "{headers:?}");
    server.stop().await.expect("clean shutdown");
}

/// Chromium's boundary has capitals (`----WebKitFormBoundary…`); it is case-sensitive, so a form
/// read with a lower-cased one would lose its CSRF token and every upload form would be "stale".
#[tokio::test]
async fn a_browser_style_multipart_boundary_is_read_as_sent() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let email = unique("lee");
    let mut browser = Browser::contact(&server.gateway, &email).await;
    browser.get("/tickets/new").await;
    let boundary = "----WebKitFormBoundary3NV7zbkvJnq17zXB";
    let mut body = String::new();
    for (name, value) in [("csrf_token", browser.token.as_str()), ("subject", "Sent by Chromium"), ("message", "Boundary with capitals")] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"));
    let request = browser.client.request(Method::POST, "/tickets/new");
    let request = request.header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")).body(body);
    let response = browser.client.send(request).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap_or_default());
    assert!(location(response.headers()).starts_with("/tickets/"));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_form_without_this_browsers_csrf_token_files_nothing() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let email = unique("kim");
    let mut browser = Browser::contact(&server.gateway, &email).await;
    browser.get("/tickets/new").await;
    let mut other = Browser::visitor(&server.gateway).await;
    other.get("/tickets/new").await;
    let fields = [("subject", "Forged"), ("message", "from another site")];
    for token in [None, Some("not-a-token"), Some(other.token.as_str())] {
        let (status, html, _) = browser.file(token, &fields, &[]).await;
        assert_eq!(status, 403, "{token:?}");
        assert!(html.contains("Please send the form again"), "{html}");
    }
    let api = Client::new(&server.gateway, Some(&server.contact_token(&email).await));
    let (_, page) = api.get("/api/v1/tickets").await;
    assert_eq!(page["tickets"].as_array().map(Vec::len), Some(0), "{page}");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_mailed_confirm_link_opens_a_page_whose_button_releases_the_held_ticket_once() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let email = unique("held");
    let owner = Client::new(&server.gateway, Some(&server.contact_token(&email).await));
    let before = helpdesk_tests::mail_to(&email).len();
    let guest = Client::new(&server.gateway, None);
    let body = serde_json::json!({ "subject": "Held request", "message": "in her name", "email": email, "name": "Someone" });
    assert_eq!(guest.post("/api/v1/tickets", body).await.0, 201);
    let mails = helpdesk_tests::wait_for_mail(&email, before + 1).await;
    let token = helpdesk_tests::link_token(mails.last().expect("mail"), "confirm-ticket");

    // Opening the link (as a mail scanner would) confirms nothing: it shows a button.
    let (cookie, csrf, html) = helpdesk_tests::gateway::first_visit(&server.gateway, &format!("/confirm-ticket?token={token}")).await;
    assert!(html.contains("<h1 id=\"confirm-title\">Confirm your ticket</h1>") && html.contains(">Confirm my ticket<"), "{html}");
    assert_eq!(owner.get("/api/v1/tickets").await.1["tickets"].as_array().map(Vec::len), Some(0));

    let post = |form: Vec<(&'static str, String)>| {
        http()
            .post(format!("{}/confirm-ticket", server.gateway))
            .header(header::COOKIE, cookie.clone())
            .form(&form)
            .send()
    };
    let refused = post(vec![("token", token.clone())]).await.expect("POST");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let confirmed = post(vec![("csrf_token", csrf.clone()), ("token", token.clone())]).await.expect("POST");
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.text().await.expect("html").contains("Your ticket is confirmed"));
    helpdesk_tests::eventually("the owner sees the confirmed ticket", || async {
        owner.get("/api/v1/tickets").await.1["tickets"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    let again = post(vec![("csrf_token", csrf.clone()), ("token", token.clone())]).await.expect("POST");
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.expect("html").contains("This link does not work"));
    server.stop().await.expect("stop");
}
