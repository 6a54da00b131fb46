//! What the tests know of the gateway's browser side: the cookie names it sets (kept here once,
//! so every test reads them the same way and a rename is one change), every `Set-Cookie` of an
//! answer as sent (for tests of the flags), a portal page's first visit (visitor cookie + CSRF
//! token), and sign-up → activation mail → a signed-in [`Client`].

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::{Client, link_token, mail_to, wait_for_mail};

/// The session cookie when cookies are `Secure` (the default, and what the tests run with).
pub const SESSION_COOKIE: &str = "__Host-hd_session";
/// The cookie that carries the session's CSRF token to the page's script.
pub const CSRF_COOKIE: &str = "__Host-hd_csrf";
/// The cookie a browser gets on its first visit to a page.
pub const VISITOR_COOKIE: &str = "__Host-hd_visitor";

/// Every `Set-Cookie` of an answer, as sent.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect()
}

/// Sign-up → activation mail (from the stack's SMTP sink) → activation with `password`: the
/// client is signed in to the new account (its session and CSRF cookies in its jar).
pub async fn sign_up_and_activate(client: &Client, name: &str, email: &str, password: &str) {
    let before = mail_to(email).len();
    let (status, body) = client.post("/api/v1/account/signup", json!({ "name": name, "email": email })).await;
    assert_eq!(status, StatusCode::ACCEPTED.as_u16(), "{body}");
    let mails = wait_for_mail(email, before + 1).await;
    assert_eq!(mails.len(), before + 1, "no activation mail for {email}");
    let token = link_token(mails.last().expect("mail"), "activate");
    let (status, _) = client.post("/api/v1/account/activate", json!({ "token": token, "password": password })).await;
    assert_eq!(status, StatusCode::OK.as_u16());
    assert!(client.cookie(SESSION_COOKIE).is_some(), "no {SESSION_COOKIE} cookie set");
}

/// A new browser, signed up and activated (see [`sign_up_and_activate`]).
pub async fn signed_up(gateway: &str, name: &str, email: &str, password: &str) -> Client {
    let client = Client::browser(gateway);
    sign_up_and_activate(&client, name, email, password).await;
    client
}

/// A browser's first visit to a portal page: its `Cookie` header value (the visitor cookie), the
/// page's CSRF token (from `<meta name="csrf-token">`) and the HTML.
pub async fn first_visit(gateway: &str, path: &str) -> (String, String, String) {
    let browser = Client::browser(gateway);
    let (_, html, _) = browser.page(path).await;
    let visitor = browser.cookie(VISITOR_COOKIE).expect("a first visit gets a visitor cookie");
    let token = browser.csrf();
    assert!(!token.is_empty(), "every page names its CSRF token for scripts");
    (format!("{VISITOR_COOKIE}={visitor}"), token, html)
}
