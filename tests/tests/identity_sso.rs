//! Single sign-on against a real OpenID provider (npm `oidc-provider`, started by
//! deploy/stack.sh), driven over HTTP the way a browser would: the gateway's `begin` redirect,
//! the provider's login and consent pages, the redirect back with code and state, the gateway's
//! callback. Covers: a new contact; sign-in again by the stable subject; an existing contact
//! linked only on a verified email (otherwise by mail); tampered or replayed state and a foreign
//! nonce refused. The providers and the sign-in at the provider are `helpdesk_tests::sso`'s.
//! ID tokens the real provider never sends — an algorithm its discovery does not list, several
//! audiences without us as the authorized party, a wrong `at_hash` — come from
//! `helpdesk_tests::fake_issuer` and are refused.

use helpdesk_proto::identity::v1::{self as pb, sso_service_client::SsoServiceClient};
use helpdesk_tests::{
    Client, Server, TestEnv,
    fake_issuer::{CLIENT_ID, FORGED, FakeIssuer},
    gateway::SESSION_COOKIE,
    link_token,
    sso::{OAUTH2, PROVIDER, sign_in_at_provider, start},
    wait_for_mail,
};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tonic::{Code, transport::Channel};

/// The whole round trip through the gateway; the gateway's answer to the callback.
async fn sign_in(server: &Server, browser: &Client, login: &str) -> reqwest::Response {
    sign_in_with(server, browser, PROVIDER, login).await
}

async fn sign_in_with(server: &Server, browser: &Client, provider: &str, login: &str) -> reqwest::Response {
    let begin = browser.get_raw(&format!("{}/api/v1/sso/{provider}/begin", server.gateway)).await;
    assert_eq!(begin.status(), StatusCode::SEE_OTHER);
    assert!(browser.cookie("hd_sso_state").is_some(), "the state is bound to this browser");
    let authorization = begin.headers()["location"].to_str().expect("location").to_string();
    let callback = sign_in_at_provider(browser, &authorization, login).await;
    let ours = format!("{}{}?{}", server.gateway, callback.path(), callback.query().unwrap_or_default());
    browser.get_raw(&ours).await
}

/// Who the session is, asked from a browser that has only that session cookie.
async fn whoami(server: &Server, session: &str) -> Value {
    let browser = Client::browser(&server.gateway);
    browser.set_cookie(SESSION_COOKIE, session);
    browser.get("/api/v1/session").await.1
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
    let browser = Client::browser(&server.gateway);
    let response = sign_in(&server, &browser, &login).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(browser.cookie("hd_sso_state").is_none(), "the state cookie is spent");
    let session = browser.cookie(SESSION_COOKIE).expect("session cookie");
    let me = whoami(&server, &session).await;
    assert_eq!(me["emails"][0]["address"], email.as_str());
    assert_eq!(me["emails"][0]["verified"], true);
    assert_eq!(me["status"], "active");
    assert_eq!(me["name"], "Nia Verified");

    // Again, in another browser: the same contact, found by the subject.
    let other = Client::browser(&server.gateway);
    assert_eq!(sign_in(&server, &other, &login).await.status(), StatusCode::OK);
    let again = whoami(&server, &other.cookie(SESSION_COOKIE).expect("session")).await;
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
}

