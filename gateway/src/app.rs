//! The gateway's wiring: lazily connected gRPC clients, the router (the JSON API, the portal's
//! pages and their layer, `edge`'s fallbacks and headers, gzip), the body limit, and serving until shutdown. State is split per backend so each handler receives just the client it uses.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Extension, Json, Router,
    extract::{DefaultBodyLimit, FromRef},
    middleware,
    routing::{get, post, put},
};
use helpdesk_kit::{CancellationToken, auth::keys, config::SharedConfig, nats::Nats};
use helpdesk_proto::{
    kb::v1::kb_service_client::KbServiceClient,
    tickets::v1::{ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient},
};
use serde_json::json;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{
    api,
    config::GatewayConfig,
    edge,
    identity::Identity,
    portal,
    rate_limit::{self, RateLimit},
    session::session_to_bearer,
};

#[derive(Clone)]
struct Backends {
    kb: KbServiceClient<Channel>,
    identity: Identity,
}

impl FromRef<Backends> for Identity {
    fn from_ref(backends: &Backends) -> Self {
        backends.identity.clone()
    }
}

impl FromRef<Backends> for KbServiceClient<Channel> {
    fn from_ref(backends: &Backends) -> Self {
        backends.kb.clone()
    }
}

/// The per-client limits, one bucket table each.
struct Limits {
    guest_tickets: RateLimit,
    signups: RateLimit,
}

impl Limits {
    fn new(settings: &GatewayConfig) -> Self {
        let (r, proxies) = (&settings.rate_limits, &settings.trusted_proxies);
        Self {
            guest_tickets: RateLimit::new("guest tickets", r.guest_tickets, r.max_clients, proxies),
            signups: RateLimit::new("sign-ups", r.signups, r.max_clients, proxies),
        }
    }
}

/// Accounts, sessions, portal settings and contact groups (identity's part of the JSON API).
fn identity_routes(signups: RateLimit) -> Router<Backends> {
    use api::{account, groups, settings, sso, staff};
    Router::new()
        .route("/api/v1/account/captcha", get(account::captcha))
        .route("/api/v1/account/captcha/solver.js", get(account::captcha_solver))
        .route(
            "/api/v1/account/signup",
            post(account::sign_up).route_layer(middleware::from_fn_with_state(signups, rate_limit::limit)),
        )
        .route("/api/v1/account/activate", post(account::activate))
        .route("/api/v1/account/password-reset", post(account::request_reset))
        .route("/api/v1/account/password-reset/confirm", post(account::reset))
        .route("/api/v1/account/password", post(account::change_password))
        .route("/api/v1/session", get(account::whoami).post(account::login).delete(account::logout))
        .route("/api/v1/settings", get(settings::get).put(settings::put))
        .route("/api/v1/sso/providers", get(sso::providers))
        .route("/api/v1/sso/{id}/begin", get(sso::begin))
        .route("/api/v1/sso/{id}/callback", get(sso::callback))
        .route("/api/v1/sso/confirm-email", post(sso::confirm_email))
        .route("/api/v1/sso/verify-email", post(sso::verify_email))
        .route("/api/v1/staff", get(staff::list_staff).post(staff::create_staff))
        .route("/api/v1/staff/{id}", axum::routing::patch(staff::update_staff))
        .route("/api/v1/contacts", get(staff::list_contacts))
        .route("/api/v1/contacts/{id}", get(staff::get_contact).patch(staff::update_contact))
        .route("/api/v1/contacts/{id}/block", put(staff::block_contact))
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route("/api/v1/groups/{id}", get(groups::get).patch(groups::update))
        .route("/api/v1/groups/{id}/members/{contact_id}", put(groups::add_member).delete(groups::remove_member))
}

pub struct App {
    listener: TcpListener,
    router: Router,
    /// Ends the live-update streams (and their NATS follower) when the gateway shuts down.
    live_stop: CancellationToken,
}

fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy())
}

impl App {
    /// Builds the gateway from the shared sections and its own; `attachment_max_bytes` is the
    /// tickets part's limit (`tickets.attachment_max_bytes`), which uploads are held to here
    /// before they reach tickets.
    pub async fn build(shared: &SharedConfig, own: GatewayConfig, attachment_max_bytes: usize) -> anyhow::Result<Self> {
        let service_secret = keys::service_secret(&shared.auth.key_dir)?;
        let limits = Limits::new(&own);
        let (listen, body_limit_bytes) = (own.listen, own.body_limit_bytes);
        let identity = Identity::new(channel(&shared.endpoints.identity)?, service_secret, own)
            .map_err(|e| anyhow::anyhow!("gateway CSRF key: {e:?}"))?;
        let backends = Backends {
            kb: KbServiceClient::new(channel(&shared.endpoints.kb)?),
            identity: identity.clone(),
        };
        let tickets_channel = channel(&shared.endpoints.tickets)?;
        // Attachments ride in one gRPC message: room for the largest file plus its envelope.
        let message_limit = attachment_max_bytes + api::tickets::ENVELOPE_BYTES;
        let tickets = api::tickets::TicketClients {
            tickets: TicketServiceClient::new(tickets_channel.clone())
                .max_decoding_message_size(message_limit)
                .max_encoding_message_size(message_limit),
            admin: TicketAdminServiceClient::new(tickets_channel),
            identity: identity.clone(),
            upload_limit: message_limit,
            attachment_max_bytes,
            guest_limit: limits.guest_tickets,
        };
        let pages = portal::PortalState {
            identity: identity.clone(),
            kb: backends.kb.clone(),
            tickets: tickets.clone(),
            signups: limits.signups.clone(),
        };
        let guard = portal::guard::Guard {
            identity: identity.clone(),
            form_limit: portal::form_limit(attachment_max_bytes),
        };
        // The ticket page's live updates follow the tickets events on NATS (any replica sees them).
        let nats = Nats::connect(&shared.nats).await?;
        let live_stop = CancellationToken::new();
        let live = portal::ticket::live::Live::start(nats.client, &nats.subjects, live_stop.clone());
        let router = Router::new()
            .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
            .merge(api::kb::routes().route_layer(middleware::from_fn_with_state(identity.clone(), api::kb::login_gate)))
            .merge(identity_routes(limits.signups))
            .with_state(backends)
            .merge(api::tickets::routes(tickets))
            .merge(portal::routes(pages).layer(Extension(live)))
            // After every route: these apply to the routes present.
            .fallback(edge::not_found)
            .method_not_allowed_fallback(edge::method_not_allowed)
            // Innermost, so the portal's layer sees a panic's answer and renders its 500 page,
            // and `headers` adds nosniff and no-store to it.
            .layer(edge::catch_panics())
            .layer(middleware::from_fn_with_state(guard, portal::guard::guard))
            .layer(middleware::from_fn_with_state(identity, session_to_bearer))
            .layer(DefaultBodyLimit::max(body_limit_bytes))
            .layer(middleware::from_fn(edge::headers))
            // gzip for pages, styles, scripts and JSON (not event streams: the default predicate
            // leaves `text/event-stream` alone, so live updates are not held back).
            .layer(CompressionLayer::new())
            .layer(TraceLayer::new_for_http());
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        Ok(Self { listener, router, live_stop })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener always has a local address")
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "HTTP gateway listening");
        // Open event streams never end by themselves; graceful shutdown waits for them.
        let live_stop = self.live_stop;
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            stopping.cancelled().await;
            live_stop.cancel();
        });
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        Ok(())
    }
}
