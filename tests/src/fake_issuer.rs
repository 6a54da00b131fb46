//! A forging OpenID provider for the ID-token checks that the stack's real one (npm
//! `oidc-provider`) cannot be made to fail: discovery, a key set and a token endpoint on
//! 127.0.0.1, with an Ed25519 key made for each run, as the only algorithm its discovery document
//! lists. A test decides which ID token the token endpoint hands out next
//! ([`FakeIssuer::answer_with`]) — signed by a key it does not publish, with `alg: none` or an
//! HMAC keyed by the client secret, with several audiences and any `azp` — and calls identity's
//! `CompleteSso` with the state of a `BeginSso` and any code; no browser comes here.

use std::{
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get, routing::post};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding},
};
use helpdesk_identity::SsoProviderConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{
    Server, TestEnv,
    sso::{OAUTH2, PROVIDER, enable_providers, settings_with_provider},
};

/// The provider id identity knows the fake issuer by.
pub const FORGED: &str = "test-forged";
/// The client identity is at every test provider, and its secret.
pub const CLIENT_ID: &str = "helpdesk-test";
pub const CLIENT_SECRET: &str = "helpdesk-test-secret";
/// The access token every token answer carries (see [`FakeIssuer::at_hash`]).
pub const ACCESS_TOKEN: &str = "forged-access-token";
const KEY_ID: &str = "forged-key";

pub struct FakeIssuer {
    pub issuer: String,
    key: EncodingKey,
    next_id_token: Arc<Mutex<Option<String>>>,
    server: JoinHandle<()>,
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn new_key() -> (SigningKey, EncodingKey) {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("random seed");
    let key = SigningKey::from_bytes(&seed);
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8");
    let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).expect("ed25519 pem");
    (key, encoding)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

impl FakeIssuer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let (key, encoding) = new_key();
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        let jwks = json!({ "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            "kid": KEY_ID,
            "use": "sig",
            "alg": "EdDSA",
        }]});
        let next_id_token = Arc::new(Mutex::new(None));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { Json(discovery) }))
            .route("/jwks", get(move || async move { Json(jwks) }))
            .route("/token", post(token))
            .with_state(next_id_token.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("fake issuer serves");
        });
        Self {
            issuer,
            key: encoding,
            next_id_token,
            server,
        }
    }

    /// Identity with the stack's two providers and this one, all three switched on.
    pub async fn start_identity(&self, env: &TestEnv) -> Server {
        let mut settings = settings_with_provider(env);
        settings.identity.sso.push(SsoProviderConfig {
            id: FORGED.into(),
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            ..Default::default()
        });
        let server = env.start_with(settings).await;
        enable_providers(&server, &[PROVIDER, OAUTH2, FORGED]).await;
        server
    }

    /// The ID token of the next token answer (each is handed out once).
    pub fn answer_with(&self, id_token: String) {
        *self.next_id_token.lock().expect("lock") = Some(id_token);
    }

    /// Claims a well-behaved provider would send for a new subject, bound to `nonce`, with
    /// `overrides` (a JSON object) put over them.
    pub fn claims(&self, nonce: &str, overrides: Value) -> Value {
        let subject = format!("forged-{}", uuid::Uuid::new_v4().simple());
        let mut claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": CLIENT_ID,
            "iat": now(),
            "exp": now() + 300,
            "nonce": nonce,
            "email": format!("{subject}@example.com"),
            "email_verified": true,
            "name": "Forged Test",
        });
        if let (Value::Object(claims), Value::Object(overrides)) = (&mut claims, overrides) {
            claims.extend(overrides);
        }
        claims
    }

    /// Signed with the published key, as the discovery document says.
    pub fn sign(&self, claims: &Value) -> String {
        sign(Algorithm::EdDSA, claims, &self.key)
    }

    /// Signed with a fresh Ed25519 key that claims the published key's id.
    pub fn sign_with_unpublished_key(claims: &Value) -> String {
        sign(Algorithm::EdDSA, claims, &new_key().1)
    }

    /// An HMAC keyed by the client secret, which the discovery document does not list.
    pub fn sign_with_client_secret(claims: &Value) -> String {
        sign(Algorithm::HS256, claims, &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()))
    }

    /// `alg: none` and no signature.
    pub fn unsigned(claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    /// The `at_hash` of [`ACCESS_TOKEN`] for an EdDSA (Ed25519) token: the left half of its SHA-512.
    pub fn at_hash() -> String {
        let digest = Sha512::digest(ACCESS_TOKEN.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
    }
}

fn sign(algorithm: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    let header = Header {
        kid: Some(KEY_ID.into()),
        ..Header::new(algorithm)
    };
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

async fn token(State(next): State<Arc<Mutex<Option<String>>>>) -> (StatusCode, Json<Value>) {
    match next.lock().expect("lock").take() {
        Some(id_token) => (
            StatusCode::OK,
            Json(json!({
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            })),
        ),
        None => (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))),
    }
}
