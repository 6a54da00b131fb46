//! Threads and channel edits: a thread from a message (its id is the message's; one per
//! message), a forum post (thread + first message, tags checked against the forum's), a thread
//! without a message, and `PATCH /channels/{id}` (name, archived, locked, tags) with Discord's
//! two renames per ten minutes.

use std::time::{Duration, Instant};

use axum::{Json, http::StatusCode, response::IntoResponse};
use serde_json::Value;

use super::{
    super::{FakeDiscord, dispatch_thread_create, dispatch_thread_update, json as discord_json, publish_message, world::{ChannelKind, World}},
    Answer, Payload, Refusal, existing_channel, messages, ok, parse_ids,
};

/// Channel renames allowed per window.
const RENAMES_PER_WINDOW: usize = 2;
const RENAME_WINDOW: Duration = Duration::from_secs(10 * 60);
const HAS_THREAD: u64 = 1 << 5;

pub(super) fn thread_name(body: &Value) -> Result<String, Refusal> {
    match body["name"].as_str() {
        Some(name) if (1..=100).contains(&name.chars().count()) => Ok(name.to_owned()),
        _ => Err(Refusal::form("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")),
    }
}

pub(super) fn archive_duration(body: &Value, default: u64) -> Result<u64, Refusal> {
    match body.get("auto_archive_duration").and_then(Value::as_u64) {
        None => Ok(default),
        Some(minutes @ (60 | 1440 | 4320 | 10080)) => Ok(minutes),
        Some(_) => Err(Refusal::form("auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")),
    }
}

pub(super) fn thread_from_message(world: &mut World, channel: u64, message: u64, body: &Value) -> Answer {
    let record = existing_channel(world, channel)?;
    if record.kind != ChannelKind::Text {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type"));
    }
    let default_duration = record.auto_archive_duration;
    if world.message(channel, message).is_none() {
        return Err(Refusal::unknown_message());
    }
    if world.channels.contains_key(&message) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 160004, "A thread has already been created for this message"));
    }
    let name = thread_name(body)?;
    let duration = archive_duration(body, default_duration)?;
    let owner = FakeDiscord::BOT_USER_ID;
    world.add_thread(message, channel, owner, &name, ChannelKind::PublicThread);
    if let Some(thread) = world.channels.get_mut(&message) {
        thread.parent_message = Some(message);
        thread.auto_archive_duration = duration;
    }
    let thread_json = world.channels.get(&message).map(|thread| discord_json::channel(world, thread)).unwrap_or_default();
    if let Some(started) = world.messages.get_mut(&channel).and_then(|messages| messages.get_mut(&message)) {
        started["flags"] = Value::from(started["flags"].as_u64().unwrap_or(0) | HAS_THREAD);
        started["thread"] = thread_json.clone();
    }
    dispatch_thread_create(world, message);
    Ok((StatusCode::CREATED, Json(thread_json)).into_response())
}

pub(super) fn start_thread(world: &mut World, api_url: &str, parent: u64, payload: Payload) -> Answer {
    let record = existing_channel(world, parent)?;
    let parent_kind = record.kind;
    let available: Vec<u64> = record.available_tags.iter().map(|(id, _)| *id).collect();
    let default_duration = record.auto_archive_duration;
    let body = &payload.json;
    let name = thread_name(body)?;
    let duration = archive_duration(body, default_duration)?;
    match parent_kind {
        ChannelKind::Forum => {
            let applied = parse_ids(&body["applied_tags"]);
            if applied.iter().any(|tag| !available.contains(tag)) {
                return Err(Refusal::form("applied_tags", "BASE_TYPE_CHOICES", "A tag is not one of the forum's tags."));
            }
            let first = &body["message"];
            let id = world.snowflake();
            let parts = messages::message_parts(world, api_url, id, first, payload.files.clone())?;
            world.add_thread(id, parent, FakeDiscord::BOT_USER_ID, &name, ChannelKind::PublicThread);
            if let Some(thread) = world.channels.get_mut(&id) {
                thread.applied_tags = applied;
                thread.auto_archive_duration = duration;
            }
            dispatch_thread_create(world, id);
            let message = discord_json::message(world, id, id, FakeDiscord::BOT_USER_ID, parts);
            messages::record_post(world, &message, None, payload.files);
            publish_message(world, id, message.clone());
            let mut thread_json = world.channels.get(&id).map(|thread| discord_json::channel(world, thread)).unwrap_or_default();
            thread_json["message"] = message;
            Ok((StatusCode::CREATED, Json(thread_json)).into_response())
        }
        ChannelKind::Text => {
            let kind = match body["type"].as_u64() {
                Some(11) => ChannelKind::PublicThread,
                Some(12) | None => ChannelKind::PrivateThread,
                Some(_) => return Err(Refusal::form("type", "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")),
            };
            let id = world.snowflake();
            world.add_thread(id, parent, FakeDiscord::BOT_USER_ID, &name, kind);
            if let Some(thread) = world.channels.get_mut(&id) {
                thread.auto_archive_duration = duration;
            }
            dispatch_thread_create(world, id);
            let thread_json = world.channels.get(&id).map(|thread| discord_json::channel(world, thread)).unwrap_or_default();
            Ok((StatusCode::CREATED, Json(thread_json)).into_response())
        }
        _ => Err(Refusal::new(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type")),
    }
}

pub(super) fn modify_channel(world: &mut World, channel: u64, body: &Value) -> Answer {
    let record = existing_channel(world, channel)?;
    let parent_tags: Vec<u64> = record
        .parent
        .and_then(|parent| world.channels.get(&parent))
        .map(|parent| parent.available_tags.iter().map(|(id, _)| *id).collect())
        .unwrap_or_default();
    let unarchives = body["archived"].as_bool() == Some(false);
    let changes_more = body.as_object().is_some_and(|fields| fields.keys().any(|key| key != "archived" && key != "locked"));
    if record.archived && !unarchives && changes_more {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50083, "Thread is archived"));
    }
    let name = match body.get("name") {
        Some(_) => Some(thread_name(body)?),
        None => None,
    };
    let renamed = name.as_ref().is_some_and(|name| *name != record.name);
    let applied = body.get("applied_tags").map(parse_ids);
    if applied.as_ref().is_some_and(|tags| tags.iter().any(|tag| !parent_tags.contains(tag))) {
        return Err(Refusal::form("applied_tags", "BASE_TYPE_CHOICES", "A tag is not one of the forum's tags."));
    }
    let duration = archive_duration(body, record.auto_archive_duration)?;
    if renamed {
        let renames = world.renames.entry(channel).or_default();
        renames.retain(|at| at.elapsed() < RENAME_WINDOW);
        if renames.len() >= RENAMES_PER_WINDOW {
            let retry_after = renames.first().map_or(0.0, |first| RENAME_WINDOW.saturating_sub(first.elapsed()).as_secs_f64());
            return Err(Refusal::rate_limited(retry_after, false));
        }
        renames.push(Instant::now());
    }
    let Some(record) = world.channels.get_mut(&channel) else {
        return Err(Refusal::unknown_channel());
    };
    if let Some(name) = name {
        record.name = name;
    }
    if let Some(archived) = body["archived"].as_bool() {
        record.archived = archived;
    }
    if let Some(locked) = body["locked"].as_bool() {
        record.locked = locked;
    }
    if let Some(applied) = applied {
        record.applied_tags = applied;
    }
    record.auto_archive_duration = duration;
    dispatch_thread_update(world, channel);
    let record = existing_channel(world, channel)?;
    ok(discord_json::channel(world, record))
}
