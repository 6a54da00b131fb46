//! The gateway's edge, probed over HTTP as an outside client would: one rule for control
//! characters in every input (JSON bodies, query strings, path parameters, multipart), one JSON
//! error shape for every rejection (axum's own, unknown routes and methods), the caching and
//! `nosniff` headers, `__Host-` cookies, CSRF tokens bound to their session, and invisible
//! formatting characters removed from subjects and file names.

use helpdesk_kit::auth::StaffRole;
use helpdesk_proto::kb::v1::{ArticleStatus, CreateArticleRequest, Visibility};
use helpdesk_tests::{
    Client, Server, TestEnv,
    gateway::{CSRF_COOKIE, SESSION_COOKIE, set_cookies, signed_up},
    http,
};
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// An error answer: asserts it is the documented JSON and names no internals; (status, message).
async fn json_error(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = response.text().await.expect("body");
    assert!(kind.starts_with("application/json"), "{status} answered {kind:?}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status} answered no JSON: {text:?}"));
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no error message in {body}")).to_string();
    for internal in ["::", "axum", "serde", "Failed to", "struct ", "alloc", "String", "u32", "Option<"] {
        assert!(!message.contains(internal), "{status} names an internal ({internal}): {message}");
    }
    (status, message)
}

fn control(field: &str) -> String {
    format!("{field}: must not contain control characters")
}

