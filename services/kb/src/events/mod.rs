//! Keeping this instance's search index current. At start the instance subscribes to the kb
//! service's own `ArticleChanged` events and only then loads every article from Postgres, so a
//! change committed during the load is either in the load or in the subscription (applying it twice
//! is harmless). Each instance follows the events with its own ordered consumer — ephemeral,
//! unacknowledged, recreated by the client on a gap — rather than a shared durable one, because
//! every replica must see every event, not one of them. An event only names the article: the
//! follower re-reads it from Postgres, so order and duplicates do not matter and the index always
//! converges on the database. If the subscription is lost the follower resubscribes and reloads.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use futures::{FutureExt, Stream, StreamExt};
use helpdesk_kit::{CancellationToken, nats::Nats};
use helpdesk_proto::events::v1::{ArticleChanged, Event, event::Payload};
use prost::Message;
use uuid::Uuid;

use crate::{
    domain::plain_text,
    index::{Change, IndexedArticle, SearchIndex},
    store::{Article, Store},
};

/// Events applied in one index commit at most.
const BATCH: usize = 512;

pub fn indexed(article: &Article) -> IndexedArticle {
    IndexedArticle {
        id: article.id,
        slug: article.slug.clone(),
        title: article.title.clone(),
        text: plain_text(&article.body_markdown),
        tags: article.tags.clone(),
        status: article.status,
        visibility: article.visibility,
    }
}

/// Brings index entries in line with Postgres; shared by the event follower and the handlers
/// (which refresh right after their own writes, so the writer reads its writes at once).
#[derive(Clone)]
pub struct Indexer {
    store: Store,
    index: Arc<SearchIndex>,
}

impl Indexer {
    pub fn new(store: Store, index: Arc<SearchIndex>) -> Self {
        Self { store, index }
    }

    /// Re-reads these articles and updates or removes their entries, in one commit.
    #[tracing::instrument(skip_all, fields(articles = ids.len()), err)]
    pub async fn refresh(&self, ids: &BTreeSet<Uuid>) -> anyhow::Result<()> {
        let mut changes = Vec::with_capacity(ids.len());
        for id in ids {
            changes.push(match self.store.by_id(*id).await? {
                Some(article) => Change::Upsert(indexed(&article)),
                None => Change::Remove(*id),
            });
        }
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.apply(&changes)).await??;
        Ok(())
    }

    /// Replaces the index with every article in Postgres.
    #[tracing::instrument(skip_all, err)]
    pub async fn rebuild(&self) -> anyhow::Result<usize> {
        let articles = self.store.all().await?;
        let index = self.index.clone();
        let count = tokio::task::spawn_blocking(move || index.replace_all(articles.iter().map(indexed))).await??;
        tracing::info!(articles = count, "search index rebuilt from Postgres");
        Ok(count)
    }
}

type Events = std::pin::Pin<Box<dyn Stream<Item = anyhow::Result<jetstream::Message>> + Send>>;

/// Follows `ArticleChanged` for one instance.
pub struct Follower {
    indexer: Indexer,
    nats: Nats,
    events: Events,
}

async fn subscribe(nats: &Nats) -> anyhow::Result<Events> {
    let stream = nats.jetstream.get_stream(nats.subjects.events_stream()).await?;
    let subject = helpdesk_kit::events::subject_of(&nats.subjects, &Payload::ArticleChanged(ArticleChanged::default()));
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subject,
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await?;
    let messages = consumer.messages().await?;
    Ok(Box::pin(messages.map(|m| m.map_err(anyhow::Error::from))))
}

fn article_id(message: &jetstream::Message) -> Option<Uuid> {
    match Event::decode(message.payload.as_ref()) {
        Ok(Event { payload: Some(Payload::ArticleChanged(changed)), .. }) => Uuid::parse_str(&changed.article_id).ok(),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, subject = %message.subject, "ignoring an undecodable event");
            None
        }
    }
}

impl Follower {
    /// Subscribes, then loads the index: when this returns the index is complete and current.
    pub async fn start(indexer: Indexer, nats: Nats) -> anyhow::Result<Self> {
        let events = subscribe(&nats).await?;
        indexer.rebuild().await?;
        Ok(Self { indexer, nats, events })
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = self.events.next() => next,
            };
            let outcome = match first {
                Some(Ok(message)) => self.apply_batch(message).await,
                Some(Err(error)) => Err(error),
                None => Err(anyhow::anyhow!("the event subscription ended")),
            };
            match outcome {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "index follower: resubscribing and reloading");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200) * failures.min(25)) => {}
                    }
                    if let Err(error) = self.resubscribe().await {
                        tracing::warn!(%error, "index follower could not resubscribe yet");
                    }
                }
            }
        }
    }

    /// The message just received and whatever else is already waiting, in one commit.
    async fn apply_batch(&mut self, first: jetstream::Message) -> anyhow::Result<()> {
        let mut ids: BTreeSet<Uuid> = article_id(&first).into_iter().collect();
        let mut seen = 1;
        while seen < BATCH {
            match self.events.next().now_or_never() {
                Some(Some(Ok(message))) => ids.extend(article_id(&message)),
                Some(Some(Err(error))) => return Err(error),
                Some(None) | None => break,
            }
            seen += 1;
        }
        self.indexer.refresh(&ids).await
    }

    async fn resubscribe(&mut self) -> anyhow::Result<()> {
        self.events = subscribe(&self.nats).await?;
        self.indexer.rebuild().await?;
        Ok(())
    }
}
