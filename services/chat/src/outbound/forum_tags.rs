//! A forum post shows its ticket's status and priority as the forum's tags: the forum's tag whose
//! name is the status's name (case-insensitively) and the one named like the priority are applied
//! (`PATCH /channels/{post}` `applied_tags`), tags named like another status or priority are taken
//! off, and tags of the user's own choosing stay (within Discord's 5). The post is never renamed
//! (Discord allows two renames in ten minutes). Tags are a courtesy: a forum without matching
//! tags, or a bot that may not edit the post, leaves them as they are.

use std::collections::HashSet;

use helpdesk_kit::consumer::Failure;
use serenity::{builder::EditThread, model::id::ChannelId};
use uuid::Uuid;

use super::peers::Peers;
use crate::{
    context::Chat,
    discord_error::{DiscordFailure, retry_rate_limited},
    store::Conversation,
};

/// Discord's limit on a forum post's tags.
const MAX_APPLIED_TAGS: usize = 5;

pub async fn show_ticket(chat: &Chat, peers: &Peers<'_>, conversation: &Conversation, ticket: Uuid) -> Result<(), Failure> {
    let (Some(post), Some(forum)) = (conversation.channel_id, conversation.parent_channel_id.or(chat.config.forum_channel)) else {
        return Ok(());
    };
    let ticket = peers.ticket(ticket).await?;
    let wanted: HashSet<String> = [ticket.status.map(|s| s.name), ticket.priority.map(|p| p.name)]
        .into_iter()
        .flatten()
        .map(|name| name.to_lowercase())
        .collect();
    let managed: HashSet<String> = peers
        .statuses()
        .await?
        .into_iter()
        .map(|s| s.name)
        .chain(peers.priorities().await?.into_iter().map(|p| p.name))
        .map(|name| name.to_lowercase())
        .collect();
    let (Some(forum), Some(post)) = (guild_channel(chat, forum).await?, guild_channel(chat, post).await?) else {
        return Ok(());
    };
    let name_of = |id| forum.available_tags.iter().find(|t| t.id == id).map(|t| t.name.to_lowercase());
    let mut applied: Vec<_> = forum.available_tags.iter().filter(|t| wanted.contains(&t.name.to_lowercase())).map(|t| t.id).collect();
    for kept in post.applied_tags.iter().copied().filter(|id| name_of(*id).is_none_or(|name| !managed.contains(&name))) {
        if !applied.contains(&kept) {
            applied.push(kept);
        }
    }
    applied.truncate(MAX_APPLIED_TAGS);
    let unchanged = applied.len() == post.applied_tags.len() && applied.iter().all(|id| post.applied_tags.contains(id));
    if unchanged {
        return Ok(());
    }
    let edited = retry_rate_limited(|| post.id.edit_thread(&chat.http, EditThread::new().applied_tags(applied.clone()))).await;
    match edited.map_err(|e| (DiscordFailure::of(&e), e)) {
        Ok(_) => Ok(()),
        Err((failure, error)) if failure.may_pass() => Err(Failure::retry(format!("setting the tags of forum post {}: {error}", post.id))),
        Err((_, error)) => {
            tracing::warn!(post = %post.id, "the forum post's tags were left as they are: {error}");
            Ok(())
        }
    }
}

/// A guild channel (forum, forum post) as Discord describes it; `None` when Discord will not say.
async fn guild_channel(chat: &Chat, channel: u64) -> Result<Option<serenity::model::channel::GuildChannel>, Failure> {
    match retry_rate_limited(|| ChannelId::new(channel).to_channel(&chat.http)).await {
        Ok(channel) => Ok(channel.guild()),
        Err(error) if DiscordFailure::of(&error).may_pass() => Err(Failure::retry(format!("reading channel {channel}: {error}"))),
        Err(error) => {
            tracing::warn!(channel, "Discord did not describe the channel; its tags stay: {error}");
            Ok(None)
        }
    }
}
