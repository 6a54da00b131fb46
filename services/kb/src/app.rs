//! Wiring of the kb service: its Postgres schema, the outbox relay, the search index (loaded before
//! the server accepts calls, then kept current by the event follower), and the gRPC server behind
//! the caller-token interceptor (with identity's revocation list, read through a service token).

use std::{net::SocketAddr, sync::Arc};

use helpdesk_kit::{
    CancellationToken,
    auth::{
        Authenticate, TokenVerifier, keys,
        revocations::{Follower, Source},
        service_token::ServiceTokens,
    },
    config::SharedConfig,
    db,
    nats::Nats,
    outbox,
    part::GrpcPart,
};
use helpdesk_proto::kb::v1::kb_service_server::KbServiceServer;
use tonic::{server::NamedService, service::Routes};

use crate::{
    config::KbConfig,
    events::{Follower as IndexFollower, Indexer},
    grpc::KbGrpc,
    index::{SearchIndex, WordVectors},
    store::Store,
};

pub const SCHEMA: &str = "kb";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    /// Builds kb from the shared sections and its own `[kb]` section.
    pub async fn build(shared: &SharedConfig, own: KbConfig) -> anyhow::Result<Self> {
        let verifier = Arc::new(TokenVerifier::from_pem(&keys::verify_pem(&shared.auth.key_dir)?)?);
        let pool = db::connect_and_migrate(&shared.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&shared.nats).await?;
        let waker = outbox::Waker::default();
        let store = Store::new(pool.clone(), waker.clone());
        let vectors = match &own.word_vectors {
            Some(path) => Some(WordVectors::shared(path)?),
            None => {
                tracing::info!("kb: no word vectors configured (kb.word_vectors); search ranks by words only");
                None
            }
        };
        let index = Arc::new(SearchIndex::with_word_vectors(vectors)?);
        let indexer = Indexer::new(store.clone(), index.clone());
        let follower = IndexFollower::start(indexer.clone(), nats.clone()).await?;
        let identity = tonic::transport::Endpoint::from_shared(shared.endpoints.identity.clone())?
            .connect_timeout(std::time::Duration::from_secs(5))
            .connect_lazy();
        let tokens = Arc::new(ServiceTokens::new(identity.clone(), "kb", keys::service_secret(&shared.auth.key_dir)?));
        let revocations = Follower::start(verifier.revocations(), &nats, Source::identity(identity, tokens)).await?;
        let routes = Routes::new(KbServiceServer::with_interceptor(
            KbGrpc::new(store, index, indexer),
            Authenticate::new(verifier),
        ));
        let services = vec![<KbServiceServer<KbGrpc> as NamedService>::NAME];
        let listener = helpdesk_kit::grpc::bind(own.listen).await?;
        let part = GrpcPart::new("kb", listener, routes, services)
            .with_outbox_relay(pool, nats, shared.outbox.clone(), waker)
            .with_task("index follower", move |shutdown| follower.run(shutdown))
            .with_task("revocation follower", move |shutdown| revocations.run(shutdown));
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}
