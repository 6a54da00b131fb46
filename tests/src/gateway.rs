//! Talking to the gateway as a browser does: the cookie names it sets (kept here once, so every
//! test reads them the same way and a rename is one change), a browser's session and CSRF cookies
//! read from the answers, a portal page's first visit (visitor cookie + CSRF token), and sign-up →
//! activation mail → session.

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::{link_token, mail_to, wait_for_mail};

/// The session cookie when cookies are `Secure` (the default, and what the tests run with).
pub const SESSION_COOKIE: &str = "__Host-hd_session";
/// The cookie that carries the session's CSRF token to the page's script.
pub const CSRF_COOKIE: &str = "__Host-hd_csrf";

/// A browser's session and CSRF cookies, kept by hand so a test sees every flag the gateway sets.
#[derive(Clone, Default)]
pub struct Cookies {
    pub session: String,
    pub csrf: String,
}

impl Cookies {
    /// The cookies an answer sets (a sign-in); panics when it sets no session.
    pub fn from(response: &Response) -> Self {
        let mut cookies = Cookies::default();
        for value in set_cookies(response) {
            let (pair, _) = value.split_once(';').unwrap_or((&value, ""));
            match pair.split_once('=') {
                Some((SESSION_COOKIE, v)) => cookies.session = v.to_string(),
                Some((CSRF_COOKIE, v)) => cookies.csrf = v.to_string(),
                _ => {}
            }
        }
        assert!(!cookies.session.is_empty(), "no {SESSION_COOKIE} cookie set");
        cookies
    }

    /// The `Cookie` header a browser would send back.
    pub fn header(&self) -> String {
        format!("{SESSION_COOKIE}={}; {CSRF_COOKIE}={}", self.session, self.csrf)
    }
}

/// Every `Set-Cookie` of an answer, as sent.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect()
}

/// Sign-up → activation mail (from the stack's SMTP sink) → activation with `password`; the
/// session cookies of the new account.
pub async fn sign_up_and_activate(client: &reqwest::Client, gateway: &str, name: &str, email: &str, password: &str) -> Cookies {
    let before = mail_to(email).len();
    let body = json!({ "name": name, "email": email });
    let response = client.post(format!("{gateway}/api/v1/account/signup")).json(&body).send().await.expect("sign-up");
    let status = response.status();
    assert_eq!(status, StatusCode::ACCEPTED, "{}", response.text().await.unwrap_or_default());
    let mails = wait_for_mail(email, before + 1).await;
    assert_eq!(mails.len(), before + 1, "no activation mail for {email}");
    let token = link_token(mails.last().expect("mail"), "activate");
    let body = json!({ "token": token, "password": password });
    let response = client.post(format!("{gateway}/api/v1/account/activate")).json(&body).send().await.expect("activation");
    assert_eq!(response.status(), StatusCode::OK);
    Cookies::from(&response)
}

/// A browser's first visit to a portal page: its `Cookie` header value (the visitor cookie), the
/// page's CSRF token (from `<meta name="csrf-token">`) and the HTML.
pub async fn first_visit(gateway: &str, path: &str) -> (String, String, String) {
    let response = crate::http().get(format!("{gateway}{path}")).send().await.expect("GET");
    let visitor = set_cookies(&response)
        .into_iter()
        .find_map(|c| c.strip_prefix("__Host-hd_visitor=").map(|v| v.split(';').next().unwrap_or("").to_string()))
        .expect("a first visit gets a visitor cookie");
    let html = response.text().await.expect("html");
    let token = html
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("every page names its CSRF token for scripts")
        .to_string();
    (format!("__Host-hd_visitor={visitor}"), token, html)
}
