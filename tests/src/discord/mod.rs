//! A fake Discord at the network boundary, in the test process: REST under `/api/v10/*` (axum)
//! and a gateway WebSocket, both on 127.0.0.1 port 0. serenity reaches it unchanged through
//! `HttpBuilder::new(FakeDiscord::TOKEN).proxy(fake.api_url()).ratelimiter_disabled(true)`; the
//! gateway URL comes from the fake's own `GET /gateway`.
//!
//! A test builds the world (guilds, channels, forums, users), acts as the users (`send`,
//! `slash_command`, …), observes what the bot did (`posted`, `interaction_responses`, …) and
//! injects faults (`fail_next`, `archive`, `delete_channel`, `drop_connections`). Discord's
//! observable semantics are reproduced where the help desk depends on them: growing snowflakes,
//! history paging, nonce dedupe, the content limit, thread rules, error codes, RESUME.
//!
//! `world` holds the state, `json` the objects as Discord serves them, `rest` the HTTP API,
//! `gateway` the WebSocket protocol and its sessions.

mod gateway;
mod json;
mod rest;
mod world;

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use gateway::Scope;
use json::MessageParts;
use world::{ChannelKind, InteractionRecord, QueuedFault, World};

/// The path prefix of Discord's REST API, version 10.
pub(crate) const API_PREFIX: &str = "/api/v10";
/// How long the `wait_*` observations wait before they fail.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// A handle on a running fake Discord; clones share it, and the servers stop when the last
/// handle is dropped (or when the test's runtime ends).
#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    _running: Arc<Running>,
}

/// A human (or bot) user of the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub bot: bool,
}

/// A message the bot created (through REST, after nonce dedupe).
#[derive(Clone, Debug)]
pub struct Posted {
    pub id: u64,
    pub channel_id: u64,
    pub content: String,
    pub nonce: Option<String>,
    /// (filename, bytes) of each uploaded file.
    pub files: Vec<(String, Vec<u8>)>,
    /// The message's `components` array as the bot sent it (`[]` when none).
    pub components: Value,
    pub at: Instant,
}

/// A failure `fail_next` makes the next matching request answer, with Discord's status and body.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 with `retry_after` (seconds) in the body and the `Retry-After`/`X-RateLimit-*` headers.
    RateLimited { retry_after: f64, global: bool },
    /// 403, code 50013 "Missing Permissions".
    Forbidden,
    /// 403, code 50001 "Missing Access".
    MissingAccess,
    /// 404, code 10003 "Unknown Channel".
    UnknownChannel,
    /// 403, code 50007 "Cannot send messages to this user".
    CannotDm,
    /// 500.
    ServerError,
}

pub(crate) struct Shared {
    world: Mutex<World>,
    api_url: String,
    gateway_url: String,
}

impl Shared {
    /// The world, also after a panic elsewhere poisoned the lock (the data stays usable).
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Stops the servers when the last handle goes.
struct Running(CancellationToken);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl FakeDiscord {
    /// The bot token the fake accepts (`Authorization: Bot <TOKEN>`, and in IDENTIFY/RESUME).
    pub const TOKEN: &str = "fake-discord-bot-token";
    pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_001;
    pub const BOT_USER_ID: u64 = 1_100_000_000_000_000_002;

    /// Starts REST and gateway on 127.0.0.1, each on a port of its own.
    pub async fn start() -> FakeDiscord {
        let api = TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Discord's REST port");
        let gateway = TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Discord's gateway port");
        let api_url = format!("http://{}", api.local_addr().expect("REST address"));
        let gateway_url = format!("ws://{}", gateway.local_addr().expect("gateway address"));
        let mut world = World::default();
        world.add_user(Self::BOT_USER_ID, "Helpdesk", true);
        let shared = Arc::new(Shared { world: Mutex::new(world), api_url, gateway_url });
        let shutdown = CancellationToken::new();
        tokio::spawn(rest::serve(api, Arc::clone(&shared), shutdown.clone()));
        tokio::spawn(gateway::serve(gateway, Arc::clone(&shared), shutdown.clone()));
        FakeDiscord { shared, _running: Arc::new(Running(shutdown)) }
    }

    /// What serenity's `HttpBuilder::proxy` takes: `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        self.shared.api_url.clone()
    }

