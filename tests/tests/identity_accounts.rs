//! Accounts end to end, through the gateway's JSON API and identity's gRPC, with the real mail
//! part sending to the stack's SMTP sink: sign-up → activation mail → link → password → session
//! cookie → logout ends it server-side; no enumeration; single-use, expiring links; login
//! throttling without lockout; reset by mail; change and block end sessions.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    self as pb, account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
};
use helpdesk_tests::{
    Client, Server, TestEnv,
    gateway::{CSRF_COOKIE, SESSION_COOKIE, set_cookies},
    link_token, wait_for_mail,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tonic::Code;

fn unique_address(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The gateway's account API. A signed-in session is a [`Client`]; every call with it goes from
/// a fork of it, so the session's cookies are replayed as they were whatever the server answered
/// (a logout's expired cookies included).
struct Portal {
    base: String,
}

impl Portal {
    fn new(server: &Server) -> Self {
        Self { base: server.gateway.clone() }
    }

    /// A JSON POST from a new browser: that browser (holding what the answer set) and the answer.
    async fn post_from_new_browser(&self, path: &str, body: Value) -> (Client, Response) {
        let browser = Client::browser(&self.base);
        let response = browser.send(browser.request(Method::POST, path).json(&body)).await;
        (browser, response)
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.post_from_new_browser(path, body).await.1
    }

    async fn with_cookies(&self, method: Method, path: &str, cookies: &Client, csrf: bool, body: Option<Value>) -> Response {
        let replay = cookies.fork();
        let mut request = replay.request(method, path);
        if csrf {
            request = request.header("x-csrf-token", cookies.cookie(CSRF_COOKIE).unwrap_or_default());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        replay.send(request).await
    }

    async fn whoami(&self, cookies: &Client) -> Response {
        self.with_cookies(Method::GET, "/api/v1/session", cookies, false, None).await
    }

    async fn login_from_new_browser(&self, email: &str, password: &str) -> (Client, Response) {
        self.post_from_new_browser("/api/v1/session", json!({ "email": email, "password": password })).await
    }

    async fn login(&self, email: &str, password: &str) -> Response {
        self.login_from_new_browser(email, password).await.1
    }

    /// A new browser signed in with the password.
    async fn signed_in(&self, email: &str, password: &str) -> Client {
        let (browser, response) = self.login_from_new_browser(email, password).await;
        assert!(browser.cookie(SESSION_COOKIE).is_some(), "no {SESSION_COOKIE} cookie set: {}", response.status());
        browser
    }

    /// Sign-up → activation mail → activation; a browser signed in to the new account.
    async fn sign_up_and_activate(&self, name: &str, email: &str, password: &str) -> Client {
        helpdesk_tests::gateway::signed_up(&self.base, name, email, password).await
    }
}

fn session_of(browser: &Client) -> String {
    browser.cookie(SESSION_COOKIE).expect("a session cookie")
}

async fn error_of(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("json error body");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn sign_up_mail_link_login_and_logout_work_end_to_end() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("ann");

    let response = portal.post("/api/v1/account/signup", json!({ "name": "Ann Smith", "email": email })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mails = wait_for_mail(&email, 1).await;
    assert_eq!(mails.len(), 1, "the activation mail reached the SMTP sink");
    let mail = &mails[0];
    let headers = mail.split("\n\n").next().unwrap_or_default().to_lowercase();
    assert!(headers.contains("message-id: <") && headers.contains("@helpdesk.localhost>"), "{headers}");
    assert!(headers.contains("auto-submitted: auto-generated"), "{headers}");
    assert!(headers.contains("subject: activate your"), "{headers}");
    assert!(mail.contains("text/plain") && mail.contains("text/html"), "text and HTML parts");
    let token = link_token(mail, "activate");

    // A common password is refused and does not burn the link.
    let (status, message) = error_of(portal.post("/api/v1/account/activate", json!({ "token": token, "password": "password123" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("common"), "{message}");
    let (status, _) = error_of(portal.post("/api/v1/account/activate", json!({ "token": token, "password": "short" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (cookies, response) = portal
        .post_from_new_browser("/api/v1/account/activate", json!({ "token": token, "password": "a long and unusual passphrase" }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookies = set_cookies(&response);
    let session_cookie = set_cookies.iter().find(|c| c.starts_with(&format!("{SESSION_COOKIE}="))).expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(session_cookie.contains(flag), "{session_cookie} lacks {flag}");
    }
    assert_eq!(session_of(&cookies).len(), 22, "128 random bits, base64url");

    // The link works once.
    let (status, message) = error_of(portal.post("/api/v1/account/activate", json!({ "token": token, "password": "another fine passphrase" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("invalid, already used or expired"), "{message}");

    // The session is stored hashed, never raw.
    let pg = env.pg().await;
    let raw_stored: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.sessions WHERE id_hash = convert_to($1, 'UTF8')")
        .bind(session_of(&cookies))
        .fetch_one(&pg)
        .await
        .expect("query");
    assert_eq!(raw_stored, 0);

    let me: Value = portal.whoami(&cookies).await.json().await.expect("json");
    assert_eq!(me["status"], "active");
    assert_eq!(me["has_account"], true);
    assert_eq!(me["emails"][0]["address"], email.as_str());
    assert_eq!(me["emails"][0]["verified"], true);

    // The cookie works for the rest of the API; state changes need the CSRF header.
    let ticket = json!({ "subject": "Printer", "message": "It is on fire" });
    let response = portal.with_cookies(Method::POST, "/api/v1/tickets", &cookies, false, Some(ticket.clone())).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = portal.with_cookies(Method::POST, "/api/v1/tickets", &cookies, true, Some(ticket)).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Password login.
    let (second, response) = portal.login_from_new_browser(&email, "a long and unusual passphrase").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(session_of(&second), session_of(&cookies));

    // Logout ends the session on the server: the old cookie, replayed, is worthless.
    let response = portal.with_cookies(Method::DELETE, "/api/v1/session", &second, true, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(portal.whoami(&second).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(portal.whoami(&cookies).await.status(), StatusCode::OK, "other sessions live on");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn activation_claims_the_contact_a_channel_created_before() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("bob");
    // Bob mailed support before: the mail channel created him, without a name.
    let earlier = server.clients.find_or_create_contact(&email, "").await.expect("contact");

    let cookies = portal.sign_up_and_activate("Bob B.", &email.to_uppercase(), "bobs own passphrase").await;
    let me: Value = portal.whoami(&cookies).await.json().await.expect("json");
    assert_eq!(me["id"], earlier.as_str(), "the same contact, not a duplicate");
    assert_eq!(me["name"], "Bob B.", "the sign-up named the nameless contact");
    let pg = env.pg().await;
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contacts")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(contacts, 1);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn sign_up_and_reset_answer_the_same_whether_or_not_the_address_is_known() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let known = unique_address("known");
    portal.sign_up_and_activate("Known", &known, "known person passphrase").await;
    let unknown = unique_address("unknown");

    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        let response = portal.post("/api/v1/account/signup", json!({ "name": "X", "email": email })).await;
        answers.push((response.status(), response.text().await.expect("body")));
        let response = portal.post("/api/v1/account/password-reset", json!({ "email": email })).await;
        answers.push((response.status(), response.text().await.expect("body")));
    }
    assert_eq!(answers[0], answers[2], "sign-up");
    assert_eq!(answers[1], answers[3], "reset");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);

    // Login failures look the same too.
    let wrong_password = error_of(portal.login(&known, "not the password at all").await).await;
    let no_such_account = error_of(portal.login(&unknown, "not the password at all").await).await;
    assert_eq!(wrong_password, no_such_account);
    assert_eq!(wrong_password.0, StatusCode::UNAUTHORIZED);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn expired_links_are_refused() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("late");
    portal.post("/api/v1/account/signup", json!({ "name": "Late", "email": email })).await;
    let token = link_token(&wait_for_mail(&email, 1).await[0], "activate");
    let pg = env.pg().await;
    sqlx::query("UPDATE identity.link_tokens SET expires_at = now() - interval '1 second'")
        .execute(&pg)
        .await
        .expect("expire");
    let (status, _) = error_of(portal.post("/api/v1/account/activate", json!({ "token": token, "password": "too late passphrase" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = error_of(portal.post("/api/v1/account/activate", json!({ "token": "forged", "password": "too late passphrase" })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    server.stop().await.expect("clean shutdown");
}

fn login_request(email: &str, password: &str, ip: &str, token: &str) -> tonic::Request<pb::LoginRequest> {
    bearer(
        pb::LoginRequest {
            email: email.into(),
            password: password.into(),
            client_ip: ip.into(),
        },
        token,
    )
    .expect("request")
}

#[tokio::test]
async fn login_is_throttled_per_address_without_locking_the_owner_out() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("target");
    let password = "owner knows this one";
    portal.sign_up_and_activate("Target", &email, password).await;
    // The owner has signed in from 198.51.100.7 before.
    let gateway_token = server.service_token().await;
    let mut accounts = AccountServiceClient::new(server.identity_channel());
    accounts
        .login(login_request(&email, password, "198.51.100.7", &gateway_token))
        .await
        .expect("owner signs in");

    // Five failures from one address: the sixth try is refused even with the right password.
    for _ in 0..5 {
        let error = accounts
            .login(login_request(&email, "guess", "203.0.113.1", &gateway_token))
            .await
            .expect_err("wrong password");
        assert_eq!(error.code(), Code::Unauthenticated);
    }
    let error = accounts
        .login(login_request(&email, password, "203.0.113.1", &gateway_token))
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Code::ResourceExhausted);
    // Unknown accounts are throttled alike: throttling tells nothing.
    let ghost = unique_address("ghost");
    for _ in 0..5 {
        let _ = accounts.login(login_request(&ghost, "guess", "203.0.113.1", &gateway_token)).await;
    }
    let error = accounts
        .login(login_request(&ghost, "guess", "203.0.113.1", &gateway_token))
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Code::ResourceExhausted);

    // A distributed attack (four tries from each of many addresses) trips the per-account limit
    // for new addresses …
    for i in 2..8 {
        for _ in 0..4 {
            let _ = accounts
                .login(login_request(&email, "guess", &format!("203.0.113.{i}"), &gateway_token))
                .await;
        }
    }
    let error = accounts
        .login(login_request(&email, password, "192.0.2.99", &gateway_token))
        .await
        .expect_err("new address throttled");
    assert_eq!(error.code(), Code::ResourceExhausted);
    // … but the owner, from an address they used before, still gets in.
    accounts
        .login(login_request(&email, password, "198.51.100.7", &gateway_token))
        .await
        .expect("the owner is not locked out");

    // An anonymous caller cannot pick its own client address to dodge the limits.
    let anonymous = pb::LoginRequest {
        email: email.clone(),
        password: "guess".into(),
        client_ip: "198.51.100.7".into(),
    };
    for _ in 0..5 {
        let _ = accounts.login(anonymous.clone()).await;
    }
    let error = accounts.login(anonymous.clone()).await.expect_err("throttled by the real peer address");
    assert_eq!(error.code(), Code::ResourceExhausted);
    accounts
        .login(login_request(&email, password, "198.51.100.7", &gateway_token))
        .await
        .expect("the claimed address was not charged");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn reset_by_mail_sets_a_new_password_and_ends_old_sessions() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("forgetful");
    let old = portal.sign_up_and_activate("Forgetful", &email, "first passphrase here").await;

    let response = portal.post("/api/v1/account/password-reset", json!({ "email": email })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mails = wait_for_mail(&email, 2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].to_lowercase().contains("subject: reset your"));
    let token = link_token(&mails[1], "password/reset");
    let (fresh, response) = portal
        .post_from_new_browser("/api/v1/account/password-reset/confirm", json!({ "token": token, "password": "second passphrase here" }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(fresh.cookie(SESSION_COOKIE).is_some(), "no {SESSION_COOKIE} cookie set");

    assert_eq!(portal.whoami(&old).await.status(), StatusCode::UNAUTHORIZED, "old session ended");
    assert_eq!(portal.whoami(&fresh).await.status(), StatusCode::OK);
    assert_eq!(portal.login(&email, "first passphrase here").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(portal.login(&email, "second passphrase here").await.status(), StatusCode::OK);
    let reused = portal
        .post("/api/v1/account/password-reset/confirm", json!({ "token": token, "password": "third passphrase here" }))
        .await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("changer");
    let here = portal.sign_up_and_activate("Changer", &email, "the original words").await;
    let elsewhere = portal.signed_in(&email, "the original words").await;

    let path = "/api/v1/account/password";
    let wrong = json!({ "current_password": "not the original", "new_password": "brand new words here" });
    let response = portal.with_cookies(Method::POST, path, &here, true, Some(wrong)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let right = json!({ "current_password": "the original words", "new_password": "brand new words here" });
    let response = portal.with_cookies(Method::POST, path, &here, false, Some(right.clone())).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "CSRF header required");
    let response = portal.with_cookies(Method::POST, path, &here, true, Some(right)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(portal.whoami(&here).await.status(), StatusCode::OK, "this session stays");

    // Guessing the current password is throttled like a login.
    for _ in 0..4 {
        let guess = json!({ "current_password": "a wrong guess", "new_password": "whatever words here" });
        let response = portal.with_cookies(Method::POST, path, &here, true, Some(guess)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let guess = json!({ "current_password": "brand new words here", "new_password": "whatever words here" });
    let response = portal.with_cookies(Method::POST, path, &here, true, Some(guess)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(portal.whoami(&elsewhere).await.status(), StatusCode::UNAUTHORIZED, "others end");
    assert_eq!(portal.login(&email, "brand new words here").await.status(), StatusCode::OK);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn blocking_a_contact_ends_its_sessions_and_logins() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("blocked");
    let cookies = portal.sign_up_and_activate("Soon Blocked", &email, "blocked person words").await;
    let id = portal.whoami(&cookies).await.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();

    let token = server.service_token().await;
    let mut contacts = ContactServiceClient::new(server.identity_channel());
    let blocked = contacts
        .set_contact_blocked(bearer(pb::SetContactBlockedRequest { id: id.clone(), blocked: true }, &token).expect("request"))
        .await
        .expect("block")
        .into_inner();
    assert_eq!(blocked.status, pb::ContactStatus::Blocked as i32);
    assert_eq!(portal.whoami(&cookies).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(portal.login(&email, "blocked person words").await.status(), StatusCode::UNAUTHORIZED);

    contacts
        .set_contact_blocked(bearer(pb::SetContactBlockedRequest { id, blocked: false }, &token).expect("request"))
        .await
        .expect("unblock");
    assert_eq!(portal.login(&email, "blocked person words").await.status(), StatusCode::OK);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_reset_form_cannot_flood_an_inbox() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("flooded");
    portal.sign_up_and_activate("Flooded", &email, "flooded persons words").await;
    for _ in 0..8 {
        let response = portal.post("/api/v1/account/password-reset", json!({ "email": email })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "the answer never changes");
    }
    // One activation mail and five reset mails; the rest were not sent.
    assert_eq!(wait_for_mail(&email, 6).await.len(), 6);
    env.account_mail_barrier().await;
    assert_eq!(helpdesk_tests::mail_to(&email).len(), 6);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn sessions_end_after_idling_and_after_their_absolute_lifetime() {
    let env = TestEnv::new().await;
    let mut settings = env.config.clone();
    settings.identity.session_idle_secs = 2;
    settings.identity.session_absolute_secs = 4;
    let server = env.start_with(settings).await;
    let portal = Portal::new(&server);
    let email = unique_address("brief");
    let idle = portal.sign_up_and_activate("Brief", &email, "short lived session words").await;
    let busy = portal.signed_in(&email, "short lived session words").await;

    // Used every second, `busy` outlives the idle limit; left alone, `idle` does not …
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(portal.whoami(&busy).await.status(), StatusCode::OK);
    }
    assert_eq!(portal.whoami(&idle).await.status(), StatusCode::UNAUTHORIZED, "idle expiry");
    // … but not the absolute limit, however busy.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(portal.whoami(&busy).await.status(), StatusCode::UNAUTHORIZED, "absolute expiry");

    server.stop().await.expect("clean shutdown");
}

async fn login_from(portal: &Portal, email: &str, password: &str, forwarded_for: &str) -> StatusCode {
    let browser = Client::browser(&portal.base);
    let request = browser.request(Method::POST, "/api/v1/session").header("x-forwarded-for", forwarded_for);
    browser.send(request.json(&json!({ "email": email, "password": password }))).await.status()
}

#[tokio::test]
async fn the_gateway_believes_x_forwarded_for_only_from_trusted_proxies() {
    let env = TestEnv::new().await;
    // Untrusted (the default): the header is ignored, every try counts against 127.0.0.1.
    let server = env.start().await;
    let portal = Portal::new(&server);
    let email = unique_address("proxied");
    for i in 0..5 {
        assert_eq!(login_from(&portal, &email, "guess", &format!("203.0.113.{i}")).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&portal, &email, "guess", "203.0.113.99").await, StatusCode::TOO_MANY_REQUESTS);
    server.stop().await.expect("clean shutdown");

    // Behind a trusted proxy: each forwarded client is throttled on its own.
    let mut settings = env.config.clone();
    settings.gateway.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let server = env.start_with(settings).await;
    let portal = Portal::new(&server);
    let email = unique_address("proxied-trusted");
    for _ in 0..5 {
        assert_eq!(login_from(&portal, &email, "guess", "203.0.113.1").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&portal, &email, "guess", "203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login_from(&portal, &email, "guess", "203.0.113.2, 127.0.0.1").await, StatusCode::UNAUTHORIZED);
    server.stop().await.expect("clean shutdown");
}
