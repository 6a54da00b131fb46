//! Wiring of the chat part: its schema (`chat`) and migrations, NATS, the Discord REST client,
//! the gRPC clients of tickets and identity, and the two long-running tasks — the bot's gateway
//! connection (one replica at a time) and the reply poster — behind a gRPC server that answers
//! health and reflection only.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use helpdesk_kit::{
    CancellationToken,
    auth::{keys, service_token::ServiceTokens},
    blob::BlobStore,
    config::SharedConfig,
    db,
    nats::Nats,
    part::GrpcPart,
};
use helpdesk_proto::{
    identity::v1::{
        account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
        staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    tickets::v1::{ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient},
};
use secrecy::ExposeSecret;
use serenity::http::{Http, HttpBuilder};
use tonic::service::Routes;

use crate::{config::ChatConfig, connection, context::Chat, outbound, store::Store};

pub const SCHEMA: &str = "chat";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct App {
    part: GrpcPart,
}

impl App {
    /// Builds the chat part from the shared sections and its own `[chat]` section; refuses to
    /// build without a bot token (`ChatConfig::enabled`).
    pub async fn build(shared: &SharedConfig, own: ChatConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(own.enabled(), "the chat part needs a Discord bot token: set [chat] bot_token or HELPDESK_CHAT__BOT_TOKEN");
        let pool = db::connect_and_migrate(&shared.database, SCHEMA, &MIGRATOR).await?;
        let nats = Nats::connect(&shared.nats).await?;
        let lazy = |url: &str| -> anyhow::Result<tonic::transport::Channel> {
            Ok(tonic::transport::Endpoint::from_shared(url.to_string())?
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy())
        };
        let identity = lazy(&shared.endpoints.identity)?;
        let tickets = lazy(&shared.endpoints.tickets)?;
        let secret = keys::service_secret(&shared.auth.key_dir)?;
        let chat = Arc::new(Chat {
            http: Arc::new(discord_http(&own)),
            store: Store::new(pool),
            blobs: BlobStore::from_config(&shared.blob)?,
            tickets: TicketServiceClient::new(tickets.clone()),
            ticket_admin: TicketAdminServiceClient::new(tickets),
            contacts: ContactServiceClient::new(identity.clone()),
            staff: StaffServiceClient::new(identity.clone()),
            token_service: TokenServiceClient::new(identity.clone()),
            tokens: Arc::new(ServiceTokens::new(identity.clone(), "chat", secret.clone())),
            accounts: AccountServiceClient::new(identity),
            reply_secret: secret,
            nats,
            config: own,
        });
        let replies = outbound::Replies::bind(chat.clone()).await?;
        let listener = helpdesk_kit::grpc::bind(chat.config.listen).await?;
        let part = GrpcPart::new("chat", listener, Routes::default(), Vec::new())
            .with_task("discord replies", move |shutdown| replies.run(shutdown))
            .with_task("discord connection", move |shutdown| connection::run(chat, shutdown));
        Ok(Self { part })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.part.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.part.run_until_stopped(shutdown).await
    }
}

/// Discord's REST client. Behind a proxy (or the tests' fake) serenity's rate limiter is off, as
/// serenity requires for proxies; the 429s the proxy answers are waited out by the caller.
pub(crate) fn discord_http(config: &ChatConfig) -> Http {
    let builder = HttpBuilder::new(config.bot_token.expose_secret());
    let api = config.api_url.trim().trim_end_matches('/');
    if api.is_empty() {
        builder.build()
    } else {
        builder.proxy(api).ratelimiter_disabled(true).build()
    }
}
