//! Single sign-on against a real OpenID provider (npm `oidc-provider`, started by
//! deploy/stack.sh), driven over HTTP the way a browser would: the gateway's `begin` redirect,
//! the provider's login and consent pages, the redirect back with code and state, the gateway's
//! callback. Covers: a new contact; sign-in again by the stable subject; an existing contact
//! linked only on a verified email (otherwise by mail); tampered or replayed state and a foreign
//! nonce refused.

use std::collections::BTreeMap;

use helpdesk::serve::PartSettings;
use helpdesk_identity::{SsoKind, SsoProviderConfig};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    self as pb, settings_service_client::SettingsServiceClient, sso_service_client::SsoServiceClient,
};
use helpdesk_tests::{Server, TestEnv, gateway::SESSION_COOKIE, link_token, wait_for_mail};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tonic::Code;

const PROVIDER: &str = "test-oidc";
/// The same provider, configured as a plain OAuth 2.0 one (endpoints and user-info fields).
const OAUTH2: &str = "test-oauth2";
/// Where the redirect URIs registered at the test provider start (identity's default portal URL).
const REGISTERED_CALLBACKS: &str = "http://127.0.0.1:8080/api/v1/sso/";

fn settings_with_provider() -> PartSettings {
    let mut settings = PartSettings::load(None).expect("part settings");
    let issuer = std::env::var("HELPDESK_TEST_OIDC_ISSUER")
        .expect("HELPDESK_TEST_OIDC_ISSUER: run the tests with deploy/test.sh, which starts the OpenID provider");
    settings.identity.portal_url = "http://127.0.0.1:8080".into();
    settings.identity.sso = vec![
        SsoProviderConfig {
            id: PROVIDER.into(),
            display_name: "Test OP".into(),
            issuer: issuer.clone(),
            client_id: "helpdesk-test".into(),
            client_secret: "helpdesk-test-secret".into(),
            ..Default::default()
        },
        SsoProviderConfig {
            id: OAUTH2.into(),
            kind: SsoKind::Oauth2,
            client_id: "helpdesk-test".into(),
            client_secret: "helpdesk-test-secret".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            authorization_endpoint: format!("{issuer}/auth"),
            token_endpoint: format!("{issuer}/token"),
            userinfo_endpoint: format!("{issuer}/me"),
            subject_field: "sub".into(),
            email_field: "email".into(),
            email_verified_field: "email_verified".into(),
            name_field: "name".into(),
            ..Default::default()
        },
    ];
    settings
}

async fn start(env: &TestEnv) -> Server {
    let server = env.start_with(settings_with_provider()).await;
    let token = server.service_token().await;
    let settings = pb::PortalSettings {
        password_login: true,
        sso_providers: vec![PROVIDER.into(), OAUTH2.into()],
        signup_mode: pb::SignupMode::Open as i32,
        contacts_may_close_tickets: true,
        ..Default::default()
    };
    SettingsServiceClient::new(server.identity_channel())
        .update_portal_settings(bearer(pb::UpdatePortalSettingsRequest { settings: Some(settings) }, &token).expect("request"))
        .await
        .expect("turn the provider on");
    server
}

/// A browser without automatic redirects, with a cookie jar kept by hand (all on 127.0.0.1).
struct Browser {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn absorb(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().expect("ascii");
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let Some((name, content)) = pair.split_once('=') else { continue };
            let expired = attributes.to_ascii_lowercase().contains("max-age=0")
                || attributes.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if expired || content.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), content.to_string());
            }
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.absorb(&response);
        response
    }

    async fn post_form(&mut self, url: &str, form: &[(String, String)]) -> reqwest::Response {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .client
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        self.absorb(&response);
        response
    }

    /// Follows the provider's pages from the authorization URL — logging in as `login` and
    /// consenting — until it redirects to our callback; returns that callback URL.
    async fn sign_in_at_provider(&mut self, authorization_url: &str, login: &str) -> Url {
        let mut url = Url::parse(authorization_url).expect("authorization URL");
        let mut response = self.get(url.as_str()).await;
        for _ in 0..20 {
            if response.status().is_redirection() {
                let location = response.headers()["location"].to_str().expect("location").to_string();
                let next = url.join(&location).expect("redirect target");
                if next.as_str().starts_with(REGISTERED_CALLBACKS) {
                    return next;
                }
                url = next;
                response = self.get(url.as_str()).await;
                continue;
            }
            let status = response.status();
            let html = response.text().await.expect("page");
            assert_eq!(status, StatusCode::OK, "the provider answered: {html}");
            let action = attribute_after(&html, "<form", "action").expect("a form on the provider's page");
            let mut form = hidden_inputs(&html);
            if html.contains("name=\"login\"") {
                form.push(("login".into(), login.into()));
                form.push(("password".into(), "any password".into()));
            }
            let target = url.join(&action).expect("form action");
            response = self.post_form(target.as_str(), &form).await;
        }
        panic!("the provider never redirected back");
    }
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn attribute_after(html: &str, tag: &str, attribute: &str) -> Option<String> {
    let start = html.find(tag)?;
    let rest = &html[start..];
    let marker = format!("{attribute}=\"");
    let value_start = rest.find(&marker)? + marker.len();
    let value_end = rest[value_start..].find('"')? + value_start;
    Some(rest[value_start..value_end].replace("&amp;", "&"))
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|input| input.contains("type=\"hidden\""))
        .filter_map(|input| {
            let input = format!("<input{input}");
            Some((attribute_after(&input, "<input", "name")?, attribute_after(&input, "<input", "value")?))
        })
        .collect()
}

