//! A panic in a gRPC handler becomes an `INTERNAL` answer with a reference id, logged at ERROR
//! with that id and the panic's message. Without this layer hyper drops the stream and the caller
//! sees a transport error ("h2 protocol error", connection reset) that names nothing it could
//! report; with it the answer is a proper trailers-only gRPC response (`grpc-status: 13`) and the
//! server goes on serving. It is a last line of defence: handlers must not panic on any input.

use std::any::Any;

use tonic::{Status, body::Body, codegen::http};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

/// The layer `grpc::serve` puts around every service.
pub fn layer() -> CatchPanicLayer<PanicToStatus> {
    CatchPanicLayer::custom(PanicToStatus)
}

#[derive(Debug, Clone, Copy)]
pub struct PanicToStatus;

impl ResponseForPanic for PanicToStatus {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> http::Response<Body> {
        let reference = uuid::Uuid::new_v4();
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not a string)");
        tracing::error!(%reference, panic = message, "a gRPC handler panicked");
        Status::internal(format!("internal error (reference {reference})")).into_http()
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Future, pin::Pin, task};

    use helpdesk_proto::kb::v1::{ListCategoriesRequest, kb_service_client::KbServiceClient};
    use tokio_util::sync::CancellationToken;
    use tonic::{codegen::http, server::NamedService, service::Routes};
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

    /// A hand-written gRPC service under kb's name whose every call panics while it is polled, as
    /// a handler that slices a string wrongly would.
    #[derive(Clone)]
    struct Panicking;

    impl NamedService for Panicking {
        const NAME: &'static str = "helpdesk.kb.v1.KbService";
    }

    impl tonic::codegen::Service<http::Request<super::Body>> for Panicking {
        type Response = http::Response<super::Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut task::Context<'_>) -> task::Poll<Result<(), Infallible>> {
            task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<super::Body>) -> Self::Future {
            Box::pin(async { panic!("byte index 31 is not a char boundary") })
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_with_a_reference_and_the_server_keeps_serving() {
        let listener = crate::grpc::bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(crate::grpc::serve(
            listener,
            Routes::new(Panicking),
            &["helpdesk.kb.v1.KbService"],
            shutdown.clone(),
        ));
        let channel = tonic::transport::Endpoint::from_shared(url).expect("url").connect().await.expect("connect");
        let mut kb = KbServiceClient::new(channel.clone());
        for _ in 0..2 {
            let status = kb.list_categories(ListCategoriesRequest {}).await.expect_err("the handler panics");
            assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
            assert!(status.message().starts_with("internal error (reference "), "{status:?}");
            assert!(!status.message().contains("char boundary"), "the panic's message stays in the log");
        }
        // The same connection still answers other services.
        let health = HealthClient::new(channel)
            .check(HealthCheckRequest { service: String::new() })
            .await
            .expect("health after the panics")
            .into_inner();
        assert_eq!(health.status(), ServingStatus::Serving);
        shutdown.cancel();
        server.await.expect("join").expect("served");
    }
}
