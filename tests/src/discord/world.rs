//! The fake Discord's state: users, guilds, channels and threads, each channel's message history
//! (kept as the JSON Discord would serve, so REST and gateway hand out the very same objects),
//! what the bot did (posts, interaction responses, registered commands) and the faults a test
//! queued. One `Mutex<World>` guards it all; nothing awaits while holding it, so the REST
//! handlers, the gateway sessions and the test's own calls see one consistent world.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use super::{Fault, Posted, gateway::Sessions};

/// Discord's epoch (2015-01-01T00:00:00Z) in milliseconds since the Unix epoch.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Discord's channel types that the fake models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChannelKind {
    Text = 0,
    Dm = 1,
    PublicThread = 11,
    PrivateThread = 12,
    Forum = 15,
}

impl ChannelKind {
    pub(crate) fn is_thread(self) -> bool {
        matches!(self, Self::PublicThread | Self::PrivateThread)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UserRecord {
    pub id: u64,
    pub name: String,
    pub bot: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ChannelRecord {
    pub id: u64,
    pub kind: ChannelKind,
    pub guild: Option<u64>,
    pub name: String,
    pub parent: Option<u64>,
    /// The DM's other participant.
    pub recipient: Option<u64>,
    /// Who started a thread.
    pub owner: Option<u64>,
    /// The message a thread was started from (its id equals the thread's, as on Discord).
    pub parent_message: Option<u64>,
    pub archived: bool,
    pub locked: bool,
    pub auto_archive_duration: u64,
    pub applied_tags: Vec<u64>,
    /// A forum's tags: (id, name).
    pub available_tags: Vec<(u64, String)>,
    pub last_message_id: Option<u64>,
    pub message_count: u64,
    pub deleted: bool,
}

impl ChannelRecord {
    fn new(id: u64, kind: ChannelKind, guild: Option<u64>, name: &str) -> Self {
        Self {
            id,
            kind,
            guild,
            name: name.to_owned(),
            parent: None,
            recipient: None,
            owner: None,
            parent_message: None,
            archived: false,
            locked: false,
            auto_archive_duration: 1440,
            applied_tags: Vec::new(),
            available_tags: Vec::new(),
            last_message_id: None,
            message_count: 0,
            deleted: false,
        }
    }
}

/// One interaction the fake sent the bot, and what the bot answered.
#[derive(Debug)]
pub(crate) struct InteractionRecord {
    pub token: String,
    pub channel: u64,
    pub sent_at: Instant,
    /// Whether the interaction came from a message component (the types 6 and 7 apply).
    pub from_component: bool,
    pub from_modal: bool,
    /// The message whose component was used.
    pub message: Option<u64>,
    pub acknowledged: bool,
    /// The message the response created (`@original`), once there is one.
    pub original: Option<Value>,
    pub responses: Vec<Value>,
}

/// A stored upload, served under `/attachments/…`.
#[derive(Debug)]
pub(crate) struct StoredFile {
    pub filename: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct Commands {
    pub global: Option<Value>,
    pub guilds: BTreeMap<u64, Value>,
}

pub(crate) struct QueuedFault {
    pub method: String,
    pub path_prefix: String,
    pub fault: Fault,
}

#[derive(Default)]
pub(crate) struct World {
    last_snowflake: u64,
    pub users: HashMap<u64, UserRecord>,
    pub guilds: BTreeMap<u64, String>,
    pub channels: BTreeMap<u64, ChannelRecord>,
    /// Each channel's messages by id (ids grow with time, so the map is in posting order).
    pub messages: HashMap<u64, BTreeMap<u64, Value>>,
    /// The DM channel of each user with the bot.
    pub dms: HashMap<u64, u64>,
    pub posted: HashMap<u64, Vec<Posted>>,
    pub create_message_requests: HashMap<u64, usize>,
    /// (channel, nonce) → (message id, when) for `enforce_nonce`.
    pub nonces: HashMap<(u64, String), (u64, Instant)>,
    pub interactions: HashMap<u64, InteractionRecord>,
    pub commands: Commands,
    pub faults: Vec<QueuedFault>,
    pub unhandled: Vec<String>,
    /// Requests answered with an error ("METHOD /path → status code message").
    pub refused: Vec<String>,
    pub files: HashMap<u64, StoredFile>,
    /// When each channel was renamed (Discord allows two renames per ten minutes).
    pub renames: HashMap<u64, Vec<Instant>>,
    pub sessions: Sessions,
}

impl World {
    /// A fresh snowflake: milliseconds since Discord's epoch in the top bits, so ids grow with
    /// time, and strictly greater than every id handed out before.
    pub fn snowflake(&mut self) -> u64 {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let from_clock = now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22;
        self.last_snowflake = from_clock.max(self.last_snowflake + 1);
        self.last_snowflake
    }

    pub fn add_user(&mut self, id: u64, name: &str, bot: bool) {
        self.users.insert(id, UserRecord { id, name: name.to_owned(), bot });
    }

    pub fn add_guild(&mut self, name: &str) -> u64 {
        let id = self.snowflake();
        self.guilds.insert(id, name.to_owned());
        id
    }

    pub fn add_channel(&mut self, kind: ChannelKind, guild: Option<u64>, name: &str) -> u64 {
        let id = self.snowflake();
        self.channels.insert(id, ChannelRecord::new(id, kind, guild, name));
        id
    }

    pub fn add_forum_tags(&mut self, forum: u64, tags: &[&str]) {
        let tags: Vec<(u64, String)> = tags.iter().map(|tag| (self.snowflake(), (*tag).to_owned())).collect();
        if let Some(channel) = self.channels.get_mut(&forum) {
            channel.available_tags = tags;
        }
    }

    /// A thread under `parent`; `id` is the starting message's id for a thread from a message.
    pub fn add_thread(&mut self, id: u64, parent: u64, owner: u64, name: &str, kind: ChannelKind) -> &ChannelRecord {
        let guild = self.channels.get(&parent).and_then(|channel| channel.guild);
        let mut thread = ChannelRecord::new(id, kind, guild, name);
        thread.parent = Some(parent);
        thread.owner = Some(owner);
        self.channels.entry(id).or_insert(thread)
    }

    /// The DM channel between the bot and `user`, created on first use.
    pub fn dm_channel(&mut self, user: u64) -> u64 {
        if let Some(channel) = self.dms.get(&user) {
            return *channel;
        }
        let name = self.users.get(&user).map(|user| user.name.clone()).unwrap_or_default();
        let id = self.add_channel(ChannelKind::Dm, None, &name);
        if let Some(channel) = self.channels.get_mut(&id) {
            channel.recipient = Some(user);
        }
        self.dms.insert(user, id);
        id
    }

    /// A channel that exists and was not deleted.
    pub fn live_channel(&self, id: u64) -> Option<&ChannelRecord> {
        self.channels.get(&id).filter(|channel| !channel.deleted)
    }

    pub fn user_json(&self, id: u64) -> Value {
        match self.users.get(&id) {
            Some(user) => super::json::user(user),
            None => json!({ "id": id.to_string(), "username": "unknown", "discriminator": "0", "global_name": null, "avatar": null }),
        }
    }

    /// Stores `message` in its channel's history and advances the channel's counters.
    pub fn store_message(&mut self, channel: u64, message: Value) {
        let Some(id) = message["id"].as_str().and_then(|id| id.parse::<u64>().ok()) else {
            return;
        };
        if let Some(record) = self.channels.get_mut(&channel) {
            record.last_message_id = Some(id);
            record.message_count += 1;
        }
        self.messages.entry(channel).or_default().insert(id, message);
    }

    pub fn message(&self, channel: u64, id: u64) -> Option<&Value> {
        self.messages.get(&channel).and_then(|messages| messages.get(&id))
    }

    /// The first queued fault matching the request, removed from the queue.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let position = self.faults.iter().position(|queued| {
            queued.method.eq_ignore_ascii_case(method)
                && (path.starts_with(&queued.path_prefix)
                    || format!("{}{path}", super::API_PREFIX).starts_with(&queued.path_prefix))
        })?;
        Some(self.faults.remove(position).fault)
    }
}
