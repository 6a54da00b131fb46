//! The gateway's wiring: lazily connected gRPC clients, the router (the JSON API, the portal's
//! pages and their layer, `edge`'s fallbacks and headers, gzip), the body limit, and serving until shutdown. State is split per backend so each handler receives just the client it uses.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, FromRef},
    middleware,
    routing::{get, post, put},
};
use helpdesk_kit::{CancellationToken, auth::keys, config::Config};
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
    config::GatewaySettings,
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
    fn new(settings: &GatewaySettings) -> Self {
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
}

fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy())
}

impl App {
    /// Builds with the gateway's own settings from the environment (`HELPDESK_GATEWAY__…`).
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let settings = GatewaySettings::load(None).map_err(|e| anyhow::anyhow!("gateway configuration: {e}"))?;
        Self::build_with(config, settings).await
    }

    pub async fn build_with(config: &Config, settings: GatewaySettings) -> anyhow::Result<Self> {
        let service_secret = keys::service_secret(&config.auth.key_dir)?;
        let limits = Limits::new(&settings);
        let identity = Identity::new(channel(&config.endpoints.identity)?, service_secret, settings)
            .map_err(|e| anyhow::anyhow!("gateway CSRF key: {e:?}"))?;
        let backends = Backends {
            kb: KbServiceClient::new(channel(&config.endpoints.kb)?),
            identity: identity.clone(),
        };
        let tickets_channel = channel(&config.endpoints.tickets)?;
        // Attachments ride in one gRPC message: room for the largest file plus its envelope.
        let message_limit = config.tickets.attachment_max_bytes + 64 * 1024;
        let tickets = api::tickets::TicketClients {
            tickets: TicketServiceClient::new(tickets_channel.clone())
                .max_decoding_message_size(message_limit)
                .max_encoding_message_size(message_limit),
            admin: TicketAdminServiceClient::new(tickets_channel),
            identity: identity.clone(),
            upload_limit: message_limit,
            guest_limit: limits.guest_tickets,
        };
        let pages = portal::PortalState {
            identity: identity.clone(),
            kb: backends.kb.clone(),
            tickets: tickets.clone(),
        };
        let guard = portal::guard::Guard {
            identity: identity.clone(),
            form_limit: portal::form_limit(config.tickets.attachment_max_bytes),
        };
        let router = Router::new()
            .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
            .merge(api::kb::routes().route_layer(middleware::from_fn_with_state(identity.clone(), api::kb::login_gate)))
            .merge(identity_routes(limits.signups))
            .with_state(backends)
            .merge(api::tickets::routes(tickets))
            .merge(portal::routes(pages))
            // After every route: these apply to the routes present.
            .fallback(edge::not_found)
            .method_not_allowed_fallback(edge::method_not_allowed)
            // Innermost, so the portal's layer sees a panic's answer and renders its 500 page,
            // and `headers` adds nosniff and no-store to it.
            .layer(edge::catch_panics())
            .layer(middleware::from_fn_with_state(guard, portal::guard::guard))
            .layer(middleware::from_fn_with_state(identity, session_to_bearer))
            .layer(DefaultBodyLimit::max(config.gateway.body_limit_bytes))
            .layer(middleware::from_fn(edge::headers))
            // gzip for pages, styles, scripts and JSON (not event streams: the default predicate
            // leaves `text/event-stream` alone, so live updates are not held back).
            .layer(CompressionLayer::new())
            .layer(TraceLayer::new_for_http());
        let listener = TcpListener::bind(config.gateway.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.gateway.listen))?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener always has a local address")
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "HTTP gateway listening");
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        Ok(())
    }
}