#[tokio::test]
async fn control_characters_are_refused_with_422_naming_the_field_in_every_kind_of_input() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.contact_token("nul@example.com").await;
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let client = http();
    let gateway = &server.gateway;
    let send = |method: Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut request = client.request(method, format!("{gateway}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let refused = async |response: reqwest::Result<Response>, field: &str| {
        assert_eq!(json_error(response.expect("request")).await, (422, control(field)));
    };

    // A JSON body: a ticket's message, a nested custom field, an attachment id.
    let ticket = json!({ "subject": "Nul", "message": "before\u{0}after" });
    refused(send(Method::POST, "/api/v1/tickets", Some(&token), Some(ticket)).await, "message").await;
    let ticket = json!({ "subject": "Bell", "message": "m", "custom_fields": { "product": "a\u{7}" } });
    refused(send(Method::POST, "/api/v1/tickets", Some(&token), Some(ticket)).await, "custom_fields.product").await;
    let ticket = json!({ "subject": "s", "message": "m", "attachments": ["\u{1b}[31m"] });
    refused(send(Method::POST, "/api/v1/tickets", Some(&token), Some(ticket)).await, "attachments[0]").await;

    // Tabs and line breaks are text.
    let ticket = json!({ "subject": "Tabs\tare fine", "message": "line one\r\n\tline two" });
    let response = send(Method::POST, "/api/v1/tickets", Some(&token), Some(ticket)).await.expect("POST");
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();

    // A reply.
    let reply = json!({ "message": "\u{0}" });
    refused(send(Method::POST, &format!("/api/v1/tickets/{id}/messages"), Some(&token), Some(reply)).await, "message").await;

    // Query strings: My Tickets' search (own and group scope), staff's contact search.
    refused(send(Method::GET, "/api/v1/tickets?q=printer%00", Some(&token), None).await, "q").await;
    refused(send(Method::GET, "/api/v1/tickets?scope=group&q=%00", Some(&token), None).await, "q").await;
    refused(send(Method::GET, "/api/v1/contacts?q=nul%00", Some(&agent), None).await, "q").await;

    // A path parameter, anonymously: a KB article's slug.
    refused(send(Method::GET, "/api/v1/kb/articles/a%00b", None, None).await, "slug").await;
    refused(send(Method::GET, &format!("/api/v1/tickets/{id}%01"), Some(&token), None).await, "id").await;

    // Nothing of the refused input was stored: only the ticket with tabs, one message.
    let pg = env.pg().await;
    let (tickets, messages): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM tickets.tickets), (SELECT count(*) FROM tickets.messages)")
            .fetch_one(&pg)
            .await
            .expect("counts");
    assert_eq!((tickets, messages), (1, 1));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn every_rejection_is_the_documented_json_naming_the_field() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.contact_token("probe@example.com").await;
    let client = http();
    let url = |path: &str| format!("{}{path}", server.gateway);
    let post_raw = |path: &str, kind: &str, body: Vec<u8>| {
        client.post(url(path)).bearer_auth(&token).header("content-type", kind).body(body).send()
    };
    let tickets = "/api/v1/tickets";

    let (status, message) = json_error(post_raw(tickets, "application/json", br#"{"subject": "#.to_vec()).await.expect("POST")).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("malformed JSON: EOF while parsing"), "{message}");

    let wrong_type = json!({ "subject": "s", "message": "m", "priority": 5 }).to_string().into_bytes();
    let (status, message) = json_error(post_raw(tickets, "application/json", wrong_type).await.expect("POST")).await;
    assert_eq!(status, 422);
    assert_eq!(message, "priority: invalid type: integer `5`, expected a string");

    let missing = json!({ "subject": "s" }).to_string().into_bytes();
    assert_eq!(json_error(post_raw(tickets, "application/json", missing).await.expect("POST")).await, (422, "message: is required".into()));

    let (status, message) = json_error(post_raw(tickets, "application/json", b"\"just text\"".to_vec()).await.expect("POST")).await;
    assert_eq!(status, 422);
    assert_eq!(message, "body: invalid type: string \"just text\", expected an object");

    let (status, message) = json_error(post_raw(tickets, "text/plain", b"hello".to_vec()).await.expect("POST")).await;
    assert_eq!(status, 415);
    assert!(message.contains("application/json"), "{message}");

    // Over the body limit (1 MiB by default).
    let huge = json!({ "subject": "s", "message": "x".repeat(2 * 1024 * 1024) }).to_string().into_bytes();
    let (status, _) = json_error(post_raw(tickets, "application/json", huge).await.expect("POST")).await;
    assert_eq!(status, 413);

    // Query strings of the wrong type.
    let response = client.get(url("/api/v1/tickets?page_size=lots")).bearer_auth(&token).send().await.expect("GET");
    let (status, message) = json_error(response).await;
    assert_eq!(status, 422);
    assert!(message.starts_with("page_size: "), "{message}");
    let response = client.get(url("/api/v1/kb/search")).send().await.expect("GET");
    assert_eq!(json_error(response).await, (422, "q: is required".into()));

    // Uploads that are not multipart, or whose multipart is broken.
    let (status, message) = json_error(post_raw("/api/v1/attachments", "application/json", b"{}".to_vec()).await.expect("POST")).await;
    assert_eq!(status, 415);
    assert!(message.contains("multipart/form-data"), "{message}");
    let (status, _) = json_error(post_raw("/api/v1/attachments", "multipart/form-data", b"--x\r\n".to_vec()).await.expect("POST")).await;
    assert_eq!(status, 400, "no boundary");
    let broken = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x01b.txt\"\r\n\r\nhello\r\n--b--\r\n".to_vec();
    let response = post_raw("/api/v1/attachments", "multipart/form-data; boundary=b", broken).await.expect("POST");
    assert_eq!(json_error(response).await.0, 400, "a control character in a part's header");

    // Unknown routes and methods (outside `/api/` the portal answers its 404 page: portal_pages.rs).
    for path in ["/api/v1/nothing-here", "/api/v1/tickets/x/y/z"] {
        let response = client.get(url(path)).send().await.expect("GET");
        assert_eq!(json_error(response).await.0, 404, "{path}");
    }
    let response = client.delete(url("/api/v1/tickets")).bearer_auth(&token).send().await.expect("DELETE");
    let allow = response.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(json_error(response).await.0, 405);
    assert!(allow.contains("GET") && allow.contains("POST"), "Allow: {allow}");

    server.stop().await.expect("clean shutdown");
}

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

#[tokio::test]
async fn personal_answers_are_not_stored_by_caches_and_json_is_never_sniffed() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.contact_token("cache@example.com").await;
    let slug = server
        .clients
        .create_article(CreateArticleRequest {
            title: "Resetting a password".into(),
            body_markdown: "Use the link.".into(),
            status: ArticleStatus::Published as i32,
            visibility: Visibility::Public as i32,
            ..Default::default()
        })
        .await
        .expect("article")
        .slug;
    let client = http();
    let get = |path: &str, token: Option<&str>| {
        let request = client.get(format!("{}{path}", server.gateway));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };

    // Anything with a caller, and any error: no-store, nosniff.
    for (path, token, status) in [
        ("/api/v1/tickets", Some(token.as_str()), 200),
        ("/api/v1/tickets", None, 401),
        ("/api/v1/settings", None, 200),
        ("/api/v1/kb/search?q=password", None, 200),
        (&format!("/api/v1/kb/articles/{slug}") as &str, Some(token.as_str()), 200),
        ("/api/v1/kb/articles/no-such-article", None, 404),
        ("/api/v1/nowhere", None, 404),
    ] {
        let response = get(path, token).await.expect("GET");
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
    }

    // Public KB reads by an anonymous visitor are the same for everyone: cacheable for a minute.
    for path in [format!("/api/v1/kb/articles/{slug}"), "/api/v1/kb/categories".to_string()] {
        let response = get(&path, None).await.expect("GET");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "public, max-age=60", "{path}");
        assert_eq!(header(&response, "vary"), "Authorization, Cookie", "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
    }
    // The static solver script keeps its own policy.
    let response = get("/api/v1/account/captcha/solver.js", None).await.expect("GET");
    assert_eq!(header(&response, "cache-control"), "public, max-age=3600");

    server.stop().await.expect("clean shutdown");
}

