//! The bot's gateway connection, held by one replica at a time. A replica takes the lease
//! (`kit::lease`, one key for the bot in the chat leases bucket, expiring after `lease_secs`),
//! connects a `serenity::Client` while it holds it and renews it every third of that time.
//! Losing the lease (a renewal refused, or none succeeding for two thirds of it) shuts the client
//! down at once, so two replicas never take in messages side by side for longer than a renewal;
//! a replica that cannot get the lease waits and tries again, so it takes over when the holder
//! stops renewing (a crash, a SIGKILL) and its READY backfills the gap. Shutdown closes the
//! client and releases the lease, so another replica may take over at once.
//!
//! `handler` routes gateway events; `crate::intake` takes messages in.

mod handler;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use helpdesk_kit::{
    CancellationToken,
    lease::{Lease, Leases},
};
use serenity::{all::GatewayIntents, client::ClientBuilder};

use crate::{
    context::Chat,
    intake::{Intake, lanes::Lanes},
};

/// The lease's name: one bot, one gateway connection.
const BOT_LEASE: &str = "discord-bot";
/// How long a client may take to close after it was told to.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);
const LONGEST_BACKOFF: Duration = Duration::from_secs(60);

/// Holds the connection whenever this replica has the lease, until `shutdown`.
pub async fn run(chat: Arc<Chat>, shutdown: CancellationToken) {
    let ttl = Duration::from_secs(chat.config.lease_secs.max(3));
    let mut backoff = Duration::from_secs(1);
    let mut leases = None;
    while !shutdown.is_cancelled() {
        let wait = match hold_once(&chat, &mut leases, ttl, &shutdown).await {
            Ok(Held::NotOurs) => ttl / 3,
            Ok(Held::Ended) => {
                backoff = Duration::from_secs(1);
                backoff
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "discord connection failed; trying again");
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

enum Held {
    /// Another replica holds the lease.
    NotOurs,
    /// The connection ran and ended (lease lost, client stopped, or shutdown).
    Ended,
}

async fn hold_once(chat: &Arc<Chat>, leases: &mut Option<Leases>, ttl: Duration, shutdown: &CancellationToken) -> anyhow::Result<Held> {
    if leases.is_none() {
        *leases = Some(Leases::open(&chat.nats, chat.nats.subjects.chat_leases_bucket(), ttl).await.context("open the chat leases bucket")?);
    }
    let Some(leases) = leases.as_ref() else { return Ok(Held::NotOurs) };
    let Some(mut lease) = leases.acquire(BOT_LEASE).await.context("take the bot's lease")? else {
        return Ok(Held::NotOurs);
    };
    tracing::info!("holding the discord connection");
    let connected = connect(chat, leases, &mut lease, ttl, shutdown).await;
    leases.release(lease).await;
    tracing::info!("discord connection released");
    connected.map(|()| Held::Ended)
}

/// Runs a client until it ends, the lease is lost, or shutdown.
async fn connect(chat: &Arc<Chat>, leases: &Leases, lease: &mut Lease, ttl: Duration, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let session = shutdown.child_token();
    let _stop_lanes = session.clone().drop_guard();
    let lanes = Lanes::new(Arc::new(Intake::new(chat.clone())?), session.clone());
    let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    let mut client = ClientBuilder::new_with_http(crate::app::discord_http(&chat.config), intents)
        .event_handler(handler::Handler::new(lanes))
        .await
        .context("build the discord client")?;
    let shards = client.shard_manager.clone();
    let mut running = std::pin::pin!(client.start());
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + ttl / 3, ttl / 3);
    let mut renewed_at = Instant::now();
    let ended = loop {
        tokio::select! {
            ended = &mut running => break Some(ended),
            () = session.cancelled() => break None,
            _ = renewals.tick() => match leases.renew(lease).await {
                Ok(true) => renewed_at = Instant::now(),
                Ok(false) => {
                    tracing::warn!("the discord lease was taken by another replica; disconnecting");
                    break None;
                }
                Err(error) if renewed_at.elapsed() >= ttl * 2 / 3 => {
                    tracing::warn!(error = format!("{error:#}"), "the discord lease could not be renewed in time; disconnecting");
                    break None;
                }
                Err(error) => tracing::warn!(error = format!("{error:#}"), "the discord lease was not renewed; trying again"),
            },
        }
    };
    session.cancel();
    let ended = match ended {
        Some(ended) => ended,
        None => {
            shards.shutdown_all().await;
            match tokio::time::timeout(CLOSE_WITHIN, &mut running).await {
                Ok(ended) => ended,
                Err(_) => {
                    tracing::warn!("the discord client did not close in time");
                    Ok(())
                }
            }
        }
    };
    ended.context("the discord client stopped")
}
