//! Single sign-on against the stack's OpenID provider (npm `oidc-provider`, started by
//! deploy/stack.sh), driven over HTTP the way a browser would: the two providers the tests
//! configure (the same OP as OpenID Connect and as plain OAuth 2.0), and signing in at the
//! provider's pages (log in, consent) in a [`Client`], which follows no redirects by itself. The
//! test account is the login itself: `subject|email|yes-or-no (email verified)|name`.

use helpdesk::config::HelpdeskConfig;
use helpdesk_identity::{SsoKind, SsoProviderConfig};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{self as pb, settings_service_client::SettingsServiceClient};
use reqwest::{StatusCode, Url};

use crate::{Client, Server, TestEnv, stack_env};

pub const PROVIDER: &str = "test-oidc";
/// The same provider, configured as a plain OAuth 2.0 one (endpoints and user-info fields).
pub const OAUTH2: &str = "test-oauth2";
/// Where the redirect URIs registered at the test provider start (identity's default portal URL).
pub const REGISTERED_CALLBACKS: &str = "http://127.0.0.1:8080/api/v1/sso/";

/// `env`'s configuration with both providers.
pub fn settings_with_provider(env: &TestEnv) -> HelpdeskConfig {
    let mut settings = env.config.clone();
    let issuer = std::env::var(stack_env::HELPDESK_TEST_OIDC_ISSUER)
        .expect("the OpenID provider's issuer: run the tests with deploy/test.sh, which starts it");
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

pub async fn start(env: &TestEnv) -> Server {
    let server = env.start_with(settings_with_provider(env)).await;
    enable_providers(&server, &[PROVIDER, OAUTH2]).await;
    server
}

/// Portal settings with password login and these SSO providers on, sign-up open.
pub async fn enable_providers(server: &Server, providers: &[&str]) {
    let token = server.service_token().await;
    let settings = pb::PortalSettings {
        password_login: true,
        sso_providers: providers.iter().map(|&id| id.into()).collect(),
        signup_mode: pb::SignupMode::Open as i32,
        contacts_may_close_tickets: true,
        ..Default::default()
    };
    SettingsServiceClient::new(server.identity_channel())
        .update_portal_settings(bearer(pb::UpdatePortalSettingsRequest { settings: Some(settings) }, &token).expect("request"))
        .await
        .expect("turn the providers on");
}

/// Follows the provider's pages from the authorization URL in `browser` — logging in as `login`
/// and consenting — until it redirects to our callback; returns that callback URL.
pub async fn sign_in_at_provider(browser: &Client, authorization_url: &str, login: &str) -> Url {
    let mut url = Url::parse(authorization_url).expect("authorization URL");
    let mut response = browser.get_raw(url.as_str()).await;
    for _ in 0..20 {
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().expect("location").to_string();
            let next = url.join(&location).expect("redirect target");
            if next.as_str().starts_with(REGISTERED_CALLBACKS) {
                return next;
            }
            url = next;
            response = browser.get_raw(url.as_str()).await;
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
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        response = browser.post_form(target.as_str(), &fields).await;
    }
    panic!("the provider never redirected back");
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

