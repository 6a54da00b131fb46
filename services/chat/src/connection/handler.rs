//! Routing of the gateway's events: READY (and RESUMED, and a shard leaving the connected stage)
//! → a new backfill epoch, and on READY the slash commands; messages, edits and deletes → their
//! channel's lane; a new forum post → remembered, and its lane backfilled; interactions → the
//! commands. serenity runs each event on a task of its own, so order is restored by the lanes,
//! not here.

use serenity::{
    all::{ConnectionStage, Context, EventHandler, GuildChannel, Interaction, Message, MessageUpdateEvent, Ready, ResumedEvent, ShardStageUpdateEvent},
    async_trait,
    model::id::{ChannelId, GuildId, MessageId},
};

use crate::{
    backfill, commands,
    intake::{
        Change, ChangeKind,
        lanes::{Job, Lanes},
    },
};

pub struct Handler {
    lanes: Lanes,
}

impl Handler {
    pub fn new(lanes: Lanes) -> Self {
        Self { lanes }
    }

    async fn backfill(&self) {
        self.lanes.reconnected();
        if let Err(error) = backfill::after_connecting(&self.lanes).await {
            tracing::error!(error = format!("{error:#}"), "could not plan the backfill; channels are backfilled with their next message");
        }
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        tracing::info!(user = ready.user.id.get(), "discord session ready");
        let chat = self.lanes.intake().chat();
        self.lanes.intake().set_bot_user(ready.user.id.get());
        chat.http.set_application_id(ready.application.id);
        self.backfill().await;
        if let Err(error) = commands::register(chat).await {
            tracing::error!(error = format!("{error:#}"), "slash commands not registered");
        }
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        tracing::info!("discord session resumed");
        self.backfill().await;
    }

    async fn shard_stage_update(&self, _: Context, event: ShardStageUpdateEvent) {
        if event.new != ConnectionStage::Connected {
            self.lanes.reconnected();
        }
    }

    async fn message(&self, _: Context, message: Message) {
        self.lanes.push(message.channel_id.get(), Job::Message(Box::new(message)));
    }

    async fn message_update(&self, _: Context, _: Option<Message>, _: Option<Message>, event: MessageUpdateEvent) {
        // An update without an edit time is Discord filling in embeds, not the author editing.
        let (Some(text), Some(edited_at)) = (event.content, event.edited_timestamp) else { return };
        if event.author.is_some_and(|author| author.bot) {
            return;
        }
        let kind = ChangeKind::Edited { text, edited_at: edited_at.to_string() };
        let channel = event.channel_id.get();
        self.lanes.push(channel, Job::Change(Change { message: event.id.get(), kind }));
    }

    async fn message_delete(&self, _: Context, channel: ChannelId, message: MessageId, _: Option<GuildId>) {
        let channel = channel.get();
        self.lanes.push(channel, Job::Change(Change { message: message.get(), kind: ChangeKind::Deleted }));
    }

    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        let post = thread.id.get();
        self.lanes.intake().forum_post_created(post, thread.guild_id.get(), thread.parent_id.map(|p| p.get()), &thread.name);
        self.lanes.push(post, Job::Backfill);
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        commands::on_interaction(self.lanes.intake().chat(), interaction).await;
    }
}