/// The whole round trip through the gateway; the gateway's answer to the callback.
async fn sign_in(server: &Server, browser: &mut Browser, login: &str) -> reqwest::Response {
    sign_in_with(server, browser, PROVIDER, login).await
}

async fn sign_in_with(server: &Server, browser: &mut Browser, provider: &str, login: &str) -> reqwest::Response {
    let begin = browser.get(&format!("{}/api/v1/sso/{provider}/begin", server.gateway)).await;
    assert_eq!(begin.status(), StatusCode::SEE_OTHER);
    assert!(browser.cookies.contains_key("hd_sso_state"), "the state is bound to this browser");
    let authorization = begin.headers()["location"].to_str().expect("location").to_string();
    let callback = browser.sign_in_at_provider(&authorization, login).await;
    let ours = format!("{}{}?{}", server.gateway, callback.path(), callback.query().unwrap_or_default());
    browser.get(&ours).await
}

async fn whoami(server: &Server, session: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}/api/v1/session", server.gateway))
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json")
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_new_contact_signs_in_and_comes_back_by_the_same_subject() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let providers: Value = reqwest::get(format!("{}/api/v1/sso/providers", server.gateway))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    // Listed by id.
    assert_eq!(providers["providers"][0]["id"], OAUTH2);
    assert_eq!(providers["providers"][0]["kind"], "oauth2");
    assert_eq!(providers["providers"][1]["id"], PROVIDER);
    assert_eq!(providers["providers"][1]["kind"], "oidc");

    let email = format!("{}@example.com", unique("nia"));
    let login = format!("{}|{email}|yes|Nia Verified", unique("sub"));
    let mut browser = Browser::new();
    let response = sign_in(&server, &mut browser, &login).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!browser.cookies.contains_key("hd_sso_state"), "the state cookie is spent");
    let session = browser.cookies.get(SESSION_COOKIE).expect("session cookie").clone();
    let me = whoami(&server, &session).await;
    assert_eq!(me["emails"][0]["address"], email.as_str());
    assert_eq!(me["emails"][0]["verified"], true);
    assert_eq!(me["status"], "active");
    assert_eq!(me["name"], "Nia Verified");

    // Again, in another browser: the same contact, found by the subject.
    let mut other = Browser::new();
    assert_eq!(sign_in(&server, &mut other, &login).await.status(), StatusCode::OK);
    let again = whoami(&server, other.cookies.get(SESSION_COOKIE).expect("session")).await;
    assert_eq!(again["id"], me["id"]);
    let pg = env.pg().await;
    let (contacts, links): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM identity.contacts), (SELECT count(*) FROM identity.external_identities)",
    )
    .fetch_one(&pg)
    .await
    .expect("counts");
    assert_eq!((contacts, links), (1, 1));

    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}

