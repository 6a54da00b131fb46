//! Intake: a Discord message becomes an `InboundMessage` for tickets — a new ticket or a reply on
//! one — and its conversation is started or continued here.
//!
//! - this module: what one message means where it was posted (a DM, a support channel, a ticket
//!   thread or forum post) and the `InboundMessage` built from it;
//! - `place`: where a channel is, learned once per session;
//! - `attachments`: attachments downloaded into the blob store on receipt;
//! - `changes`: edits and deletes of taken messages, recorded on the ticket;
//! - `lanes`: the per-channel order every message (live or backfilled) goes through.
//!
//! A message is *taken* once the stream stored it: only then does its channel's mark move
//! (`Store::record_taken`). Everything before that is idempotent, so a message seen again — a
//! replayed dispatch, a backfill overlapping the live feed, a retry after a crash — is harmless:
//! its conversation is found again, and the `Nats-Msg-Id` and tickets' (channel, external id) row
//! drop the copy.

mod attachments;
mod changes;
pub mod lanes;
mod place;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use anyhow::Context as _;
use helpdesk_kit::{auth::reply_token, events::timestamp, limits::MAX_MESSAGE_TEXT_BYTES, text::prefix_within};
use helpdesk_proto::events::v1::{InboundChannel, InboundMessage, Sender};
use serenity::model::{
    channel::{Message, MessageType},
    id::ChannelId,
};

use crate::{
    context::Chat,
    discord_error::{THREAD_ALREADY_CREATED, discord_code, is_refusal},
    publish::publish,
    store::{Conversation, ConversationKind, NewConversation},
    threads,
};
pub use changes::{Change, ChangeKind};
use place::{Place, Places};

/// The longest subject taken from a message's first line (a word boundary at most this far).
const SUBJECT_CHARS: usize = 80;

/// What one session of the bot takes in. Built per gateway session: the bot's own user id and the
/// places of channels are learned during it.
pub struct Intake {
    chat: Arc<Chat>,
    downloads: reqwest::Client,
    bot_user: AtomicU64,
    places: Places,
}

impl Intake {
    pub fn new(chat: Arc<Chat>) -> anyhow::Result<Self> {
        Ok(Self {
            downloads: attachments::client()?,
            places: Places::default(),
            bot_user: AtomicU64::new(0),
            chat,
        })
    }

    pub fn chat(&self) -> &Arc<Chat> {
        &self.chat
    }

    /// The bot's own user (from READY): its messages are never taken.
    pub fn set_bot_user(&self, user: u64) {
        self.bot_user.store(user, Ordering::Relaxed);
    }

    /// A forum post the gateway announced (THREAD_CREATE), so its first message needs no lookup.
    pub fn forum_post_created(&self, post: u64, guild: u64, parent: Option<u64>, title: &str) {
        if parent.is_some() && parent == self.chat.config.forum_channel {
            self.places.remember(post, Place::ForumPost { guild, title: title.to_string() });
        }
    }

    /// Takes `message` unless it is a bot's, our own, not a user's text, or posted elsewhere.
    /// An error leaves the message untaken (its channel's mark where it was): the caller retries.
    /// On `last_try` an attachment that still fails to download is left out with a line.
    #[tracing::instrument(skip_all, fields(channel = message.channel_id.get(), message = message.id.get()))]
    pub async fn take(&self, message: &Message, last_try: bool) -> anyhow::Result<()> {
        if !self.is_from_a_person(message) {
            return Ok(());
        }
        let channel = message.channel_id.get();
        let place = self.places.of(&self.chat, channel, message.guild_id.map(|g| g.get())).await?;
        // The conversation, and a forum post's title (a new ticket's subject there).
        let (conversation, title) = match place {
            Place::Elsewhere => return Ok(()),
            Place::Dm => match self.chat.store.open_dm(channel).await? {
                Some(open) => (open, None),
                None => (self.start(message, ConversationKind::Dm, Some(channel), None, None).await?, None),
            },
            Place::Support { guild } => (self.start(message, ConversationKind::Thread, None, Some(channel), Some(guild)).await?, None),
            // The title names the ticket each time the starter message is taken, also again after
            // a crash: a second take with another subject would be another message to tickets.
            Place::ForumPost { guild, title } => match self.chat.store.thread_conversation(channel).await? {
                Some(post) => (post, Some(title)),
                None => {
                    let forum = self.chat.config.forum_channel;
                    (self.start(message, ConversationKind::ForumPost, Some(channel), forum, Some(guild)).await?, Some(title))
                }
            },
            Place::Thread => match self.chat.store.thread_conversation(channel).await? {
                Some(thread) => (thread, None),
                None => return Ok(()),
            },
        };
        let refs = continues(&conversation, message);
        let mut inbound = self.inbound(message, &conversation, refs, last_try).await?;
        if let Some(title) = title.filter(|title| !title.trim().is_empty())
            && inbound.thread_refs.is_empty()
        {
            inbound.subject = subject_of(&title);
        }
        self.hand_over(message, &conversation, &inbound).await
    }

    /// Publishes, opens the ticket thread of a support-channel message (after the publish, so a
    /// reply in the thread can never reach tickets before the message that opened it), and marks
    /// the message taken.
    async fn hand_over(&self, message: &Message, conversation: &Conversation, inbound: &InboundMessage) -> anyhow::Result<()> {
        publish(&self.chat, inbound).await.context("publish to the inbound stream")?;
        if conversation.kind == ConversationKind::Thread
            && conversation.channel_id.is_none()
            && let Some(thread) = self.open_thread(message, &inbound.subject).await?
        {
            self.chat.store.set_channel(conversation.id, thread).await?;
            // The thread's history starts after its root: a backfill pages it from there even
            // when nobody wrote in it before the bot went down.
            self.chat.store.advance_cursor(thread, message.id.get()).await?;
        }
        let channel = message.channel_id.get();
        self.chat.store.record_taken(channel, message.id.get(), conversation.id).await?;
        Ok(())
    }