fn unique_address(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A request with this browser's session cookie, a planted CSRF cookie and a CSRF header.
async fn with_session(server: &Server, session: &str, csrf_cookie: &str, csrf_header: &str) -> u16 {
    let browser = Client::browser(&server.gateway);
    browser.set_cookie(SESSION_COOKIE, session);
    browser.set_cookie(CSRF_COOKIE, csrf_cookie);
    let request = browser.request(Method::POST, "/api/v1/tickets").header("x-csrf-token", csrf_header);
    let request = request.json(&json!({ "subject": "CSRF probe", "message": "filed by a browser" }));
    browser.send(request).await.status().as_u16()
}

#[tokio::test]
async fn secure_cookies_have_the_host_prefix_and_the_csrf_token_belongs_to_one_session() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let csrf = |browser: &Client| browser.cookie(CSRF_COOKIE).expect("a CSRF cookie");
    let session = |browser: &Client| browser.cookie(SESSION_COOKIE).expect("a session cookie");

    let ann_email = unique_address("ann");
    let ann = signed_up(&server.gateway, "Ann", &ann_email, "anns long passphrase").await;
    let bob = signed_up(&server.gateway, "Bob", &unique_address("bob"), "bobs long passphrase").await;
    assert_ne!(csrf(&ann), csrf(&bob));

    // A password login: the cookies' flags, and a new session with a token of its own.
    let body = json!({ "email": ann_email, "password": "anns long passphrase" });
    let again = Client::browser(&server.gateway);
    let response = again.send(again.request(Method::POST, "/api/v1/session").json(&body)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store", "an answer that carries a session");
    let cookies = set_cookies(&response);
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let cookie = cookies.iter().find(|c| c.starts_with(&format!("{name}="))).unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(cookie.contains("Secure") && cookie.contains("Path=/;"), "{cookie}");
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["csrf_token"].as_str(), Some(csrf(&again).as_str()));
    assert_ne!(csrf(&again), csrf(&ann), "each session its own token");
    let (ann, bob, again) = ((session(&ann), csrf(&ann)), (session(&bob), csrf(&bob)), csrf(&again));

    // Ann's token with Bob's session: refused, whether or not Ann's token is planted as the cookie.
    assert_eq!(with_session(&server, &bob.0, &ann.1, &ann.1).await, 403);
    assert_eq!(with_session(&server, &bob.0, &bob.1, &ann.1).await, 403);
    assert_eq!(with_session(&server, &bob.0, &again, &again).await, 403);
    // A value an attacker chose, planted as the cookie and repeated in the header: refused.
    assert_eq!(with_session(&server, &bob.0, "planted-by-attacker", "planted-by-attacker").await, 403);
    // Bob's own token: accepted (the cookie's value does not matter).
    assert_eq!(with_session(&server, &bob.0, &bob.1, &bob.1).await, 201);
    assert_eq!(with_session(&server, &bob.0, "", &bob.1).await, 201);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn plain_http_development_uses_plain_cookie_names() {
    let env = TestEnv::new().await;
    let mut settings = env.config.clone();
    settings.gateway.cookie_secure = false;
    let server = env.start_with(settings).await;
    let client = http();
    let email = unique_address("dev");
    let body = json!({ "name": "Dev", "email": email });
    client.post(format!("{}/api/v1/account/signup", server.gateway)).json(&body).send().await.expect("POST");
    let mails = helpdesk_tests::wait_for_mail(&email, 1).await;
    let token = helpdesk_tests::link_token(&mails[0], "activate");
    let body = json!({ "token": token, "password": "developers passphrase" });
    let response = client.post(format!("{}/api/v1/account/activate", server.gateway)).json(&body).send().await.expect("POST");
    let cookies = set_cookies(&response);
    assert!(cookies.iter().any(|c| c.starts_with("hd_session=") && !c.contains("Secure")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("hd_csrf=")), "{cookies:?}");
    assert!(!cookies.iter().any(|c| c.starts_with("__Host-")), "{cookies:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn invisible_formatting_characters_are_removed_from_subjects_and_file_names() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.contact_token("bidi@example.com").await;
    let api = Client::new(&server.gateway, Some(&token));

    // Sent as raw UTF-8 in the part header, as browsers do.
    let part = reqwest::multipart::Part::bytes(b"MZ not really".to_vec())
        .file_name("invoice\u{202E}gnp.exe")
        .mime_str("image/png")
        .expect("mime");
    let form = reqwest::multipart::Form::new().percent_encode_noop().part("file", part);
    let response = http()
        .post(format!("{}/api/v1/attachments", server.gateway))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201);
    let uploaded: Value = response.json().await.expect("json");
    assert_eq!(uploaded["filename"], "invoicegnp.exe");

    let subject = "\u{FEFF}Refund\u{200B} for invoice\u{202E}gnp.exe\u{2069}";
    let (status, ticket) = api
        .post("/api/v1/tickets", json!({ "subject": subject, "message": "see attached", "attachments": [uploaded["id"]] }))
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["subject"], "Refund for invoicegnp.exe");

    server.stop().await.expect("clean shutdown");
}
