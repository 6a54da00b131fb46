//! Wiring of the mail part: its schema (`mail`) and migrations, NATS, the SMTP sender and the
//! account-mail consumer. It serves no gRPC yet, so it has no address.

use std::time::Duration;

use helpdesk_kit::{CancellationToken, config::Config, db, nats::Nats};

use crate::{
    config::MailConfig,
    events::{AccountMailConsumer, durable_consumer},
    sender::Sender,
    store::Ledger,
};

pub const SCHEMA: &str = "mail";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    consumer: AccountMailConsumer,
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
        Ok(Self {
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
        self.consumer.run(shutdown).await;
        Ok(())
    }
}
