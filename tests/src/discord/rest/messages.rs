//! Messages: history paging as Discord pages it (newest first; `after` takes the messages right
//! after the id), creating with nonce dedupe and Discord's limits, editing and deleting — each
//! change dispatched on the gateway like Discord does, the bot's own posts included.

use std::time::{Duration, Instant};

use axum::{http::StatusCode, response::IntoResponse};
use serde_json::{Value, json};

use super::{
    super::{FakeDiscord, Posted, json::{self as discord_json, MessageParts}, message_scope, publish_message, world::{ChannelKind, World}},
    Answer, Payload, Refusal, existing_channel, attachments, ok, query_param, snowflake, text_or_number,
};

/// Content limit for bots, in characters.
const MAX_CONTENT: usize = 2000;
const MAX_NONCE: usize = 25;
/// How long an `enforce_nonce` nonce stays unique.
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
pub(super) const EPHEMERAL: u64 = 1 << 6;

pub(super) fn history(world: &World, channel: u64, query: &str) -> Answer {
    existing_channel(world, channel)?;
    let limit = match query_param(query, "limit") {
        None => 50,
        Some(limit) => match limit.parse::<usize>() {
            Ok(limit @ 1..=100) => limit,
            _ => return Err(Refusal::form("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")),
        },
    };
    let bound = |name: &str| -> Result<Option<u64>, Refusal> { query_param(query, name).map(|id| snowflake(&id)).transpose() };
    let (after, before, around) = (bound("after")?, bound("before")?, bound("around")?);
    let empty = std::collections::BTreeMap::new();
    let messages = world.messages.get(&channel).unwrap_or(&empty);
    // Discord answers newest first; `after` takes the messages right after the id.
    let mut page: Vec<Value> = if let Some(after) = after {
        messages.range(after.saturating_add(1)..).take(limit).map(|(_, message)| message.clone()).collect()
    } else if let Some(before) = before {
        messages.range(..before).rev().take(limit).map(|(_, message)| message.clone()).collect()
    } else if let Some(around) = around {
        let older = messages.range(..around).rev().take(limit / 2).map(|(_, message)| message.clone());
        let newer = messages.range(around..).take(limit - limit / 2).map(|(_, message)| message.clone());
        older.chain(newer).collect()
    } else {
        messages.values().rev().take(limit).cloned().collect()
    };
    page.sort_by_key(|message| std::cmp::Reverse(message["id"].as_str().and_then(|id| id.parse::<u64>().ok())));
    ok(Value::from(page))
}

/// Checks that the bot may post a message in `channel`.
pub(super) fn writable(world: &World, channel: u64) -> Result<(), Refusal> {
    let record = existing_channel(world, channel)?;
    if record.kind == ChannelKind::Forum {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50008, "Cannot send messages in a non-text channel"));
    }
    if record.archived {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50083, "Thread is archived"));
    }
    Ok(())
}

/// The message fields every create/edit route checks: content length, components.
pub(super) fn checked_content(body: &Value) -> Result<String, Refusal> {
    let content = body["content"].as_str().unwrap_or_default().to_owned();
    if content.chars().count() > MAX_CONTENT {
        return Err(Refusal::form("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."));
    }
    Ok(content)
}

pub(super) fn message_parts(world: &mut World, api_url: &str, channel: u64, body: &Value, files: Vec<(String, Vec<u8>)>) -> Result<MessageParts, Refusal> {
    let content = checked_content(body)?;
    let nonce = body.get("nonce").filter(|nonce| !nonce.is_null()).cloned();
    if nonce.as_ref().and_then(text_or_number).is_some_and(|nonce| nonce.chars().count() > MAX_NONCE) {
        return Err(Refusal::form("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."));
    }
    let has_something = !content.is_empty()
        || !files.is_empty()
        || body["embeds"].as_array().is_some_and(|embeds| !embeds.is_empty())
        || body["components"].as_array().is_some_and(|rows| !rows.is_empty())
        || body["sticker_ids"].as_array().is_some_and(|stickers| !stickers.is_empty());
    if !has_something {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50006, "Cannot send an empty message"));
    }
    let attachments = files.into_iter().map(|(name, bytes)| attachments::store_file(world, api_url, channel, &name, bytes)).collect();
    let message_reference = body.get("message_reference").filter(|reference| reference.is_object()).map(|reference| {
        let mut reference = reference.clone();
        reference["channel_id"] = reference.get("channel_id").cloned().unwrap_or_else(|| Value::from(channel.to_string()));
        reference
    });
    Ok(MessageParts {
        content,
        attachments,
        components: body["components"].clone(),
        embeds: body["embeds"].clone(),
        nonce,
        message_reference,
        flags: body["flags"].as_u64().unwrap_or(0) & !EPHEMERAL,
        ..MessageParts::default()
    })
}