#[tokio::test]
async fn an_existing_contact_is_linked_only_on_a_verified_email() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let email = format!("{}@example.com", unique("olly"));
    // Olly mailed support before.
    let existing = server.clients.find_or_create_contact(&email, "Olly").await.expect("contact");

    // The provider does not vouch for the address: nothing is linked, a ticket comes back.
    let browser = Client::browser(&server.gateway);
    let response = sign_in(&server, &browser, &format!("{}|{email}|no|Olly", unique("unverified"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(browser.cookie(SESSION_COOKIE).is_none(), "no session without a verified address");
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
    let browser = Client::browser(&server.gateway);
    let response = sign_in(&server, &browser, &format!("{}|{email}|yes|Olly", unique("verified"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = whoami(&server, &browser.cookie(SESSION_COOKIE).expect("session")).await;
    assert_eq!(me["id"], existing.as_str());
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.contacts")
        .fetch_one(&pg)
        .await
        .expect("count");
    assert_eq!(contacts, 1, "no duplicate contact");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn tampered_or_replayed_state_and_a_foreign_nonce_are_refused() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let login = format!("{}|{}@example.com|yes|Tam", unique("tam"), unique("tam"));

    // A callback whose state is not this browser's.
    let browser = Client::browser(&server.gateway);
    let begin = browser.get_raw(&format!("{}/api/v1/sso/{PROVIDER}/begin", server.gateway)).await;
    let authorization = begin.headers()["location"].to_str().expect("location").to_string();
    let callback = sign_in_at_provider(&browser, &authorization, &login).await;
    browser.set_cookie("hd_sso_state", "someone-elses-state");
    let ours = format!("{}{}?{}", server.gateway, callback.path(), callback.query().unwrap_or_default());
    assert_eq!(browser.get_raw(&ours).await.status(), StatusCode::UNAUTHORIZED);

    // The real state, once: works; replayed: refused.
    let state: String = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    browser.set_cookie("hd_sso_state", &state);
    assert_eq!(browser.get_raw(&ours).await.status(), StatusCode::OK);
    browser.set_cookie("hd_sso_state", &state);
    assert_eq!(browser.get_raw(&ours).await.status(), StatusCode::UNAUTHORIZED, "a state works once");

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
    let callback = sign_in_at_provider(&Client::browser(&server.gateway), url.as_str(), &login).await;
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
}

#[tokio::test]
async fn a_plain_oauth2_provider_signs_in_and_a_verified_email_joins_providers_on_one_contact() {
    let env = TestEnv::new().await;
    let server = start(&env).await;
    let email = format!("{}@example.com", unique("pat"));
    let login = format!("{}|{email}|yes|Pat", unique("sub"));

    let browser = Client::browser(&server.gateway);
    assert_eq!(sign_in_with(&server, &browser, OAUTH2, &login).await.status(), StatusCode::OK);
    let by_oauth2 = whoami(&server, &browser.cookie(SESSION_COOKIE).expect("session")).await;
    assert_eq!(by_oauth2["emails"][0]["address"], email.as_str());

    let browser = Client::browser(&server.gateway);
    assert_eq!(sign_in_with(&server, &browser, PROVIDER, &login).await.status(), StatusCode::OK);
    let by_oidc = whoami(&server, &browser.cookie(SESSION_COOKIE).expect("session")).await;
    assert_eq!(by_oidc["id"], by_oauth2["id"], "one contact, two linked identities");
    let pg = env.pg().await;
    let providers: Vec<String> = sqlx::query_scalar("SELECT provider FROM identity.external_identities ORDER BY provider")
        .fetch_all(&pg)
        .await
        .expect("identities");
    assert_eq!(providers, [OAUTH2, PROVIDER]);

    server.stop().await.expect("clean shutdown");
}

/// A sign-in at the fake issuer whose token endpoint answers with the ID token `forge` makes
/// from the nonce of the authorization request; identity's verdict.
async fn forged_sign_in(
    server: &Server,
    issuer: &FakeIssuer,
    forge: impl FnOnce(&str) -> String,
) -> Result<pb::CompleteSsoResponse, tonic::Status> {
    let mut sso: SsoServiceClient<Channel> = SsoServiceClient::new(server.identity_channel());
    let begun = sso
        .begin_sso(pb::BeginSsoRequest { provider_id: FORGED.into(), redirect_uri: String::new() })
        .await
        .expect("begin")
        .into_inner();
    let url = Url::parse(&begun.authorization_url).expect("url");
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    issuer.answer_with(forge(&param("nonce").expect("nonce")));
    sso.complete_sso(pb::CompleteSsoRequest { provider_id: FORGED.into(), state: begun.state, code: "any-code".into() })
        .await
        .map(tonic::Response::into_inner)
}

async fn with_fake_issuer() -> (TestEnv, FakeIssuer, Server) {
    let env = TestEnv::new().await;
    let issuer = FakeIssuer::start().await;
    let server = issuer.start_identity(&env).await;
    (env, issuer, server)
}

fn signed_in(verdict: &Result<pb::CompleteSsoResponse, tonic::Status>) -> bool {
    matches!(verdict, Ok(pb::CompleteSsoResponse { outcome: Some(pb::complete_sso_response::Outcome::Session(_)) }))
}

fn refused(verdict: &Result<pb::CompleteSsoResponse, tonic::Status>) -> bool {
    matches!(verdict, Err(status) if status.code() == Code::Unauthenticated)
}

#[tokio::test]
async fn an_id_token_signed_otherwise_than_the_provider_lists_is_refused() {
    let (_env, issuer, server) = with_fake_issuer().await;
    let claims = |nonce: &str| issuer.claims(nonce, json!({}));

    let verdict = forged_sign_in(&server, &issuer, |nonce| issuer.sign(&claims(nonce))).await;
    assert!(signed_in(&verdict), "a token signed as the provider lists is accepted: {verdict:?}");
    let verdict = forged_sign_in(&server, &issuer, |nonce| FakeIssuer::unsigned(&claims(nonce))).await;
    assert!(refused(&verdict), "alg none: {verdict:?}");
    let verdict = forged_sign_in(&server, &issuer, |nonce| FakeIssuer::sign_with_client_secret(&claims(nonce))).await;
    assert!(refused(&verdict), "HS256 keyed by the client secret, not listed: {verdict:?}");
    let verdict = forged_sign_in(&server, &issuer, |nonce| FakeIssuer::sign_with_unpublished_key(&claims(nonce))).await;
    assert!(refused(&verdict), "a key the provider does not publish: {verdict:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_id_token_for_several_audiences_must_name_us_as_its_authorized_party() {
    let (_env, issuer, server) = with_fake_issuer().await;
    let several = json!([CLIENT_ID, "another-app"]);
    let cases = [
        (json!({ "aud": several }), false, "several audiences, no azp"),
        (json!({ "aud": several, "azp": "another-app" }), false, "several audiences, azp another app"),
        (json!({ "azp": "another-app" }), false, "our audience, azp another app"),
        (json!({ "aud": several, "azp": CLIENT_ID }), true, "several audiences, azp us"),
    ];
    for (overrides, accepted, case) in cases {
        let verdict = forged_sign_in(&server, &issuer, |nonce| issuer.sign(&issuer.claims(nonce, overrides))).await;
        assert!(if accepted { signed_in(&verdict) } else { refused(&verdict) }, "{case}: {verdict:?}");
    }

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_at_hash_must_match_the_access_token_it_came_with() {
    let (_env, issuer, server) = with_fake_issuer().await;
    let with_at_hash = |nonce: &str, at_hash: String| issuer.sign(&issuer.claims(nonce, json!({ "at_hash": at_hash })));

    let verdict = forged_sign_in(&server, &issuer, |nonce| with_at_hash(nonce, "c29tZXRoaW5nIGVsc2U".into())).await;
    assert!(refused(&verdict), "a wrong at_hash: {verdict:?}");
    let verdict = forged_sign_in(&server, &issuer, |nonce| with_at_hash(nonce, FakeIssuer::at_hash())).await;
    assert!(signed_in(&verdict), "the right at_hash: {verdict:?}");

    server.stop().await.expect("clean shutdown");
}
