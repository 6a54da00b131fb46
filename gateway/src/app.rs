//! The gateway's wiring: lazily connected gRPC clients, the router, the body limit, and serving
//! until shutdown. State is split per backend so each handler receives just the client it uses.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, FromRef},
    routing::get,
};
use helpdesk_kit::{CancellationToken, config::Config};
use helpdesk_proto::{kb::v1::kb_service_client::KbServiceClient, tickets::v1::ticket_service_client::TicketServiceClient};
use serde_json::json;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::trace::TraceLayer;

use crate::api;

#[derive(Clone)]
struct Backends {
    tickets: TicketServiceClient<Channel>,
    kb: KbServiceClient<Channel>,
}

impl FromRef<Backends> for TicketServiceClient<Channel> {
    fn from_ref(backends: &Backends) -> Self {
        backends.tickets.clone()
    }
}

impl FromRef<Backends> for KbServiceClient<Channel> {
    fn from_ref(backends: &Backends) -> Self {
        backends.kb.clone()
    }
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
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let backends = Backends {
            tickets: TicketServiceClient::new(channel(&config.endpoints.tickets)?),
            kb: KbServiceClient::new(channel(&config.endpoints.kb)?),
        };
        let router = Router::new()
            .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
            .route("/api/v1/tickets", get(api::tickets::list).post(api::tickets::create))
            .route("/api/v1/tickets/{id}", get(api::tickets::get))
            .merge(api::kb::routes())
            .with_state(backends)
            .layer(DefaultBodyLimit::max(config.gateway.body_limit_bytes))
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
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        Ok(())
    }
}
