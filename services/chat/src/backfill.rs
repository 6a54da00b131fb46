//! Backfill: what arrived while the bot was not connected. serenity starts every process with no
//! gateway session and Discord replays nothing to a new one, so on every READY (and RESUMED) each
//! open conversation's channel and each support channel is paged from its mark with
//! `GET /channels/{id}/messages?after=<mark>&limit=100` until a page comes back empty. The pages go
//! through the channel's lane like live messages (`intake::lanes`), oldest first, so a channel's
//! history and its live feed never race.

use std::collections::BTreeSet;

use anyhow::Context as _;
use serenity::{builder::GetMessages, model::channel::Message, model::id::ChannelId};

use crate::{
    context::Chat,
    discord_error::is_refusal,
    intake::lanes::{Job, Lanes},
};

/// Discord's largest page of channel history.
const PAGE: u8 = 100;

/// Queues a backfill on the lane of every channel that may have missed messages.
pub async fn after_connecting(lanes: &Lanes) -> anyhow::Result<()> {
    let chat = lanes.intake().chat();
    let mut channels: BTreeSet<u64> = chat.store.open_conversation_channels().await?.into_iter().collect();
    channels.extend(chat.config.support_channels.iter().copied());
    tracing::info!(channels = channels.len(), "backfilling after connecting");
    for channel in channels {
        lanes.push(channel, Job::Backfill);
    }
    Ok(())
}

/// The next page of `channel`'s history after message `after`, oldest first (Discord answers
/// newest first).
pub async fn page_after(chat: &Chat, channel: u64, after: u64) -> anyhow::Result<Vec<Message>> {
    let mut page = match ChannelId::new(channel).messages(&*chat.http, GetMessages::new().after(after).limit(PAGE)).await {
        Ok(page) => page,
        Err(error) if is_refusal(&error) => {
            tracing::warn!(channel, error = format!("{error:#}"), "not paging a channel Discord refuses to show the bot");
            Vec::new()
        }
        Err(error) => return Err(error).with_context(|| format!("page the history of channel {channel}")),
    };
    page.sort_by_key(|message| message.id);
    page.retain(|message| message.id.get() > after);
    Ok(page)
}
