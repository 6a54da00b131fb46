//! Wiring of the identity service: key material, its Postgres schema, NATS and the outbox relay,
//! and the gRPC server with the caller-token interceptor in front of every handler.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use helpdesk_kit::{
    auth::{
        Authenticate, TokenSigner, TokenVerifier, keys,
        revocations::{Follower, Source},
    },
    config::SharedConfig,
    db,
    nats::Nats,
    outbox,
    part::GrpcPart,
    CancellationToken,
};
use helpdesk_proto::identity::v1::{
    account_service_server::AccountServiceServer, contact_service_server::ContactServiceServer,
    group_service_server::GroupServiceServer, settings_service_server::SettingsServiceServer,
    sso_service_server::SsoServiceServer, staff_service_server::StaffServiceServer,
    token_service_server::TokenServiceServer,
};
use tonic::{server::NamedService, service::Routes};

use crate::{
    config::IdentityConfig,
    domain::captcha::Captcha,
    grpc::{AccountsGrpc, ContactsGrpc, GroupsGrpc, SettingsGrpc, SsoGrpc, StaffGrpc, TokensGrpc},
    sso::Providers,
    store::Store,
};

pub const SCHEMA: &str = "identity";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    /// Builds identity from the shared sections and its own `[identity]` section.
    pub async fn build(shared: &SharedConfig, own: IdentityConfig) -> anyhow::Result<Self> {
        let key_dir = &shared.auth.key_dir;
        keys::ensure(key_dir)?;
        let signer = Arc::new(TokenSigner::from_pem(
            &keys::signing_pem(key_dir)?,
            Duration::from_secs(shared.auth.token_ttl_secs),
        )?);
        let verify_pem = keys::verify_pem(key_dir)?;
        let verifier = Arc::new(TokenVerifier::from_pem(&verify_pem)?);
        let service_secret = keys::service_secret(key_dir)?;

        let pool = db::connect_and_migrate(&shared.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&shared.nats).await?;
        let waker = outbox::Waker::default();
        let store = Store::new(pool.clone(), waker.clone());

        // Identity's own interceptor refuses revoked subjects too; it reads the list from its table.
        let token_ttl = chrono::Duration::seconds(i64::try_from(shared.auth.token_ttl_secs).unwrap_or(i64::MAX / 1000));
        let list = store.clone();
        let source = Source::new(move || {
            let list = list.clone();
            async move { Ok(list.revocations(token_ttl).await?) }
        });
        let revocations = Follower::start(verifier.revocations(), &nats, source).await?;
        let auth = Authenticate::new(verifier);
        let captcha = Arc::new(Captcha::new(&service_secret, own.captcha_max_counter, chrono::Duration::minutes(10)));
        let providers = Arc::new(Providers::new(own.sso.clone())?);
        let listen = own.listen;
        let accounts = AccountsGrpc::new(store.clone(), signer.clone(), own, captcha);
        let sso = SsoGrpc::new(accounts.clone(), providers);
        let tokens = TokensGrpc::new(store.clone(), signer, token_ttl, service_secret, String::from_utf8(verify_pem)?);
        let routes = Routes::new(TokenServiceServer::with_interceptor(tokens, auth.clone()))
            .add_service(ContactServiceServer::with_interceptor(ContactsGrpc::new(store.clone()), auth.clone()))
            .add_service(StaffServiceServer::with_interceptor(StaffGrpc::new(store.clone()), auth.clone()))
            .add_service(AccountServiceServer::with_interceptor(accounts, auth.clone()))
            .add_service(SsoServiceServer::with_interceptor(sso, auth.clone()))
            .add_service(SettingsServiceServer::with_interceptor(SettingsGrpc::new(store.clone()), auth.clone()))
            .add_service(GroupServiceServer::with_interceptor(GroupsGrpc::new(store.clone()), auth));
        let services = vec![
            <TokenServiceServer<TokensGrpc> as NamedService>::NAME,
            <ContactServiceServer<ContactsGrpc> as NamedService>::NAME,
            <StaffServiceServer<StaffGrpc> as NamedService>::NAME,
            <AccountServiceServer<AccountsGrpc> as NamedService>::NAME,
            <SsoServiceServer<SsoGrpc> as NamedService>::NAME,
            <SettingsServiceServer<SettingsGrpc> as NamedService>::NAME,
            <GroupServiceServer<GroupsGrpc> as NamedService>::NAME,
        ];
        let listener = helpdesk_kit::grpc::bind(listen).await?;
        let part = GrpcPart::new("identity", listener, routes, services)
            .with_outbox_relay(pool, nats, shared.outbox.clone(), waker)
            .with_task("revocation follower", move |shutdown| revocations.run(shutdown))
            .with_task("session sweeper", move |shutdown| sweep_sessions(store, shutdown));
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}

/// Deletes expired sessions hourly; they are refused anyway, this only keeps the table small.
async fn sweep_sessions(store: Store, shutdown: CancellationToken) {
    loop {
        match store.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(count = n, "expired sessions removed"),
            Err(error) => tracing::warn!(%error, "could not remove expired sessions"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