#[tokio::test]
async fn an_existing_contact_is_linked_only_on_a_verified_email() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let email = format!("{}@example.com", unique("olly"));
    // Olly mailed support before.
    let existing = server.clients.find_or_create_contact(&email, "Olly").await.expect("contact");

    // The provider does not vouch for the address: nothing is linked, a ticket comes back.
    let mut browser = Browser::new();
    let response = sign_in(&server, &mut browser, &format!("{}|{email}|no|Olly", unique("unverified"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!browser.cookies.contains_key(SESSION_COOKIE), "no session without a verified address");
    let body: Value = response.json().await.expect("json");
    let ticket = body["email_verification_ticket"].as_str().expect("a ticket").to_string();
    let pg = env.pg().await;
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.external_identities")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(links, 0, "an unverified email links nothing");

    // They name the address and prove it by mail; then the subject is linked to Olly.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/sso/confirm-email", server.gateway))
        .json(&json!({ "ticket": ticket, "email": email }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mails = wait_for_mail(&email, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].to_lowercase().contains("subject: confirm your email address"));
    let token = link_token(&mails[0], "verify-email");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/sso/verify-email", server.gateway))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["contact_id"], existing.as_str());

    // A provider that does vouch for the address links straight to the existing contact.
    let mut browser = Browser::new();
    let response = sign_in(&server, &mut browser, &format!("{}|{email}|yes|Olly", unique("verified"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = whoami(&server, browser.cookies.get(SESSION_COOKIE).expect("session")).await;
    assert_eq!(me["id"], existing.as_str());
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contacts")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(contacts, 1, "no duplicate contact");

    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}

#[tokio::test]
async fn tampered_or_replayed_state_and_a_foreign_nonce_are_refused() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let login = format!("{}|{}@example.com|yes|Tam", unique("tam"), unique("tam"));

    // A callback whose state is not this browser's.
    let mut browser = Browser::new();
    let begin = browser.get(&format!("{}/api/v1/sso/{PROVIDER}/begin", server.gateway)).await;
    let authorization = begin.headers()["location"].to_str().expect("location").to_string();
    let callback = browser.sign_in_at_provider(&authorization, &login).await;
    browser.cookies.insert("hd_sso_state".into(), "someone-elses-state".into());
    let ours = format!("{}{}?{}", server.gateway, callback.path(), callback.query().unwrap_or_default());
    assert_eq!(browser.get(&ours).await.status(), StatusCode::UNAUTHORIZED);

    // The real state, once: works; replayed: refused.
    let state: String = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    browser.cookies.insert("hd_sso_state".into(), state.clone());
    assert_eq!(browser.get(&ours).await.status(), StatusCode::OK);
    browser.cookies.insert("hd_sso_state".into(), state);
    assert_eq!(browser.get(&ours).await.status(), StatusCode::UNAUTHORIZED, "a state works once");

    // A nonce other than ours in the authorization request: the ID token is refused.
    let mut sso = SsoServiceClient::new(server.identity_channel());
    let begun = sso
        .begin_sso(pb::BeginSsoRequest { provider_id: PROVIDER.into(), redirect_uri: String::new() })
        .await
        .expect("begin")
        .into_inner();
    let mut url = Url::parse(&begun.authorization_url).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "nonce" { "forged-nonce".to_string() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = Browser::new().sign_in_at_provider(url.as_str(), &login).await;
    let code = callback.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    let error = sso
        .complete_sso(pb::CompleteSsoRequest { provider_id: PROVIDER.into(), state: begun.state, code })
        .await
        .expect_err("foreign nonce");
    assert_eq!(error.code(), Code::Unauthenticated);

    // An unknown or switched-off provider is not found.
    let error = sso
        .begin_sso(pb::BeginSsoRequest { provider_id: "nope".into(), redirect_uri: String::new() })
        .await
        .expect_err("unknown provider");
    assert_eq!(error.code(), Code::NotFound);

    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}

#[tokio::test]
async fn a_plain_oauth2_provider_signs_in_and_a_verified_email_joins_providers_on_one_contact() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let email = format!("{}@example.com", unique("pat"));
    let login = format!("{}|{email}|yes|Pat", unique("sub"));

    let mut browser = Browser::new();
    assert_eq!(sign_in_with(&server, &mut browser, OAUTH2, &login).await.status(), StatusCode::OK);
    let by_oauth2 = whoami(&server, browser.cookies.get(SESSION_COOKIE).expect("session")).await;
    assert_eq!(by_oauth2["emails"][0]["address"], email.as_str());

    let mut browser = Browser::new();
    assert_eq!(sign_in_with(&server, &mut browser, PROVIDER, &login).await.status(), StatusCode::OK);
    let by_oidc = whoami(&server, browser.cookies.get(SESSION_COOKIE).expect("session")).await;
    assert_eq!(by_oidc["id"], by_oauth2["id"], "one contact, two linked identities");
    let pg = env.pg().await;
    let providers: Vec<String> = sqlx::query_scalar("SELECT provider FROM identity.external_identities ORDER BY provider")
        .fetch_all(&pg)
        .await
        .expect("identities");
    assert_eq!(providers, [OAUTH2, PROVIDER]);

    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}