    fn is_from_a_person(&self, message: &Message) -> bool {
        let ours = message.author.id.get() == self.bot_user.load(Ordering::Relaxed);
        let text = matches!(message.kind, MessageType::Regular | MessageType::InlineReply);
        !message.author.bot && !message.author.system && !ours && message.webhook_id.is_none() && text
    }

    async fn start(
        &self,
        message: &Message,
        kind: ConversationKind,
        channel_id: Option<u64>,
        parent_channel_id: Option<u64>,
        guild_id: Option<u64>,
    ) -> anyhow::Result<Conversation> {
        let new = NewConversation {
            kind,
            channel_id,
            parent_channel_id,
            guild_id,
            root_message_id: message.id.get(),
            user_id: message.author.id.get(),
        };
        Ok(self.chat.store.start_conversation(&new).await?)
    }

    /// The thread of a support-channel message, created from it (or found, when an earlier try
    /// created it already: Discord gives such a thread the message's id). `None` when Discord
    /// refuses for good (no permission to create threads, say): the ticket stands without one, and
    /// the support channel's later messages are not held up behind it.
    async fn open_thread(&self, message: &Message, subject: &str) -> anyhow::Result<Option<u64>> {
        match threads::start_from_message(&self.chat, message.channel_id, message.id, subject).await {
            Ok(thread) => Ok(Some(thread.get())),
            Err(error) if discord_code(&error) == Some(THREAD_ALREADY_CREATED) => {
                let existing = self.chat.http.get_channel(ChannelId::new(message.id.get())).await.context("look up the thread created earlier")?;
                Ok(Some(existing.id().get()))
            }
            Err(error) if is_refusal(&error) => {
                tracing::error!(error = format!("{error:#}"), "Discord refused the ticket thread; the ticket has none");
                Ok(None)
            }
            Err(error) => Err(error).context("create the ticket thread"),
        }
    }

    async fn inbound(&self, message: &Message, conversation: &Conversation, thread_refs: Vec<String>, last_try: bool) -> anyhow::Result<InboundMessage> {
        let source = conversation.guild_id.map_or_else(|| "dm".to_string(), |guild| guild.to_string());
        let mut text = message.content.clone();
        let (attachments, left_out) = attachments::take(&self.chat, &self.downloads, &message.attachments, last_try).await?;
        for line in left_out {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
        }
        let kept = prefix_within(&text, MAX_MESSAGE_TEXT_BYTES).len();
        let text_truncated = kept < text.len();
        text.truncate(kept);
        let subject = match message.content.trim() {
            "" => message.attachments.first().map_or_else(|| "Discord message".to_string(), |a| a.filename.clone()),
            content => subject_of(content),
        };
        let reply_token = match (&thread_refs[..], conversation.ticket_id) {
            ([_, ..], Some(ticket)) => reply_token::sign(&self.chat.reply_secret, ticket),
            _ => String::new(),
        };
        Ok(InboundMessage {
            channel: InboundChannel::Discord as i32,
            source,
            external_id: message.id.get().to_string(),
            sender: Some(Sender {
                address: String::new(),
                handle: message.author.id.get().to_string(),
                display_name: display_name(message),
            }),
            subject,
            text,
            text_truncated,
            attachments,
            thread_refs,
            reply_token,
            received_at: chrono::DateTime::from_timestamp(message.timestamp.unix_timestamp(), 0).map(timestamp),
            ..Default::default()
        })
    }

    /// Records an edit or delete of a message on its ticket (see `changes`).
    pub async fn record_change(&self, change: &Change) -> anyhow::Result<()> {
        changes::record(&self.chat, change).await
    }
}

/// A message continues its conversation unless it is the one that opened it (seen again).
fn continues(conversation: &Conversation, message: &Message) -> Vec<String> {
    if conversation.root_message_id == message.id.get() {
        Vec::new()
    } else {
        vec![conversation.root_message_id.to_string()]
    }
}

/// The name a person goes by where they wrote: their server nickname, their global display name,
/// else their username.
fn display_name(message: &Message) -> String {
    let nick = message.member.as_ref().and_then(|member| member.nick.clone());
    nick.or_else(|| message.author.global_name.clone()).unwrap_or_else(|| message.author.name.clone())
}

/// A ticket subject from text: its first non-empty line, cut at a word boundary near
/// [`SUBJECT_CHARS`].
fn subject_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    if line.chars().count() <= SUBJECT_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(SUBJECT_CHARS).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(space) if space > SUBJECT_CHARS / 2 => cut[..space].trim_end().to_string(),
        _ => cut,
    };
    format!("{at_word}…")
}

#[cfg(test)]
mod tests {
    use super::{SUBJECT_CHARS, subject_of};

    #[test]
    fn a_subject_is_the_first_non_empty_line() {
        assert_eq!(subject_of("\n  My printer is on fire  \nplease help"), "My printer is on fire");
    }

    #[test]
    fn a_long_first_line_is_cut_at_a_word_boundary() {
        let line = "word ".repeat(40);
        let subject = subject_of(&line);
        assert!(subject.ends_with("word…"), "{subject}");
        assert!(subject.chars().count() <= SUBJECT_CHARS + 1, "{subject}");
    }

    #[test]
    fn a_line_without_spaces_is_cut_at_the_limit() {
        let subject = subject_of(&"x".repeat(500));
        assert_eq!(subject.chars().count(), SUBJECT_CHARS + 1);
    }
}
