//! gRPC server scaffolding shared by every service: bind (port 0 in tests), then serve the part's
//! routes together with `grpc.health.v1` and server reflection (v1 and v1alpha) until shutdown.
//! Reflection advertises only the services this server really serves. A panic in any handler is
//! answered as `INTERNAL` with a reference id (`panic`), not with a reset stream.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;

/// Binds the listener now, so the caller knows the real port before serving.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves `routes` (whose gRPC service names are `services`) until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    services: &[&'static str],
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for service in services {
        reporter.set_service_status(*service, ServingStatus::Serving).await;
    }
    let routes = routes
        .add_service(health)
        .add_service(reflection(services).build_v1()?)
        .add_service(reflection(services).build_v1alpha()?);
    Server::builder()
        .layer(crate::panic::layer())
        .add_routes(routes)
        // Without TCP_NODELAY small responses wait for delayed ACKs: tens of milliseconds per call.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown.cancelled_owned())
        .await?;
    Ok(())
}

fn reflection(services: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(helpdesk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health");
    for service in services {
        builder = builder.with_service_name(*service);
    }
    builder
}
