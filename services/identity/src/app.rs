//! Wiring of the identity service: key material, its Postgres schema, NATS and the outbox relay,
//! and the gRPC server with the caller-token interceptor in front of every handler.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use helpdesk_kit::{
    auth::{Authenticate, TokenSigner, TokenVerifier, keys},
    config::Config,
    db,
    nats::Nats,
    outbox,
    part::GrpcPart,
    CancellationToken,
};
use helpdesk_proto::identity::v1::{
    contact_service_server::ContactServiceServer, token_service_server::TokenServiceServer,
};
use tonic::{server::NamedService, service::Routes};

use crate::{
    grpc::{ContactsGrpc, TokensGrpc},
    store::Store,
};

pub const SCHEMA: &str = "identity";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let key_dir = &config.auth.key_dir;
        keys::ensure(key_dir)?;
        let signer = Arc::new(TokenSigner::from_pem(
            &keys::signing_pem(key_dir)?,
            Duration::from_secs(config.auth.token_ttl_secs),
        )?);
        let verify_pem = keys::verify_pem(key_dir)?;
        let verifier = Arc::new(TokenVerifier::from_pem(&verify_pem)?);
        let service_secret = keys::service_secret(key_dir)?;

        let pool = db::connect_and_migrate(&config.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&config.nats).await?;
        let waker = outbox::Waker::default();
        let store = Store::new(pool.clone(), waker.clone());

        let auth = Authenticate::new(verifier);
        let tokens = TokensGrpc::new(store.clone(), signer, service_secret, String::from_utf8(verify_pem)?);
        let routes = Routes::new(TokenServiceServer::with_interceptor(tokens, auth.clone()))
            .add_service(ContactServiceServer::with_interceptor(ContactsGrpc::new(store), auth));
        let services = vec![
            <TokenServiceServer<TokensGrpc> as NamedService>::NAME,
            <ContactServiceServer<ContactsGrpc> as NamedService>::NAME,
        ];
        let listener = helpdesk_kit::grpc::bind(config.identity.listen).await?;
        let part = GrpcPart::new("identity", listener, routes, services)
            .with_outbox_relay(pool, nats, config.outbox.clone(), waker);
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}