    /// The gateway's URL, as `GET /gateway` and READY's `resume_gateway_url` name it.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url.clone()
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.shared.world()
    }

    // ----- the world -----

    pub fn add_guild(&self, name: &str) -> u64 {
        self.world().add_guild(name)
    }

    pub fn add_text_channel(&self, guild: u64, name: &str) -> u64 {
        self.world().add_channel(ChannelKind::Text, Some(guild), name)
    }

    /// A forum channel with `tags` as its available tags.
    pub fn add_forum_channel(&self, guild: u64, name: &str, tags: &[&str]) -> u64 {
        let mut world = self.world();
        let forum = world.add_channel(ChannelKind::Forum, Some(guild), name);
        world.add_forum_tags(forum, tags);
        forum
    }

    /// A new human user with a fresh snowflake.
    pub fn user(&self, name: &str) -> User {
        let mut world = self.world();
        let id = world.snowflake();
        world.add_user(id, name, false);
        User { id, name: name.to_owned(), bot: false }
    }

    /// A new user that is a bot (another application's), whose messages the help desk ignores.
    pub fn bot_user(&self, name: &str) -> User {
        let mut world = self.world();
        let id = world.snowflake();
        world.add_user(id, name, true);
        User { id, name: name.to_owned(), bot: true }
    }

    /// The DM channel between the bot and `user` (the one `POST /users/@me/channels` returns).
    pub fn dm_channel(&self, user: &User) -> u64 {
        self.world().dm_channel(user.id)
    }

    // ----- what users do -----

    /// `author` posts `content` in `channel`; returns the message id.
    pub async fn send(&self, channel: u64, author: &User, content: &str) -> u64 {
        self.send_with_files(channel, author, content, &[]).await
    }

    /// `author` posts `content` with attachments, served by the fake under a signed-looking URL.
    pub async fn send_with_files(&self, channel: u64, author: &User, content: &str, files: &[(&str, &[u8])]) -> u64 {
        let mut world = self.world();
        let id = world.snowflake();
        let attachments = files
            .iter()
            .map(|(name, bytes)| rest::store_file(&mut world, &self.shared.api_url, channel, name, bytes.to_vec()))
            .collect();
        let parts = MessageParts { content: content.to_owned(), attachments, ..MessageParts::default() };
        let message = json::message(&world, id, channel, author.id, parts);
        publish_message(&mut world, channel, message);
        id
    }

    /// `author` posts each of `texts` in `channel` (ids ascending, as Discord gives them), but the
    /// gateway dispatches their MESSAGE_CREATEs newest first — what a client sees when it handles
    /// events on tasks of their own. Returns the ids, oldest first.
    pub fn send_dispatched_newest_first(&self, channel: u64, author: &User, texts: &[&str]) -> Vec<u64> {
        let mut world = self.world();
        let messages: Vec<(u64, Value)> = texts
            .iter()
            .map(|text| {
                let id = world.snowflake();
                let parts = MessageParts { content: (*text).to_owned(), ..MessageParts::default() };
                (id, json::message(&world, id, channel, author.id, parts))
            })
            .collect();
        for (_, message) in &messages {
            world.store_message(channel, message.clone());
        }
        let scope = message_scope(&world, channel, false);
        for (_, message) in messages.iter().rev() {
            world.sessions.dispatch("MESSAGE_CREATE", &json::dispatched_message(message), scope);
        }
        messages.into_iter().map(|(id, _)| id).collect()
    }

    /// `channel`'s message `message` is edited to `content` (MESSAGE_UPDATE).
    pub async fn edit(&self, channel: u64, message: u64, content: &str) {
        let mut world = self.world();
        let edited = world.snowflake();
        let Some(stored) = world.messages.get_mut(&channel).and_then(|messages| messages.get_mut(&message)) else {
            panic!("fake Discord: no message {message} in channel {channel} to edit");
        };
        stored["content"] = Value::from(content);
        stored["edited_timestamp"] = Value::from(json::timestamp_of(edited));
        let update = json::dispatched_message(stored);
        let scope = message_scope(&world, channel, false);
        world.sessions.dispatch("MESSAGE_UPDATE", &update, scope);
    }

    /// `channel`'s message `message` is deleted (MESSAGE_DELETE).
    pub async fn delete(&self, channel: u64, message: u64) {
        let mut world = self.world();
        if let Some(messages) = world.messages.get_mut(&channel) {
            messages.remove(&message);
        }
        let mut deleted = json!({ "id": message.to_string(), "channel_id": channel.to_string() });
        if let Some(guild) = world.channels.get(&channel).and_then(|channel| channel.guild) {
            deleted["guild_id"] = Value::from(guild.to_string());
        }
        let scope = message_scope(&world, channel, true);
        world.sessions.dispatch("MESSAGE_DELETE", &deleted, scope);
    }

    /// `author` opens a post in `forum` (THREAD_CREATE, then MESSAGE_CREATE of its first message,
    /// whose id is the thread's, as on Discord); returns (thread, message).
    pub async fn start_forum_post(&self, forum: u64, author: &User, title: &str, content: &str) -> (u64, u64) {
        let mut world = self.world();
        let id = world.snowflake();
        world.add_thread(id, forum, author.id, title, ChannelKind::PublicThread);
        dispatch_thread_create(&mut world, id);
        let parts = MessageParts { content: content.to_owned(), ..MessageParts::default() };
        let message = json::message(&world, id, id, author.id, parts);
        publish_message(&mut world, id, message);
        (id, id)
    }

    /// `user` runs `/name [subcommand] options…` in `channel` (INTERACTION_CREATE, type 2);
    /// returns the interaction id. Options are strings.
    pub async fn slash_command(
        &self,
        channel: u64,
        user: &User,
        name: &str,
        subcommand: Option<&str>,
        options: &[(&str, &str)],
    ) -> u64 {
        let options: Vec<Value> =
            options.iter().map(|(name, value)| json!({ "name": name, "type": 3, "value": value })).collect();
        let options = match subcommand {
            Some(sub) => json!([{ "name": sub, "type": 1, "options": options }]),
            None => Value::from(options),
        };
        let mut world = self.world();
        let command_id = registered_command_id(&world, channel, name).unwrap_or_else(|| world.snowflake());
        let data = json!({ "id": command_id.to_string(), "name": name, "type": 1, "options": options });
        let interaction = Interaction { kind: 2, channel, user, data, message: None };
        send_interaction(&mut world, interaction)
    }

    /// `user` submits the modal `custom_id` with `fields` as (text input custom id, value).
    pub async fn submit_modal(&self, channel: u64, user: &User, custom_id: &str, fields: &[(&str, &str)]) -> u64 {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(id, value)| json!({ "type": 1, "components": [{ "type": 4, "custom_id": id, "value": value }] }))
            .collect();
        let data = json!({ "custom_id": custom_id, "components": rows });
        let mut world = self.world();
        send_interaction(&mut world, Interaction { kind: 5, channel, user, data, message: None })
    }

    /// `user` clicks the button `custom_id` on the bot's `message` in `channel` (type 3).
    pub async fn click_button(&self, channel: u64, user: &User, message: u64, custom_id: &str) -> u64 {
        let mut world = self.world();
        let Some(clicked) = world.message(channel, message).cloned() else {
            panic!("fake Discord: no message {message} in channel {channel} to click a button on");
        };
        let data = json!({ "custom_id": custom_id, "component_type": 2 });
        send_interaction(&mut world, Interaction { kind: 3, channel, user, data, message: Some(clicked) })
    }

    // ----- what the bot did -----

    /// The messages the bot created in `channel` through REST (after nonce dedupe), oldest
    /// first; a forum post the bot opens is in `posted(thread)`. Interaction responses are not
    /// here but in `interaction_responses`.
    pub fn posted(&self, channel: u64) -> Vec<Posted> {
        self.world().posted.get(&channel).cloned().unwrap_or_default()
    }

    /// Waits (30 s at most) until the bot has created `count` messages in `channel`.
    pub async fn wait_posted(&self, channel: u64, count: usize) -> Vec<Posted> {
        let what = format!("the bot has posted {count} message(s) in channel {channel}");
        crate::wait_until(WAIT_LIMIT, &what, async || self.posted(channel), |posted| posted.len() >= count).await
    }

    /// `POST /channels/{channel}/messages` requests received, deduplicated and refused ones included.
    pub fn create_message_requests(&self, channel: u64) -> usize {
        self.world().create_message_requests.get(&channel).copied().unwrap_or(0)
    }

    /// The bot's answers to `interaction`: the callback, follow-ups and edits of `@original`, in order.
    pub fn interaction_responses(&self, interaction: u64) -> Vec<Value> {
        self.world().interactions.get(&interaction).map(|record| record.responses.clone()).unwrap_or_default()
    }

    /// Waits (30 s at most) for the bot's first answer to `interaction`.
    pub async fn wait_interaction_response(&self, interaction: u64) -> Value {
        let what = format!("the bot has answered interaction {interaction}");
        let responses = crate::wait_until(
            WAIT_LIMIT,
            &what,
            async || self.interaction_responses(interaction),
            |responses| !responses.is_empty(),
        )
        .await;
        responses.into_iter().next().unwrap_or_default()
    }

    /// The threads created in or from `channel`, oldest first.
    pub fn threads_of(&self, channel: u64) -> Vec<u64> {
        let world = self.world();
        world.channels.values().filter(|thread| thread.parent == Some(channel)).map(|thread| thread.id).collect()
    }

    /// The message `thread` was started from, if it was started from one.
    pub fn thread_parent_message(&self, thread: u64) -> Option<u64> {
        self.world().channels.get(&thread).and_then(|thread| thread.parent_message)
    }

    /// `channel` as `GET /channels/{id}` serves it (`name`, `thread_metadata.archived`,
    /// `applied_tags`, …); `null` for an unknown channel.
    pub fn channel_json(&self, channel: u64) -> Value {
        let world = self.world();
        world.channels.get(&channel).map(|record| json::channel(&world, record)).unwrap_or_default()
    }

    /// The last bulk overwrite of commands: `{"global": [...] | null, "guilds": {"<id>": [...]}}`.
    pub fn registered_commands(&self) -> Value {
        let world = self.world();
        let guilds: serde_json::Map<String, Value> =
            world.commands.guilds.iter().map(|(id, commands)| (id.to_string(), commands.clone())).collect();
        json!({ "global": world.commands.global.clone(), "guilds": guilds })
    }

    /// IDENTIFYs received.
    pub fn identifies(&self) -> usize {
        self.world().sessions.identifies
    }

    /// Successful RESUMEs.
    pub fn resumes(&self) -> usize {
        self.world().sessions.resumes
    }

    /// Sessions with an open socket.
    pub fn connected_sessions(&self) -> usize {
        self.world().sessions.connected()
    }

    /// Requests no route answered (each as "METHOD /path?query"), for debugging a test.
    pub fn unhandled_requests(&self) -> Vec<String> {
        self.world().unhandled.clone()
    }

    /// Requests the fake refused, as "METHOD /path → status code message {errors}" (faults
    /// from `fail_next` excluded), for debugging a test.
    pub fn refused_requests(&self) -> Vec<String> {
        self.world().refused.clone()
    }

    // ----- faults -----

    /// The next request with `method` whose path (with or without `/api/v10`) starts with
    /// `path_prefix` answers `fault`, once.
    pub fn fail_next(&self, method: &str, path_prefix: &str, fault: Fault) {
        let queued = QueuedFault { method: method.to_owned(), path_prefix: path_prefix.to_owned(), fault };
        self.world().faults.push(queued);
    }

    /// Archives `thread`: posting in it answers 400 code 50083 until a `PATCH` unarchives it.
    pub fn archive(&self, thread: u64) {
        let mut world = self.world();
        if let Some(record) = world.channels.get_mut(&thread) {
            record.archived = true;
        }
        dispatch_thread_update(&mut world, thread);
    }

    /// Deletes `channel`: every request on it answers 404 code 10003.
    pub fn delete_channel(&self, channel: u64) {
        let mut world = self.world();
        let Some(record) = world.channels.get_mut(&channel) else { return };
        record.deleted = true;
        let event = if record.kind.is_thread() { "THREAD_DELETE" } else { "CHANNEL_DELETE" };
        let channel_json = world.channels.get(&channel).map(|record| json::channel(&world, record)).unwrap_or_default();
        world.sessions.dispatch(event, &channel_json, Scope::Guild);
    }

    /// Closes every gateway socket with code 4000, as Discord does, so serenity RESUMEs; returns
    /// once the sockets are closed (5 s at most).
    pub async fn drop_connections(&self) {
        let closing = self.world().sessions.close_all(Some(4000));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while closing.iter().any(|socket| self.world().sessions.is_open(*socket)) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// With `on`, a RESUME first re-sends the last few dispatches the client had already seen
    /// (Discord may deliver an event twice), then the missed ones.
    pub fn replay_on_resume(&self, on: bool) {
        self.world().sessions.replay_on_resume = on;
    }
}

