//! The gateway's wiring: lazily connected gRPC clients, the router, the body limit, and serving
//! until shutdown. Each resource module brings its routes with the clients it uses as state.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    routing::get,
};
use helpdesk_kit::{CancellationToken, config::Config};
use helpdesk_proto::{
    kb::v1::kb_service_client::KbServiceClient,
    tickets::v1::{ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient},
};
use serde_json::json;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower_http::trace::TraceLayer;

use crate::api;

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
        let tickets_channel = channel(&config.endpoints.tickets)?;
        // Attachments ride in one gRPC message: room for the largest file plus its envelope.
        let message_limit = config.tickets.attachment_max_bytes + 64 * 1024;
        let tickets = api::tickets::TicketClients {
            tickets: TicketServiceClient::new(tickets_channel.clone())
                .max_decoding_message_size(message_limit)
                .max_encoding_message_size(message_limit),
            admin: TicketAdminServiceClient::new(tickets_channel),
            upload_limit: message_limit,
        };
        let kb = KbServiceClient::new(channel(&config.endpoints.kb)?);
        let router = Router::new()
            .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
            .merge(api::tickets::routes(tickets))
            .merge(
                Router::new()
                    .route("/api/v1/kb/search", get(api::kb::search))
                    .route("/api/v1/kb/articles/{slug}", get(api::kb::article))
                    .with_state(kb),
            )
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
