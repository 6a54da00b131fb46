//! Where a channel is, as intake sees it: a DM with the bot, a configured support channel, a ticket
//! thread or forum post, or somewhere the bot does not take messages from. Learned once per
//! session — from the configuration, chat's own conversations, and at most one
//! `GET /channels/{id}` — because a message fetched by a backfill carries no guild id, and a
//! forum post's title is its ticket's subject.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use serenity::model::{channel::Channel, id::ChannelId};

use crate::{context::Chat, discord_error::is_refusal, store::ConversationKind};

/// How long a message in a new thread of a support channel waits for the thread's conversation:
/// the support channel's lane records it right after Discord created the thread.
const THREAD_RECORDED_WITHIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Dm,
    Support { guild: u64 },
    /// A ticket thread of a support channel (its conversation is chat's).
    Thread,
    /// A post of the forum channel; `title` is the post's name (the new ticket's subject).
    ForumPost { guild: u64, title: String },
    Elsewhere,
}

#[derive(Default)]
pub struct Places {
    known: Mutex<HashMap<u64, Place>>,
}

impl Places {
    pub fn remember(&self, channel: u64, place: Place) {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(channel, place);
    }

    fn known(&self, channel: u64) -> Option<Place> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&channel).cloned()
    }

    /// The place of `channel`; `guild` is the message's guild when the gateway named it (live
    /// messages in guilds; none for DMs and for fetched history).
    pub async fn of(&self, chat: &Chat, channel: u64, guild: Option<u64>) -> anyhow::Result<Place> {
        if let Some(place) = self.known(channel) {
            return Ok(place);
        }
        let place = self.learn(chat, channel, guild).await?;
        self.remember(channel, place.clone());
        Ok(place)
    }

    async fn learn(&self, chat: &Chat, channel: u64, guild: Option<u64>) -> anyhow::Result<Place> {
        let config = &chat.config;
        if let Some(conversation) = chat.store.thread_conversation(channel).await?
            && conversation.kind != ConversationKind::ForumPost
        {
            return Ok(Place::Thread);
        }
        if config.support_channels.contains(&channel)
            && let Some(guild) = guild
        {
            return Ok(Place::Support { guild });
        }
        if guild.is_none() && !config.support_channels.contains(&channel) && chat.store.cursor(channel).await?.is_none() {
            // A live message without a guild is a DM; fetched history of a channel the bot never
            // took from is not paged at all, so this is the gateway speaking.
            return Ok(Place::Dm);
        }
        let found = match chat.http.get_channel(ChannelId::new(channel)).await {
            Ok(found) => found,
            Err(error) if is_refusal(&error) => return Ok(Place::Elsewhere),
            Err(error) => return Err(anyhow::Error::new(error).context("look up the channel")),
        };
        let Channel::Guild(found) = found else {
            return Ok(Place::Dm);
        };
        let guild = found.guild_id.get();
        let parent = found.parent_id.map(|p| p.get());
        if config.support_channels.contains(&channel) {
            Ok(Place::Support { guild })
        } else if parent.is_some() && parent == config.forum_channel {
            Ok(Place::ForumPost { guild, title: found.name })
        } else if parent.is_some_and(|p| config.support_channels.contains(&p)) && self.thread_recorded(chat, channel).await? {
            Ok(Place::Thread)
        } else {
            Ok(Place::Elsewhere)
        }
    }

    /// Whether a thread of a support channel is (or within a moment becomes) a ticket thread.
    async fn thread_recorded(&self, chat: &Chat, channel: u64) -> anyhow::Result<bool> {
        let deadline = tokio::time::Instant::now() + THREAD_RECORDED_WITHIN;
        loop {
            if chat.store.thread_conversation(channel).await?.is_some() {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
