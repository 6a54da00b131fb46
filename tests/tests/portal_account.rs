//! The portal's account pages over HTTP, as a browser without JavaScript meets them (the same
//! pages are walked in Chromium by `tests/browser/account.test.mjs`): sign-up → the activation
//! mail's link → set your password → signed in; log in and out; forgotten password → reset; the
//! account page. Checked: status codes and POST-redirect-GET, `next` kept to this site, the
//! session cookies, CSRF refusals, the same answer for known and unknown addresses, a hostile
//! name escaped, settings that close sign-up or limit it to domains, the captcha without
//! JavaScript, and the sign-up limit's page. Single sign-on through the stack's OpenID provider:
//! the login page's provider links, landing on `next`, the "prove your email" step, a failure.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{self as pb, settings_service_client::SettingsServiceClient};
use helpdesk_tests::{
    Client, Server, TestEnv,
    gateway::{CSRF_COOKIE, SESSION_COOKIE},
    link_token,
    sso::{self, OAUTH2, PROVIDER},
    wait_for_mail,
};
use reqwest::{StatusCode, header};

/// A browser on the portal's pages (a [`Client`]: no automatic redirects, so every
/// `Set-Cookie` and `Location` is seen), posting forms with the CSRF token of the last page read.
struct Browser {
    client: Client,
}

impl Browser {
    fn new(server: &Server) -> Self {
        Self { client: Client::browser(&server.gateway) }
    }

    /// GET `path`; the status and the page (its CSRF token remembered).
    async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
        let (status, html, headers) = self.client.page(path).await;
        (status, html, location(&headers))
    }

    /// POST a form from the page last read (its CSRF token first, as the portal's forms send it).
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, Option<String>) {
        let mut all = vec![("csrf_token", self.client.csrf())];
        all.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        self.post_raw(path, &all).await
    }

    async fn post_raw(&mut self, path: &str, fields: &[(&str, String)]) -> (StatusCode, String, Option<String>) {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = self.client.post_form(path, &fields).await;
        let (status, html, headers) = self.client.read_page(response).await;
        (status, html, location(&headers))
    }

    fn signed_in(&self) -> bool {
        self.client.cookie(SESSION_COOKIE).is_some() && self.client.cookie(CSRF_COOKIE).is_some()
    }

    fn has_cookie(&self, name: &str) -> bool {
        self.client.cookie(name).is_some()
    }
}