/// Stores `message` in `channel`'s history and dispatches MESSAGE_CREATE.
fn publish_message(world: &mut World, channel: u64, message: Value) {
    let from_bot = message["author"]["id"].as_str() == Some(&FakeDiscord::BOT_USER_ID.to_string());
    let mentions_bot = message["content"].as_str().is_some_and(|content| content.contains(&format!("<@{}>", FakeDiscord::BOT_USER_ID)));
    let dispatched = json::dispatched_message(&message);
    world.store_message(channel, message);
    let scope = message_scope(world, channel, from_bot || mentions_bot);
    world.sessions.dispatch("MESSAGE_CREATE", &dispatched, scope);
}

fn message_scope(world: &World, channel: u64, visible: bool) -> Scope {
    match world.channels.get(&channel).map(|channel| channel.kind) {
        Some(ChannelKind::Dm) => Scope::DirectMessage,
        _ => Scope::GuildMessage { visible },
    }
}

fn dispatch_thread_create(world: &mut World, thread: u64) {
    let Some(record) = world.channels.get(&thread) else { return };
    let mut data = json::channel(world, record);
    data["newly_created"] = Value::from(true);
    world.sessions.dispatch("THREAD_CREATE", &data, Scope::Guild);
}

fn dispatch_thread_update(world: &mut World, thread: u64) {
    let Some(record) = world.channels.get(&thread) else { return };
    let data = json::channel(world, record);
    let event = if record.kind.is_thread() { "THREAD_UPDATE" } else { "CHANNEL_UPDATE" };
    world.sessions.dispatch(event, &data, Scope::Guild);
}

