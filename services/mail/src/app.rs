//! Wiring of the mail part: its schema (`mail`) and migrations, NATS, the SMTP sender, and the
//! consumers of account mail and ticket mail. It serves no gRPC yet, so it has no address.

use std::time::Duration;

use std::sync::Arc;

use helpdesk_kit::{
    CancellationToken,
    auth::{keys, service_token::ServiceTokens},
    config::Config,
    db,
    nats::Nats,
};
use helpdesk_proto::{
    identity::v1::contact_service_client::ContactServiceClient,
    tickets::v1::ticket_service_client::TicketServiceClient,
};

use crate::{
    config::MailConfig,
    events::{
        AccountMailConsumer, durable_consumer,
        ticket_mail::{self, TicketMail},
    },
    sender::Sender,
    store::Ledger,
};

pub const SCHEMA: &str = "mail";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    consumer: AccountMailConsumer,
    ticket_mail: TicketMail,
    ticket_consumer: async_nats::jetstream::consumer::PullConsumer,
}

impl App {
    /// Builds with the `[mail]` settings from the environment (`HELPDESK_MAIL__…`).
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let own = MailConfig::load(None).map_err(|e| anyhow::anyhow!("mail configuration: {e}"))?;
        Self::build_with(config, own).await
    }

    pub async fn build_with(config: &Config, own: MailConfig) -> anyhow::Result<Self> {
        let pool = db::connect_and_migrate(&config.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&config.nats).await?;
        let consumer = durable_consumer(&nats, own.max_deliver, Duration::from_secs(own.ack_wait_secs)).await?;
        let sender = Sender::new(&own)?;
        tracing::info!(host = %own.smtp_host, port = own.smtp_port, "mail sender ready");
        let lazy = |url: &str| -> anyhow::Result<tonic::transport::Channel> {
            Ok(tonic::transport::Endpoint::from_shared(url.to_string())?
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy())
        };
        let identity = lazy(&config.endpoints.identity)?;
        let secret = keys::service_secret(&config.auth.key_dir)?;
        let ticket_mail = TicketMail {
            ledger: Ledger::new(pool.clone()),
            sender: Arc::new(Sender::new(&own)?),
            tickets: TicketServiceClient::new(lazy(&config.endpoints.tickets)?),
            contacts: ContactServiceClient::new(identity.clone()),
            tokens: Arc::new(ServiceTokens::new(identity, "mail", secret.clone())),
            reply_secret: secret,
            config: own.clone(),
        };
        let ticket_consumer = ticket_mail::durable_consumer(&nats, &own).await?;
        Ok(Self {
            ticket_mail,
            ticket_consumer,
            consumer: AccountMailConsumer {
                consumer,
                ledger: Ledger::new(pool),
                sender,
                message_id_domain: own.message_id_domain.clone(),
                site_name: own.from_name.clone(),
                max_deliver: own.max_deliver,
            },
        })
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ticket_mail = tokio::spawn(self.ticket_mail.run(self.ticket_consumer, shutdown.clone()));
        self.consumer.run(shutdown).await;
        ticket_mail.await?;
        Ok(())
    }
}
