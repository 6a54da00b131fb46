//! Application commands and interactions: bulk overwrites of commands (names and descriptions
//! checked as Discord does), the interaction callback (once, within three seconds, of a type
//! that fits the interaction), follow-ups and edits of `@original` — each recorded, in order, for
//! `interaction_responses()`.

use std::time::Duration;

use axum::{http::StatusCode, response::IntoResponse};
use serde_json::Value;

use super::{
    super::{FakeDiscord, json as discord_json, publish_message, world::World},
    Answer, Payload, Refusal, messages, ok, snowflake,
};

/// Interactions must be answered within three seconds.
const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);

pub(super) fn register_commands(world: &mut World, guild: Option<u64>, body: &Value) -> Result<Value, Refusal> {
    let Some(commands) = body.as_array() else {
        return Err(Refusal::form("_root", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    let mut registered = Vec::with_capacity(commands.len());
    for command in commands {
        let name = command["name"].as_str().unwrap_or_default();
        let valid_name = (1..=32).contains(&name.chars().count())
            && name.chars().all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()));
        if !valid_name {
            return Err(Refusal::form("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"));
        }
        let kind = command["type"].as_u64().unwrap_or(1);
        let description = command["description"].as_str().unwrap_or_default().chars().count();
        if kind == 1 && !(1..=100).contains(&description) {
            return Err(Refusal::form("description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
        }
        let mut command = command.clone();
        command["id"] = Value::from(world.snowflake().to_string());
        command["application_id"] = Value::from(FakeDiscord::APPLICATION_ID.to_string());
        command["version"] = Value::from(world.snowflake().to_string());
        command["type"] = Value::from(kind);
        command["default_member_permissions"] = command.get("default_member_permissions").cloned().unwrap_or(Value::Null);
        if command.get("description").is_none() {
            command["description"] = Value::from("");
        }
        if let Some(guild) = guild {
            command["guild_id"] = Value::from(guild.to_string());
        }
        registered.push(command);
    }
    Ok(Value::from(registered))
}

/// The message an interaction response creates, as the application's webhook.
pub(super) fn response_message(world: &mut World, api_url: &str, channel: u64, body: &Value, files: Vec<(String, Vec<u8>)>) -> Result<Value, Refusal> {
    let ephemeral = body["flags"].as_u64().unwrap_or(0) & messages::EPHEMERAL != 0;
    let mut parts = messages::message_parts(world, api_url, channel, body, files)?;
    parts.application_id = Some(FakeDiscord::APPLICATION_ID);
    parts.webhook_id = Some(FakeDiscord::APPLICATION_ID);
    if ephemeral {
        parts.flags |= messages::EPHEMERAL;
    }
    let id = world.snowflake();
    let message = discord_json::message(world, id, channel, FakeDiscord::BOT_USER_ID, parts);
    if !ephemeral {
        publish_message(world, channel, message.clone());
    }
    Ok(message)
}

pub(super) fn interaction_callback(world: &mut World, api_url: &str, interaction: u64, token: &str, payload: Payload) -> Answer {
    let Some(record) = world.interactions.get(&interaction).filter(|record| record.token == token) else {
        return Err(Refusal::unknown_interaction());
    };
    if record.acknowledged {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 40060, "Interaction has already been acknowledged."));
    }
    if record.sent_at.elapsed() > INTERACTION_DEADLINE {
        return Err(Refusal::unknown_interaction());
    }
    let (channel, from_component, from_modal) = (record.channel, record.from_component, record.from_modal);
    let body = payload.json;
    let kind = body["type"].as_u64();
    let allowed = match kind {
        Some(4 | 5) => true,
        Some(6 | 7) => from_component,
        Some(9) => !from_modal,
        _ => false,
    };
    if !allowed {
        return Err(Refusal::form("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid here."));
    }
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let original = match kind {
        Some(4) => Some(response_message(world, api_url, channel, &data, payload.files)?),
        Some(7) => Some(update_clicked_message(world, interaction, channel, &data)?),
        _ => None,
    };
    if let Some(record) = world.interactions.get_mut(&interaction) {
        record.acknowledged = true;
        record.responses.push(body);
        if original.is_some() {
            record.original = original;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Callback type 7: the clicked message takes the response's content and components.
pub(super) fn update_clicked_message(world: &mut World, interaction: u64, channel: u64, data: &Value) -> Result<Value, Refusal> {
    let Some(clicked) = world.interactions.get(&interaction).and_then(|record| record.message) else {
        return Err(Refusal::unknown_message());
    };
    messages::edit_message(world, channel, clicked, data)?;
    Ok(world.message(channel, clicked).cloned().unwrap_or_default())
}

pub(super) fn interaction_by_token(world: &World, token: &str) -> Result<u64, Refusal> {
    world
        .interactions
        .iter()
        .find(|(_, record)| record.token == token)
        .map(|(id, _)| *id)
        .ok_or_else(Refusal::unknown_webhook)
}

pub(super) fn follow_up(world: &mut World, api_url: &str, token: &str, payload: Payload) -> Answer {
    let interaction = interaction_by_token(world, token)?;
    let (channel, acknowledged) = world.interactions.get(&interaction).map(|record| (record.channel, record.acknowledged)).unwrap_or_default();
    if !acknowledged {
        return Err(Refusal::unknown_webhook());
    }
    let message = response_message(world, api_url, channel, &payload.json, payload.files)?;
    if let Some(record) = world.interactions.get_mut(&interaction) {
        record.responses.push(payload.json);
    }
    ok(message)
}

pub(super) fn edit_response(world: &mut World, api_url: &str, token: &str, which: &str, payload: Payload) -> Answer {
    let interaction = interaction_by_token(world, token)?;
    let Some(record) = world.interactions.get(&interaction) else { return Err(Refusal::unknown_interaction()) };
    if !record.acknowledged {
        return Err(Refusal::unknown_message());
    }
    let channel = record.channel;
    let body = payload.json;
    let message = match (which, record.original.clone()) {
        // A public response lives in the channel: edit it there (MESSAGE_UPDATE); an ephemeral
        // one only in the interaction.
        ("@original", Some(mut original)) => {
            let id = original["id"].as_str().and_then(|id| id.parse::<u64>().ok()).unwrap_or_default();
            match world.message(channel, id) {
                Some(_) => messages::edit_message(world, channel, id, &body).and_then(|_| world.message(channel, id).cloned().ok_or_else(Refusal::unknown_message))?,
                None => {
                    messages::apply_edit(world, &mut original, &body)?;
                    original
                }
            }
        }
        // A deferred response (type 5) gets its message with the first edit.
        ("@original", None) => response_message(world, api_url, channel, &body, payload.files)?,
        (message, _) => {
            let id = snowflake(message)?;
            return match world.message(channel, id).cloned() {
                Some(_) => {
                    let edited = messages::edit_message(world, channel, id, &body)?;
                    if let Some(record) = world.interactions.get_mut(&interaction) {
                        record.responses.push(body);
                    }
                    Ok(edited)
                }
                None => Err(Refusal::unknown_message()),
            };
        }
    };
    if let Some(record) = world.interactions.get_mut(&interaction) {
        record.responses.push(body);
        record.original = Some(message.clone());
    }
    ok(message)
}