fn registered_command_id(world: &World, channel: u64, name: &str) -> Option<u64> {
    let guild = world.channels.get(&channel).and_then(|channel| channel.guild);
    let guild_commands = guild.and_then(|guild| world.commands.guilds.get(&guild));
    [guild_commands, world.commands.global.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|command| command["name"].as_str() == Some(name))
        .and_then(|command| command["id"].as_str()?.parse().ok())
}

struct Interaction<'a> {
    kind: u8,
    channel: u64,
    user: &'a User,
    data: Value,
    message: Option<Value>,
}

/// Records and dispatches an INTERACTION_CREATE; returns its id.
fn send_interaction(world: &mut World, interaction: Interaction<'_>) -> u64 {
    let id = world.snowflake();
    let token = format!("interaction-token-{id}-{}", uuid::Uuid::new_v4().simple());
    let channel_record = world.channels.get(&interaction.channel);
    let guild = channel_record.and_then(|channel| channel.guild);
    let channel_kind = channel_record.map_or(ChannelKind::Text as u8, |channel| channel.kind as u8);
    let user = world.user_json(interaction.user.id);
    let mut json = json!({
        "id": id.to_string(),
        "application_id": FakeDiscord::APPLICATION_ID.to_string(),
        "type": interaction.kind,
        "data": interaction.data,
        "channel_id": interaction.channel.to_string(),
        "channel": { "id": interaction.channel.to_string(), "type": channel_kind },
        "token": token,
        "version": 1,
        "app_permissions": "2248473465835073",
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
        "context": if guild.is_some() { 0 } else { 1 },
    });
    match guild {
        Some(guild) => {
            json["guild_id"] = Value::from(guild.to_string());
            json["authorizing_integration_owners"] = json!({ "0": guild.to_string() });
            json["guild_locale"] = Value::from("en-US");
            json["member"] = json::member(user);
        }
        None => json["user"] = user,
    }
    let from_component = interaction.kind == 3;
    let message = interaction.message.as_ref().and_then(|message| message["id"].as_str()?.parse().ok());
    if let Some(clicked) = interaction.message {
        json["message"] = clicked;
    }
    world.interactions.insert(
        id,
        InteractionRecord {
            token,
            channel: interaction.channel,
            sent_at: Instant::now(),
            from_component,
            from_modal: interaction.kind == 5,
            message,
            acknowledged: false,
            original: None,
            responses: Vec::new(),
        },
    );
    world.sessions.dispatch("INTERACTION_CREATE", &json, Scope::Always);
    id
}