fn location(headers: &header::HeaderMap) -> Option<String> {
    headers.get(header::LOCATION).map(|l| l.to_str().expect("location").to_string())
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn set_portal(server: &Server, settings: pb::PortalSettings) {
    let token = server.service_token().await;
    SettingsServiceClient::new(server.identity_channel())
        .update_portal_settings(bearer(pb::UpdatePortalSettingsRequest { settings: Some(settings) }, &token).expect("request"))
        .await
        .expect("portal settings");
}

fn open_portal() -> pb::PortalSettings {
    pb::PortalSettings { password_login: true, signup_mode: pb::SignupMode::Open as i32, ..Default::default() }
}

/// The "Check your inbox" answer to a sign-up, and the link of the mail that follows it.
async fn sign_up(browser: &mut Browser, name: &str, email: &str, mails_before: usize) -> String {
    let (status, _, _) = browser.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, location) = browser.post("/signup", &[("name", name), ("email", email)]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/signup?sent=1")));
    let mails = wait_for_mail(email, mails_before + 1).await;
    assert_eq!(mails.len(), mails_before + 1, "a mail for {email}");
    mails.last().expect("mail").clone()
}

/// Sign-up → mail → the set-password page → signed in; the browser keeps the session.
async fn new_account(server: &Server, name: &str, email: &str, password: &str) -> Browser {
    let mut browser = Browser::new(server);
    let mail = sign_up(&mut browser, name, email, 0).await;
    let token = link_token(&mail, "activate");
    browser.get(&format!("/activate?token={token}")).await;
    let (status, _, _) = browser.post("/activate", &[("token", &token), ("password", password)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(browser.signed_in());
    browser
}

#[tokio::test]
async fn sign_up_mails_a_link_to_the_set_password_page_which_signs_in() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    set_portal(&server, open_portal()).await;
    let email = unique_email("ada");
    let mut browser = Browser::new(&server);

    let (status, html, _) = browser.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1 id=\"page-title\">Request new account</h1>"), "{html}");
    assert!(html.contains("<label for=\"name\">Name</label>") && html.contains("<label for=\"email\">Email</label>"));
    assert!(!html.contains("data-captcha"), "no captcha while the setting is off");
    let form = html.split("action=\"/signup\"").nth(1).expect("the form");
    assert!(form.trim_start_matches(|c| c != '<').starts_with("<input type=\"hidden\" name=\"csrf_token\""), "token first");

    // Without this browser's token nothing is sent.
    let (status, html, _) = browser.post_raw("/signup", &[("name", "Ada".into()), ("email", email.clone())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Please send the form again"), "{html}");

    // Bad input: 422, the input kept, the summary and the field's message tied to it.
    let (status, html, _) = browser.post("/signup", &[("name", "Ada <Lovelace>"), ("email", "not an address")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("class=\"error-summary\"") && html.contains("href=\"#email\""), "{html}");
    assert!(html.contains("value=\"Ada &#60;Lovelace&#62;\"") || html.contains("value=\"Ada &lt;Lovelace&gt;\""), "{html}");
    assert!(html.contains("aria-describedby=\"email-error\"") && html.contains("id=\"email-error\""));

    let mail = sign_up(&mut browser, "Ada", &email, 0).await;
    assert!(helpdesk_tests::decode_quoted_printable(&mail).contains("/activate?token="), "the portal's page: {mail}");
    let token = link_token(&mail, "activate");

    // The link opens "Set your password"; it changes nothing by itself.
    let (status, html, _) = browser.get(&format!("/activate?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Set your password") && html.contains(">Set password</button>"), "{html}");
    assert!(html.contains(&format!("name=\"token\" value=\"{token}\"")));

    // A common password comes back from identity as the field's message.
    let (status, html, _) = browser.post("/activate", &[("token", &token), ("password", "password123")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"password-error\"") && html.contains("common"), "{html}");
    assert!(!browser.signed_in());

    // Activation opens the session and goes to My Tickets; a hostile `next` lands home.
    let (status, _, location) = browser
        .post("/activate", &[("token", &token), ("password", "correct horse battery"), ("next", "//evil.example")])
        .await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert!(browser.signed_in(), "session and CSRF cookies: {}", browser.client.cookie_header());
    let (status, html, _) = browser.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("value=\"Ada\"") && html.contains(&email), "{html}");

    // The link is spent: a plain page says so.
    let mut other = Browser::new(&server);
    other.get("/").await;
    let (status, html, _) = other.post("/activate", &[("token", &token), ("password", "another long one")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("This link does not work"), "{html}");
    let (status, html, _) = other.get("/activate").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("This link does not work") && !html.contains("name=\"password\""));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn sign_up_and_forgotten_password_answer_the_same_for_known_and_unknown_addresses() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    set_portal(&server, open_portal()).await;
    let known = unique_email("known");
    new_account(&server, "Known", &known, "known person's password").await;
    let unknown = unique_email("nobody");

    let mut browser = Browser::new(&server);
    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        browser.get("/signup").await;
        answers.push(browser.post("/signup", &[("name", "Someone"), ("email", email)]).await);
        browser.get("/password/forgot").await;
        answers.push(browser.post("/password/forgot", &[("email", email)]).await);
    }
    assert_eq!(answers[0], answers[2], "sign-up");
    assert_eq!(answers[1], answers[3], "forgotten password");
    assert_eq!(answers[1].2.as_deref(), Some("/password/forgot?sent=1"));
    let (status, html, _) = browser.get("/password/forgot?sent=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Check your inbox") && html.contains("role=\"status\""));

    // The known address got a sign-up reset link and a forgotten-password one, both to the
    // portal's reset page; that page sets the password and signs in.
    let mails = wait_for_mail(&known, 3).await;
    assert_eq!(mails.len(), 3, "activation, then two reset links");
    assert!(helpdesk_tests::decode_quoted_printable(&mails[2]).contains("/password/reset?token="));
    let token = link_token(&mails[2], "password/reset");
    let mut reset = Browser::new(&server);
    let (status, html, _) = reset.get(&format!("/password/reset?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Choose a new password"), "{html}");
    let (status, html, _) = reset.post("/password/reset", &[("token", &token), ("password", "short")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("at least 8 characters"), "{html}");
    let (status, _, location) = reset.post("/password/reset", &[("token", &token), ("password", "a brand new password")]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/tickets")));
    assert!(reset.signed_in());

    // And the new password logs in.
    let mut login = Browser::new(&server);
    login.get("/login").await;
    let (status, _, _) = login.post("/login", &[("email", &known), ("password", "a brand new password")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(login.signed_in());

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn login_keeps_next_on_this_site_and_says_the_same_for_a_wrong_password_and_an_unknown_address() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    set_portal(&server, open_portal()).await;
    let email = unique_email("lin");
    new_account(&server, "Lin", &email, "lin's long password").await;

    let mut browser = Browser::new(&server);
    let (status, html, _) = browser.get("/login?next=%2Fkb").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1 id=\"page-title\">Log in</h1>") && html.contains("name=\"next\" value=\"/kb\""), "{html}");
    assert!(html.contains("href=\"/password/forgot\""));

    let (wrong_status, wrong, _) = browser.post("/login", &[("email", &email), ("password", "not it at all")]).await;
    let (unknown_status, unknown, _) =
        browser.post("/login", &[("email", &unique_email("ghost")), ("password", "not it at all")]).await;
    assert_eq!((wrong_status, unknown_status), (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::UNPROCESSABLE_ENTITY));
    let message = |html: &str| html.split("id=\"email-error\">").nth(1).and_then(|r| r.split("</p>").next()).map(str::to_string);
    assert!(message(&wrong).is_some_and(|m| m.contains("wrong email or password")), "{wrong}");
    assert_eq!(message(&wrong), message(&unknown), "one message for both");
    assert!(wrong.contains(&format!("value=\"{email}\"")), "the address is kept");
    assert!(!browser.signed_in());

    // Hostile targets land home; a path of this site is kept; none means My Tickets.
    for (next, expected) in [("//evil.example", "/"), ("https://evil.example", "/"), ("/kb?x=1", "/kb?x=1"), ("", "/tickets")] {
        let mut browser = Browser::new(&server);
        browser.get("/login").await;
        let (status, _, location) =
            browser.post("/login", &[("email", &email), ("password", "lin's long password"), ("next", next)]).await;
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(expected)), "next={next}");
        let session = browser.client.cookie(SESSION_COOKIE).expect("session cookie");
        assert!(!session.is_empty());
        // Signed in already: the login page sends the contact on.
        let (status, _, location) = browser.get("/login?next=%2Fkb").await;
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/kb")));
    }

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_account_page_needs_a_session_renames_escapes_changes_the_password_and_logs_out() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    set_portal(&server, open_portal()).await;

    let mut visitor = Browser::new(&server);
    let (status, _, location) = visitor.get("/account").await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=%2Faccount")));

    let email = unique_email("max");
    let mut browser = new_account(&server, "Max", &email, "max's first password").await;
    let (status, html, _) = browser.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1 id=\"page-title\">Account</h1>") && html.contains("aria-current=\"page\""), "{html}");

    // A hostile name is stored as text and shown escaped, in the page and the header.
    let hostile = "<script>alert(1)</script>";
    let (status, _, location) = browser.post("/account/name", &[("name", hostile)]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/account?saved=name")));
    let (_, html, _) = browser.get("/account?saved=name").await;
    assert!(!html.contains(hostile), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains("Your name was saved"));
    let (status, html, _) = browser.post("/account/name", &[("name", "   ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"name-error\""), "{html}");

    // Change password: the current one must be right.
    let (status, html, _) = browser
        .post("/account/password", &[("current_password", "not my password"), ("new_password", "max's second password")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"current_password-error\""), "{html}");
    let (status, _, location) = browser
        .post("/account/password", &[("current_password", "max's first password"), ("new_password", "max's second password")])
        .await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/account?saved=password")));

    // A form without the session's token is refused, and changes nothing.
    let (status, _, _) = browser.post_raw("/account/name", &[("name", "Forged".into())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Logout ends the session at identity: the old cookie opens nothing any more.
    let session = browser.client.cookie(SESSION_COOKIE).expect("session");
    browser.get("/account").await;
    let (status, _, location) = browser.post("/logout", &[]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert!(!browser.signed_in(), "cookies cleared: {}", browser.client.cookie_header());
    let mut replay = Browser::new(&server);
    replay.client.set_cookie(SESSION_COOKIE, &session);
    let (status, _, location) = replay.get("/account").await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=%2Faccount")));

    // The new password logs in.
    let mut again = Browser::new(&server);
    again.get("/login").await;
    let (status, _, _) = again.post("/login", &[("email", &email), ("password", "max's second password")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_settings_close_sign_up_limit_it_to_domains_or_ask_for_the_captcha() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let mut browser = Browser::new(&server);

    set_portal(&server, pb::PortalSettings { signup_mode: pb::SignupMode::Closed as i32, ..open_portal() }).await;
    let (status, html, _) = browser.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("cannot be requested") && !html.contains("action=\"/signup\""), "{html}");
    let (status, _, _) = browser.post("/signup", &[("name", "X"), ("email", &unique_email("x"))]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let domains = pb::PortalSettings {
        signup_mode: pb::SignupMode::Domains as i32,
        signup_domains: vec!["example.org".into()],
        ..open_portal()
    };
    set_portal(&server, domains).await;
    let (_, html, _) = browser.get("/signup").await;
    assert!(html.contains("Accounts are open to addresses at: example.org"), "{html}");
    let (status, html, _) = browser.post("/signup", &[("name", "X"), ("email", &unique_email("x"))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"email-error\"") && html.contains("example.org"), "{html}");

    set_portal(&server, pb::PortalSettings { captcha_enabled: true, ..open_portal() }).await;
    let (_, html, _) = browser.get("/signup").await;
    assert!(html.contains("data-captcha-challenge=\"") && html.contains("needs JavaScript"), "{html}");
    assert!(html.contains("/static/altcha-solver.") && html.contains("role=\"status\""), "{html}");
    let (status, html, _) = browser.post("/signup", &[("name", "X"), ("email", &unique_email("x")), ("captcha", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"captcha-error\"") && html.contains("value=\"X\""), "{html}");

    // The challenge the page carries, solved (as altcha-solver.js does in the page), is accepted.
    let attribute = html.split("data-captcha-challenge=\"").nth(1).and_then(|r| r.split('"').next()).expect("challenge");
    let json = attribute.replace("&#34;", "\"").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
    let challenge: altcha::Challenge = serde_json::from_str(&json).expect("an altcha challenge");
    let solution = altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
        .expect("solve")
        .expect("solved in time");
    let payload = serde_json::to_string(&altcha::Payload { challenge, solution }).expect("json");
    let (status, _, location) = browser.post("/signup", &[("name", "X"), ("email", &unique_email("x")), ("captcha", &payload)]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/signup?sent=1")));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn sign_up_draws_on_the_per_client_limit_and_says_so_in_a_page() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    set_portal(&server, open_portal()).await;
    let mut browser = Browser::new(&server);
    browser.get("/signup").await;
    // The default burst is 10 a client (the JSON API's budget, shared).
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(browser.post("/signup", &[("name", "Flood"), ("email", "not an address")]).await);
    }
    assert!(statuses[..10].iter().all(|(s, _, _)| *s == StatusCode::UNPROCESSABLE_ENTITY));
    let (status, html, _) = &statuses[10];
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("<h1 id=\"error-title\">Too many requests</h1>"), "the page, not JSON: {html}");

    server.stop().await.expect("clean shutdown");
}

/// `/sso/{provider}?next=…` → the provider's pages → its redirect to the API's callback, which
/// the portal's browser (it accepts HTML) follows; the callback's answer.
async fn sso_round_trip(browser: &mut Browser, provider: &str, next: &str, login: &str) -> (StatusCode, String, Option<String>) {
    let (status, _, location) = browser.get(&format!("/sso/{provider}?next={next}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(browser.has_cookie("hd_sso_state"), "{}", browser.client.cookie_header());
    assert_eq!(browser.has_cookie("hd_sso_next"), !next.is_empty(), "{}", browser.client.cookie_header());
    // At the provider in a browser of its own (only absolute URLs, so no base).
    let at_provider = Client::browser("");
    let callback = sso::sign_in_at_provider(&at_provider, &location.expect("to the provider"), login).await;
    browser.get(&format!("{}?{}", callback.path(), callback.query().unwrap_or_default())).await
}

#[tokio::test]
async fn single_sign_on_lands_on_next_and_proves_an_email_the_provider_did_not_vouch_for() {
    let env = TestEnv::new().await;
    let server = sso::start(&env).await;
    let mut browser = Browser::new(&server);
    let (status, html, _) = browser.get("/login?next=%2Fkb").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("href=\"/sso/{PROVIDER}?next=%2Fkb\"")) && html.contains(">Test OP</a>"), "{html}");
    assert!(html.contains(&format!("href=\"/sso/{OAUTH2}?next=%2Fkb\"")), "one link per provider: {html}");

    // A vouched-for address: signed in, on the page asked for, the flow's cookies spent.
    let email = unique_email("sso");
    let login = format!("{}|{email}|yes|Sam Sso", uuid::Uuid::new_v4().simple());
    let (status, _, location) = sso_round_trip(&mut browser, PROVIDER, "%2Fkb", &login).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/kb")));
    assert!(browser.signed_in());
    assert!(!browser.has_cookie("hd_sso_state") && !browser.has_cookie("hd_sso_next"));
    let (_, html, _) = browser.get("/account").await;
    assert!(html.contains("value=\"Sam Sso\"") && html.contains(&email), "{html}");

    // Somewhere else: home instead.
    let mut other = Browser::new(&server);
    let (status, _, location) = sso_round_trip(&mut other, PROVIDER, "https%3A%2F%2Fevil.example", &login).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));

    // No vouched-for address: the portal asks for one and mails a link that signs in.
    let mut unverified = Browser::new(&server);
    let email = unique_email("prove");
    let login = format!("{}|{email}|no|Pat Prove", uuid::Uuid::new_v4().simple());
    let (status, _, location) = sso_round_trip(&mut unverified, OAUTH2, "", &login).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/sso/confirm-email")));
    assert!(!unverified.signed_in() && unverified.has_cookie("hd_sso_ticket"));
    let (status, html, _) = unverified.get("/sso/confirm-email").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Confirm your email address") && html.contains("<label for=\"email\">Email</label>"), "{html}");
    let (status, html, _) = unverified.post("/sso/confirm-email", &[("email", "not an address")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"email-error\""), "{html}");
    let (status, _, location) = unverified.post("/sso/confirm-email", &[("email", &email)]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/sso/confirm-email?sent=1")));
    assert!(!unverified.has_cookie("hd_sso_ticket"), "the ticket is spent");
    let mails = wait_for_mail(&email, 1).await;
    assert!(helpdesk_tests::decode_quoted_printable(&mails[0]).contains("/sso/verify-email?token="), "{}", mails[0]);
    let token = link_token(&mails[0], "sso/verify-email");
    let mut mail_reader = Browser::new(&server);
    let (status, html, _) = mail_reader.get(&format!("/sso/verify-email?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(">Confirm and sign in</button>") && !mail_reader.signed_in(), "a GET changes nothing: {html}");
    let (status, _, location) = mail_reader.post("/sso/verify-email", &[("token", &token)]).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/tickets")));
    assert!(mail_reader.signed_in());

    // A callback this browser did not start: the login page, saying so (never JSON).
    let mut stranger = Browser::new(&server);
    let (status, _, location) = stranger.get(&format!("/api/v1/sso/{PROVIDER}/callback?code=c&state=s")).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/login?sso=failed")));
    let (_, html, _) = stranger.get("/login?sso=failed").await;
    assert!(html.contains("did not work"), "{html}");

    server.stop().await.expect("clean shutdown");
}