pub(super) fn create_message(world: &mut World, api_url: &str, channel: u64, payload: Payload) -> Result<Value, Refusal> {
    writable(world, channel)?;
    let body = &payload.json;
    let nonce = text_or_number(&body["nonce"]);
    let enforced = body["enforce_nonce"].as_bool() == Some(true);
    if enforced && let Some(nonce) = &nonce {
        let key = (channel, nonce.clone());
        if let Some((first, at)) = world.nonces.get(&key)
            && at.elapsed() < NONCE_WINDOW
            && let Some(message) = world.message(channel, *first)
        {
            return Ok(message.clone());
        }
    }
    let uploads = payload.files.clone();
    let parts = message_parts(world, api_url, channel, body, payload.files)?;
    let id = world.snowflake();
    let message = discord_json::message(world, id, channel, FakeDiscord::BOT_USER_ID, parts);
    record_post(world, &message, nonce.clone(), uploads);
    if enforced && let Some(nonce) = nonce {
        world.nonces.insert((channel, nonce), (id, Instant::now()));
    }
    publish_message(world, channel, message.clone());
    Ok(message)
}

/// Adds the bot's new `message` to `posted()`, with the bytes of its uploads.
pub(super) fn record_post(world: &mut World, message: &Value, nonce: Option<String>, uploads: Vec<(String, Vec<u8>)>) {
    let id = message["id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_default();
    let channel = message["channel_id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_default();
    world.posted.entry(channel).or_default().push(Posted {
        id,
        channel_id: channel,
        content: message["content"].as_str().unwrap_or_default().to_owned(),
        nonce,
        files: uploads.into_iter().map(|(name, bytes)| (attachments::sanitized_filename(&name), bytes)).collect(),
        components: message["components"].clone(),
        at: Instant::now(),
    });
}

/// Applies an edit's `content`, `components`, `embeds` and `flags` to a stored message.
pub(super) fn apply_edit(world: &mut World, stored: &mut Value, body: &Value) -> Result<(), Refusal> {
    if body.get("content").is_some() {
        stored["content"] = Value::from(checked_content(body)?);
    }
    for field in ["components", "embeds", "flags"] {
        if let Some(value) = body.get(field).filter(|value| !value.is_null()) {
            stored[field] = value.clone();
        }
    }
    stored["edited_timestamp"] = Value::from(discord_json::timestamp_of(world.snowflake()));
    Ok(())
}

pub(super) fn edit_message(world: &mut World, channel: u64, message: u64, body: &Value) -> Answer {
    existing_channel(world, channel)?;
    let Some(mut stored) = world.message(channel, message).cloned() else {
        return Err(Refusal::unknown_message());
    };
    if stored["author"]["id"].as_str() != Some(&FakeDiscord::BOT_USER_ID.to_string()) {
        return Err(Refusal::new(StatusCode::FORBIDDEN, 50005, "Cannot edit a message authored by another user"));
    }
    apply_edit(world, &mut stored, body)?;
    if let Some(slot) = world.messages.get_mut(&channel).and_then(|messages| messages.get_mut(&message)) {
        *slot = stored.clone();
    }
    let updated = stored;
    let dispatched = discord_json::dispatched_message(&updated);
    let scope = message_scope(world, channel, true);
    world.sessions.dispatch("MESSAGE_UPDATE", &dispatched, scope);
    ok(updated)
}

pub(super) fn delete_message(world: &mut World, channel: u64, message: u64) -> Answer {
    existing_channel(world, channel)?;
    let removed = world.messages.get_mut(&channel).and_then(|messages| messages.remove(&message));
    if removed.is_none() {
        return Err(Refusal::unknown_message());
    }
    let mut deleted = json!({ "id": message.to_string(), "channel_id": channel.to_string() });
    if let Some(guild) = world.channels.get(&channel).and_then(|record| record.guild) {
        deleted["guild_id"] = Value::from(guild.to_string());
    }
    let scope = message_scope(world, channel, true);
    world.sessions.dispatch("MESSAGE_DELETE", &deleted, scope);
    Ok(StatusCode::NO_CONTENT.into_response())
}
