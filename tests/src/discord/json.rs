//! Discord's JSON objects as the fake emits them. serenity's models refuse an object that lacks a
//! non-optional field, so every object here is complete (the fields serenity 0.12 requires, plus
//! the usual ones a real client would read); ids are strings, as Discord sends them.

use serde_json::{Value, json};

use super::world::{ChannelKind, ChannelRecord, UserRecord, World};

/// The ISO-8601 time inside a snowflake.
pub(crate) fn timestamp_of(snowflake: u64) -> String {
    let ms = (snowflake >> 22) + 1_420_070_400_000;
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

pub(crate) fn user(user: &UserRecord) -> Value {
    json!({
        "id": user.id.to_string(),
        "username": user.name,
        "global_name": if user.bot { Value::Null } else { Value::from(user.name.clone()) },
        "discriminator": if user.bot { "0001" } else { "0" },
        "avatar": null,
        "bot": user.bot,
        "system": false,
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
    })
}

/// A guild member object for interactions (serenity requires `roles`, `deaf`, `mute`, `flags`).
pub(crate) fn member(user: Value) -> Value {
    json!({
        "user": user,
        "nick": null,
        "avatar": null,
        "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "permissions": "2248473465835073",
        "communication_disabled_until": null,
    })
}

/// What a new message carries besides its id, channel and author.
#[derive(Default)]
pub(crate) struct MessageParts {
    pub content: String,
    pub attachments: Vec<Value>,
    pub components: Value,
    pub embeds: Value,
    pub nonce: Option<Value>,
    pub message_reference: Option<Value>,
    pub application_id: Option<u64>,
    pub webhook_id: Option<u64>,
    pub flags: u64,
}

pub(crate) fn message(world: &World, id: u64, channel: u64, author: u64, parts: MessageParts) -> Value {
    let guild = world.channels.get(&channel).and_then(|channel| channel.guild);
    let kind = if parts.message_reference.is_some() { 19 } else { 0 };
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": world.user_json(author),
        "content": parts.content,
        "timestamp": timestamp_of(id),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "mention_channels": [],
        "attachments": parts.attachments,
        "embeds": if parts.embeds.is_array() { parts.embeds } else { json!([]) },
        "reactions": [],
        "pinned": false,
        "type": kind,
        "flags": parts.flags,
        "components": if parts.components.is_array() { parts.components } else { json!([]) },
        "sticker_items": [],
    });
    if let Some(guild) = guild {
        message["guild_id"] = Value::from(guild.to_string());
    }
    if let Some(nonce) = parts.nonce {
        message["nonce"] = nonce;
    }
    if let Some(reference) = parts.message_reference {
        message["message_reference"] = reference;
    }
    if let Some(application) = parts.application_id {
        message["application_id"] = Value::from(application.to_string());
    }
    if let Some(webhook) = parts.webhook_id {
        message["webhook_id"] = Value::from(webhook.to_string());
    }
    message
}

/// A message as the gateway dispatches it: with `guild_id` (already there) and, in a guild, the
/// author's partial `member`.
pub(crate) fn dispatched_message(message: &Value) -> Value {
    let mut message = message.clone();
    if message.get("guild_id").is_some() {
        message["member"] = json!({ "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0 });
    }
    message
}

/// An attachment object whose URLs point back at the fake's origin.
pub(crate) fn attachment(id: u64, filename: &str, size: usize, url: &str) -> Value {
    json!({
        "id": id.to_string(),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type(filename),
        "height": null,
        "width": null,
    })
}

fn content_type(filename: &str) -> &'static str {
    match filename.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("txt") => "text/plain; charset=utf-8",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json; charset=utf-8",
        _ => "application/octet-stream",
    }
}

pub(crate) fn channel(world: &World, channel: &ChannelRecord) -> Value {
    let mut json = json!({
        "id": channel.id.to_string(),
        "type": channel.kind as u8,
        "last_message_id": channel.last_message_id.map(|id| id.to_string()),
        "flags": 0,
    });
    if channel.kind == ChannelKind::Dm {
        let recipients: Vec<Value> = channel.recipient.map(|user| world.user_json(user)).into_iter().collect();
        json["recipients"] = Value::from(recipients);
        return json;
    }
    json["name"] = Value::from(channel.name.clone());
    json["guild_id"] = Value::from(channel.guild.map(|id| id.to_string()));
    json["parent_id"] = Value::from(channel.parent.map(|id| id.to_string()));
    json["position"] = Value::from(0);
    json["permission_overwrites"] = json!([]);
    json["nsfw"] = Value::from(false);
    json["rate_limit_per_user"] = Value::from(0);
    if channel.kind == ChannelKind::Forum {
        json["available_tags"] = channel
            .available_tags
            .iter()
            .map(|(id, name)| json!({ "id": id.to_string(), "name": name, "moderated": false, "emoji_id": null, "emoji_name": null }))
            .collect();
        json["default_auto_archive_duration"] = Value::from(channel.auto_archive_duration);
    }
    if channel.kind == ChannelKind::Text {
        json["topic"] = Value::Null;
        json["default_auto_archive_duration"] = Value::from(channel.auto_archive_duration);
    }
    if channel.kind.is_thread() {
        json["owner_id"] = Value::from(channel.owner.map(|id| id.to_string()));
        json["message_count"] = Value::from(channel.message_count);
        json["member_count"] = Value::from(2);
        json["total_message_sent"] = Value::from(channel.message_count);
        json["applied_tags"] = channel.applied_tags.iter().map(|id| Value::from(id.to_string())).collect();
        json["thread_metadata"] = json!({
            "archived": channel.archived,
            "auto_archive_duration": channel.auto_archive_duration,
            "archive_timestamp": timestamp_of(channel.id),
            "locked": channel.locked,
            "create_timestamp": timestamp_of(channel.id),
        });
    }
    json
}

/// A guild as GUILD_CREATE carries it: with its channels and active threads.
pub(crate) fn guild(world: &World, id: u64, name: &str) -> Value {
    let in_guild = |channel: &&ChannelRecord| channel.guild == Some(id) && !channel.deleted;
    let channels: Vec<Value> =
        world.channels.values().filter(in_guild).filter(|c| !c.kind.is_thread()).map(|c| channel(world, c)).collect();
    let threads: Vec<Value> = world
        .channels
        .values()
        .filter(in_guild)
        .filter(|c| c.kind.is_thread() && !c.archived)
        .map(|c| channel(world, c))
        .collect();
    json!({
        "id": id.to_string(),
        "name": name,
        "icon": null,
        "icon_hash": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": super::FakeDiscord::BOT_USER_ID.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "joined_at": timestamp_of(id),
        "large": false,
        "unavailable": false,
        "member_count": world.users.len(),
        "voice_states": [],
        "members": [],
        "channels": channels,
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "safety_alerts_channel_id": null,
    })
}

/// Discord's JSON error body.
pub(crate) fn error(code: u32, message: &str) -> Value {
    json!({ "code": code, "message": message })
}
