//! A running gRPC part (identity, tickets, kb): its bound listener, its routes, and the background
//! tasks that live as long as it does (the outbox relay, consumers). Every service's `App` is one
//! of these plus its own wiring, so start-up and shutdown behave the same everywhere.

use std::{future::Future, net::SocketAddr, pin::Pin};

use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::{config::OutboxConfig, grpc, nats::Nats, outbox};

type Task = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

pub struct GrpcPart {
    name: &'static str,
    listener: TcpListener,
    routes: Routes,
    services: Vec<&'static str>,
    tasks: Vec<(&'static str, Task)>,
}

impl GrpcPart {
    pub fn new(name: &'static str, listener: TcpListener, routes: Routes, services: Vec<&'static str>) -> Self {
        Self {
            name,
            listener,
            routes,
            services,
            tasks: Vec::new(),
        }
    }

    /// Adds a task that runs beside the server until shutdown.
    pub fn with_task<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push((name, Box::new(move |shutdown| Box::pin(task(shutdown)))));
        self
    }

    /// Adds the outbox relay for this part's schema, unless the config turns it off.
    pub fn with_outbox_relay(self, pool: PgPool, nats: Nats, config: OutboxConfig, waker: outbox::Waker) -> Self {
        if !config.relay_enabled {
            tracing::warn!(part = self.name, "outbox relay disabled by config: events wait in the outbox");
            return self;
        }
        let relay = outbox::Relay::new(pool, nats, config, waker);
        self.with_task("outbox relay", move |shutdown| relay.run(shutdown))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener always has a local address")
    }

    /// Serves until `shutdown` is cancelled, then stops the background tasks and waits for them.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tasks_stop = shutdown.child_token();
        let mut tasks = JoinSet::new();
        for (task_name, task) in self.tasks {
            let part = self.name;
            let future = task(tasks_stop.clone());
            tasks.spawn(async move {
                future.await;
                tracing::debug!(part, task = task_name, "task stopped");
            });
        }
        tracing::info!(part = self.name, addr = %self.listener.local_addr()?, "gRPC server listening");
        let served = grpc::serve(self.listener, self.routes, &self.services, shutdown).await;
        tasks_stop.cancel();
        while tasks.join_next().await.is_some() {}
        served
    }
}
