//! Wiring of the tickets service: its Postgres schema, NATS (outbox relay and the inbound
//! consumer), the identity client for finding contacts, and the gRPC server behind the
//! caller-token interceptor.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use helpdesk_kit::{
    CancellationToken,
    auth::{
        Authenticate, TokenVerifier, keys,
        revocations::{Follower, Source},
        service_token::ServiceTokens,
    },
    blob::BlobStore,
    config::SharedConfig,
    consumer::Consumer,
    db,
    nats::Nats,
    outbox,
    part::GrpcPart,
};
use helpdesk_proto::{
    identity::v1::contact_service_client::ContactServiceClient,
    tickets::v1::{ticket_admin_service_server::TicketAdminServiceServer, ticket_service_server::TicketServiceServer},
};
use tonic::{
    server::NamedService,
    service::{Routes, interceptor::InterceptedService},
    transport::Endpoint,
};

use crate::{
    config::TicketsConfig,
    events::{
        ContactCache,
        identity::{self, IdentityConsumer},
        inbound::{self, IdentityClient, InboundConsumer, Intake},
    },
    grpc::{AdminGrpc, Directory, TicketsGrpc},
    store::Store,
};

pub const SCHEMA: &str = "tickets";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    /// Builds tickets from the shared sections and its own `[tickets]` section.
    pub async fn build(shared: &SharedConfig, own: TicketsConfig) -> anyhow::Result<Self> {
        let key_dir = &shared.auth.key_dir;
        let verifier = Arc::new(TokenVerifier::from_pem(&keys::verify_pem(key_dir)?)?);
        let identity_channel = Endpoint::from_shared(shared.endpoints.identity.clone())?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        let tokens = Arc::new(ServiceTokens::new(identity_channel.clone(), "tickets", keys::service_secret(key_dir)?));

        let pool = db::connect_and_migrate(&shared.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&shared.nats).await?;
        let waker = outbox::Waker::default();
        let store = Store::new(pool.clone(), waker.clone());

        let inbound = InboundConsumer {
            intake: Intake {
                store: store.clone(),
                identity: IdentityClient {
                    identity: ContactServiceClient::new(identity_channel.clone()),
                    tokens: tokens.clone(),
                    contacts: ContactCache::new(Duration::from_secs(60)),
                },
                reply_secret: keys::service_secret(key_dir)?,
                blobs: BlobStore::from_config(&shared.blob)?,
            },
        };
        let inbound_durable = inbound::durable(
            &nats.subjects,
            own.inbound_max_deliver,
            Duration::from_secs(own.inbound_ack_wait_secs),
            own.inbound_concurrency,
        );
        let inbound_consumer = Consumer::bind(&nats, inbound_durable).await?;
        let identity_events = IdentityConsumer { store: store.clone() };
        let identity_consumer = Consumer::bind(&nats, identity::durable(&nats.subjects)).await?;

        let revocations = Follower::start(verifier.revocations(), &nats, Source::identity(identity_channel.clone(), tokens.clone())).await?;
        let auth = Authenticate::new(verifier);
        let blobs = BlobStore::from_config(&shared.blob)?;
        // Attachments ride in one message: room for the largest file plus its envelope.
        let message_limit = own.attachment_max_bytes + 64 * 1024;
        let directory = Directory::new(identity_channel, tokens);
        let tickets = TicketServiceServer::new(TicketsGrpc::new(store.clone(), blobs, own.attachment_max_bytes, directory.clone()))
            .max_decoding_message_size(message_limit)
            .max_encoding_message_size(message_limit);
        let routes = Routes::new(InterceptedService::new(tickets, auth.clone()))
            .add_service(TicketAdminServiceServer::with_interceptor(AdminGrpc::new(store, nats.clone(), directory), auth));
        let services = vec![
            <TicketServiceServer<TicketsGrpc> as NamedService>::NAME,
            <TicketAdminServiceServer<AdminGrpc> as NamedService>::NAME,
        ];
        let listener = helpdesk_kit::grpc::bind(own.listen).await?;
        let part = GrpcPart::new("tickets", listener, routes, services)
            .with_outbox_relay(pool, nats, shared.outbox.clone(), waker)
            .with_task("revocation follower", move |shutdown| revocations.run(shutdown))
            .with_task("inbound consumer", move |shutdown| inbound_consumer.run(inbound, shutdown))
            .with_task("identity events consumer", move |shutdown| identity_consumer.run(identity_events, shutdown));
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}
