//! The loop every durable JetStream consumer runs: pull messages one at a time and hand each to
//! the service's handler (which acks, naks or terminates it), re-subscribing with backoff when the
//! message stream breaks, until shutdown.

use std::{future::Future, time::Duration};

use async_nats::jetstream::{Message, consumer::PullConsumer};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

pub async fn run<F, Fut>(name: &'static str, consumer: PullConsumer, shutdown: CancellationToken, mut handle: F)
where
    F: FnMut(Message) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(consumer = name, %error, "cannot pull messages; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    backoff = Duration::from_millis(200);
                    handle(message).await;
                }
                Some(Err(error)) => tracing::warn!(consumer = name, %error, "message stream error"),
                None => break,
            }
        }
    }
}
