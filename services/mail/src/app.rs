//! Wiring of the mail part: its schema (`mail`) and migrations, NATS, the SMTP sender, the
//! consumers of account mail and ticket mail, one reader per configured mailbox, and the admin
//! gRPC server (quarantined mail) behind the caller-token interceptor.

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Duration};

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
    lease::Leases,
    nats::Nats,
    part::GrpcPart,
};
use helpdesk_proto::{
    identity::v1::contact_service_client::ContactServiceClient,
    mail::v1::mail_admin_service_server::MailAdminServiceServer,
    tickets::v1::ticket_service_client::TicketServiceClient,
};
use tonic::{server::NamedService, service::Routes};

use crate::{
    config::MailConfig,
    domain::inbound::Limits,
    events::{
        self, AccountMailConsumer,
        ticket_mail::{self, TicketMail},
    },
    grpc::MailAdmin,
    ingest::Ingest,
    mailbox,
    sender::Sender,
    store::{Ledger, Mailboxes},
};

pub const SCHEMA: &str = "mail";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    /// Builds the mail part from the shared sections and its own `[mail]` section.
    pub async fn build(shared: &SharedConfig, own: MailConfig) -> anyhow::Result<Self> {
        check_mailboxes(&own)?;
        let verifier = Arc::new(TokenVerifier::from_pem(&keys::verify_pem(&shared.auth.key_dir)?)?);
        let pool = db::connect_and_migrate(&shared.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&shared.nats).await?;
        let account_mail = AccountMailConsumer {
            ledger: Ledger::new(pool.clone()),
            sender: Sender::new(&own)?,
            message_id_domain: own.message_id_domain.clone(),
            site_name: own.from_name.clone(),
        };
        let account_consumer = Consumer::bind(&nats, events::durable(&nats.subjects, own.max_deliver, Duration::from_secs(own.ack_wait_secs))).await?;
        tracing::info!(host = %own.smtp_host, port = own.smtp_port, "mail sender ready");
        let lazy = |url: &str| -> anyhow::Result<tonic::transport::Channel> {
            Ok(tonic::transport::Endpoint::from_shared(url.to_string())?
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy())
        };
        let identity = lazy(&shared.endpoints.identity)?;
        let secret = keys::service_secret(&shared.auth.key_dir)?;
        let tokens = Arc::new(ServiceTokens::new(identity.clone(), "mail", secret.clone()));
        let revocations = Follower::start(verifier.revocations(), &nats, Source::identity(identity.clone(), tokens.clone())).await?;
        let ticket_mail = TicketMail {
            ledger: Ledger::new(pool.clone()),
            sender: Arc::new(Sender::new(&own)?),
            tickets: TicketServiceClient::new(lazy(&shared.endpoints.tickets)?),
            contacts: ContactServiceClient::new(identity.clone()),
            tokens,
            reply_secret: secret,
            config: own.clone(),
        };
        let ticket_consumer = Consumer::bind(&nats, ticket_mail::durable(&nats.subjects, &own)).await?;

        let own_addresses = std::iter::once(own.from_address.clone())
            .chain(own.mailboxes.iter().map(|m| m.address.clone()))
            .collect();
        let ingest = Arc::new(Ingest {
            blobs: BlobStore::from_config(&shared.blob)?,
            jetstream: nats.jetstream.clone(),
            subjects: nats.subjects.clone(),
            limits: Limits { max_bytes: own.inbound_max_bytes, ..Limits::default() },
            own_addresses,
        });
        let store = Mailboxes::new(pool.clone());
        let admin = MailAdmin {
            store: store.clone(),
            ingest: ingest.clone(),
            categories: own.mailboxes.iter().map(|m| (m.name.clone(), m.default_category.clone())).collect(),
        };
        let routes = Routes::new(MailAdminServiceServer::with_interceptor(admin, Authenticate::new(verifier)));
        let services = vec![<MailAdminServiceServer<MailAdmin> as NamedService>::NAME];
        let listener = helpdesk_kit::grpc::bind(own.listen).await?;
        let mut part = GrpcPart::new("mail", listener, routes, services)
            .with_task("revocation follower", move |shutdown| revocations.run(shutdown))
            .with_task("account mail", move |shutdown| account_consumer.run(account_mail, shutdown))
            .with_task("ticket mail", move |shutdown| ticket_consumer.run(ticket_mail, shutdown));
        if !own.mailboxes.is_empty() {
            let lease_ttl = Duration::from_secs(own.imap_lease_secs.max(3));
            let readers = Arc::new(mailbox::Shared {
                ingest,
                store,
                leases: Leases::open(&nats, nats.subjects.mail_leases_bucket(), lease_ttl).await?,
                settings: mailbox::Settings {
                    batch: own.imap_batch.max(1),
                    wait: Duration::from_secs(own.imap_poll_secs.max(1)).min(lease_ttl / 3),
                    timeout: Duration::from_secs(own.imap_timeout_secs.max(1)),
                },
            });
            for mailbox in own.mailboxes {
                let readers = readers.clone();
                part = part.with_task("mailbox reader", move |shutdown| mailbox::run(mailbox, readers, shutdown));
            }
        }
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}

/// Every mailbox needs a unique name (its cursor and lease key) and its support address.
fn check_mailboxes(own: &MailConfig) -> anyhow::Result<()> {
    let mut names = HashSet::new();
    for mailbox in &own.mailboxes {
        anyhow::ensure!(!mailbox.name.trim().is_empty(), "every [[mail.mailboxes]] needs a name");
        anyhow::ensure!(names.insert(mailbox.name.as_str()), "two mailboxes are named {}", mailbox.name);
        anyhow::ensure!(mailbox.address.contains('@'), "mailbox {}: `address` must be its support address", mailbox.name);
    }
    Ok(())
}
