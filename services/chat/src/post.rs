//! Posting one thing safely to one Discord channel: the text cut into parts of at most 2,000
//! characters (`split`), each part its own message with a nonce derived from (source, part) and
//! `enforce_nonce`, and each posted part recorded in the outbound ledger before the next, so a
//! redelivered event posts only what is missing — Discord's nonce covers the gap between posting
//! and recording, the ledger everything after Discord's nonce window. Files and buttons go on the
//! last part. Mentions are never parsed: an agent's `@everyone` pings nobody.
//!
//! 429s are waited out (`discord_error::retry_rate_limited`); an archived thread is unarchived and
//! the part posted again; a refusal that asking again cannot change (missing permission, the
//! thread deleted, the DM closed) is handed back as [`Posted::Refused`] for the caller to note on
//! the ticket; anything that may pass is a retry of the event.

mod split;

use helpdesk_kit::consumer::Failure;
use serenity::{
    builder::{CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateMessage, EditThread},
    model::{channel::Nonce, id::ChannelId},
};
use uuid::Uuid;

pub use split::MAX_MESSAGE_LEN;

use crate::{
    context::Chat,
    discord_error::{DiscordFailure, retry_rate_limited},
    store::PostedPart,
};

/// Something to post: its text, and the files and buttons its last part carries.
pub struct Post {
    /// What asks for the post: the ticket message it shows, or the event of a line of the bot's
    /// own. Nonces and the ledger are keyed by it.
    pub source: Uuid,
    pub ticket: Uuid,
    pub channel: u64,
    pub text: String,
    pub files: Vec<CreateAttachment>,
    pub components: Vec<CreateActionRow>,
}

/// What became of a post.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Posted {
    /// Every part is on Discord (now or from an earlier delivery).
    Done,
    /// Discord refuses it for good: missing permission, unknown channel, DMs closed.
    Refused(DiscordFailure),
}

pub async fn post(chat: &Chat, post: Post) -> Result<Posted, Failure> {
    let parts = split::split(&post.text, MAX_MESSAGE_LEN);
    let last = parts.len().saturating_sub(1);
    // A post of files alone still needs a message to carry them.
    let parts = if parts.is_empty() { vec![""] } else { parts };
    for (index, content) in parts.into_iter().enumerate() {
        if chat.store.posted_part(post.source, index).await?.is_some() {
            continue;
        }
        let mut message = CreateMessage::new()
            .content(content)
            .nonce(Nonce::String(split::nonce(post.source, index)))
            .enforce_nonce(true)
            .allowed_mentions(CreateAllowedMentions::new());
        if index == last {
            message = message.add_files(post.files.iter().cloned()).components(post.components.clone());
        }
        let discord_message = match send(chat, post.channel, &message).await {
            Ok(id) => id,
            Err(DiscordFailure::ArchivedThread) => {
                unarchive(chat, post.channel).await?;
                match send(chat, post.channel, &message).await {
                    Ok(id) => id,
                    Err(failure) => return outcome_of(failure, &post),
                }
            }
            Err(failure) => return outcome_of(failure, &post),
        };
        let posted = PostedPart { source: post.source, part: index, ticket: post.ticket, channel: post.channel, discord_message };
        chat.store.record_posted(&posted).await?;
    }
    Ok(Posted::Done)
}

/// One part to the channel, 429s waited out: the Discord message id, or why not.
async fn send(chat: &Chat, channel: u64, message: &CreateMessage) -> Result<u64, DiscordFailure> {
    let channel = ChannelId::new(channel);
    let sent = retry_rate_limited(|| channel.send_message(&chat.http, message.clone())).await;
    sent.map(|m| m.id.get()).map_err(|error| {
        let failure = DiscordFailure::of(&error);
        tracing::warn!(%channel, ?failure, "Discord did not take a message: {error}");
        failure
    })
}

/// Opens an archived thread again (`PATCH archived=false`); its name and tags stay.
async fn unarchive(chat: &Chat, thread: u64) -> Result<(), Failure> {
    let thread = ChannelId::new(thread);
    tracing::info!(%thread, "unarchiving a ticket thread to post in it");
    retry_rate_limited(|| thread.edit_thread(&chat.http, EditThread::new().archived(false)))
        .await
        .map(drop)
        .map_err(|error| Failure::retry(format!("unarchiving thread {thread}: {error}")))
}

/// A failure of one part as the event's outcome.
fn outcome_of(failure: DiscordFailure, post: &Post) -> Result<Posted, Failure> {
    match failure {
        DiscordFailure::MissingPermission | DiscordFailure::UnknownChannel | DiscordFailure::CannotDm => Ok(Posted::Refused(failure)),
        failure if failure.may_pass() || failure == DiscordFailure::ArchivedThread => Err(Failure::retry(format!("posting to channel {}: {failure:?}", post.channel))),
        failure => Err(Failure::poison(format!("Discord refused a post to channel {} ({failure:?})", post.channel))),
    }
}
