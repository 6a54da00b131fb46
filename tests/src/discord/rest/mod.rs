//! The fake's REST API under `/api/v10` and its attachment "CDN" under `/attachments`. One
//! fallback handler routes by path segments, so every answer — also for an unknown route, a
//! malformed id or a body that does not parse — is Discord's JSON shape; unknown routes are
//! recorded for `unhandled_requests()`, refused requests for `refused_requests()`.
//!
//! Per request, in Discord's order: count it (`create_message_requests`), answer a queued fault,
//! check the bot token (interaction and webhook routes are authorized by their token instead),
//! parse the JSON or multipart (`payload_json` + `files[n]`) body, then route. The routes live
//! by topic: `messages` (history, create/edit/delete, nonces), `threads` (threads, forum posts,
//! channel edits), `interactions` (commands, callbacks, webhooks), `attachments` (the CDN);
//! `refusal` is Discord's error answer.

mod attachments;
mod interactions;
mod messages;
mod refusal;
mod threads;

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub(crate) use attachments::store_file;
use refusal::Refusal;

use super::{API_PREFIX, FakeDiscord, Shared, json as discord_json, world::World};

/// Discord's upload limit for bots without boosts is 10 MiB per message; the fake allows a
/// little more so the limit a test meets is the help desk's own.
const MAX_BODY: usize = 25 * 1024 * 1024;

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let app = Router::new().fallback(handle).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(shared);
    tokio::select! {
        () = shutdown.cancelled() => {}
        _ = axum::serve(listener, app) => {}
    }
}

/// A parsed request body: the JSON (or `payload_json`) and the uploaded files.
struct Payload {
    json: Value,
    files: Vec<(String, Vec<u8>)>,
}

type Answer = Result<Response, Refusal>;

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    if let Some(file) = path.strip_prefix("/attachments/") {
        return attachments::serve(&shared, file, &query);
    }
    let Some(route) = path.strip_prefix(API_PREFIX) else {
        return unhandled(&shared, &method, &path, &query);
    };
    let segments: Vec<&str> = route.trim_matches('/').split('/').collect();
    {
        let mut world = shared.world();
        if method == Method::POST
            && let ["channels", channel, "messages"] = segments[..]
            && let Ok(channel) = channel.parse::<u64>()
        {
            *world.create_message_requests.entry(channel).or_default() += 1;
        }
        if let Some(fault) = world.take_fault(method.as_str(), route) {
            return Refusal::fault(&fault).into_response();
        }
    }
    let by_token = matches!(segments.first(), Some(&("interactions" | "webhooks")));
    if !by_token && !authorized(request.headers()) {
        return refuse(&shared, &method, &path, Refusal::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized"));
    }
    let answer = match read_payload(request).await {
        Ok(payload) => route_request(&shared, &method, &segments, &query, payload),
        Err(refusal) => Err(refusal),
    };
    match answer {
        Ok(response) => response,
        Err(refusal) if refusal.is_unrouted() => unhandled(&shared, &method, &path, &query),
        Err(refusal) => refuse(&shared, &method, &path, refusal),
    }
}

/// Answers `refusal` and records it for `refused_requests()`.
fn refuse(shared: &Shared, method: &Method, path: &str, refusal: Refusal) -> Response {
    shared.world().refused.push(format!("{method} {path} → {}", refusal.summary()));
    refusal.into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        == Some(&format!("Bot {}", FakeDiscord::TOKEN))
}

async fn read_payload(request: Request) -> Result<Payload, Refusal> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if is_multipart {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"))?;
        let mut payload = Payload { json: Value::Null, files: Vec::new() };
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|_| Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large"))?;
            if name == "payload_json" {
                payload.json = parse_json(&bytes)?;
            } else if name == "file" || name.starts_with("files[") {
                payload.files.push((filename.unwrap_or(name), bytes.to_vec()));
            }
        }
        return Ok(payload);
    }
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large"))?;
    let json = if bytes.is_empty() { Value::Null } else { parse_json(&bytes)? };
    Ok(Payload { json, files: Vec::new() })
}

fn parse_json(bytes: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(bytes).map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON."))
}

fn route_request(shared: &Shared, method: &Method, segments: &[&str], query: &str, payload: Payload) -> Answer {
    let mut world = shared.world();
    let world = &mut *world;
    match (method.as_str(), segments) {
        ("GET", ["gateway"]) => ok(json!({ "url": shared.gateway_url })),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": shared.gateway_url,
            "shards": 1,
            "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1 },
        })),
        ("GET", ["users", "@me"]) => {
            let mut me = world.user_json(FakeDiscord::BOT_USER_ID);
            me["verified"] = Value::from(true);
            me["mfa_enabled"] = Value::from(false);
            me["email"] = Value::Null;
            ok(me)
        }
        ("GET", ["oauth2", "applications", "@me"]) => ok(application(world)),
        ("POST", ["users", "@me", "channels"]) => open_dm(world, &payload.json),
        ("GET", ["channels", channel]) => {
            let channel = live_channel(world, channel)?;
            ok(discord_json::channel(world, channel))
        }
        ("PATCH", ["channels", channel]) => threads::modify_channel(world, snowflake(channel)?, &payload.json),
        ("POST", ["channels", channel, "typing"]) => {
            live_channel(world, channel)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ("GET", ["channels", channel, "messages"]) => messages::history(world, snowflake(channel)?, query),
        ("POST", ["channels", channel, "messages"]) => {
            let message = messages::create_message(world, &shared.api_url, snowflake(channel)?, payload)?;
            ok(message)
        }
        ("GET", ["channels", channel, "messages", message]) => {
            let channel = live_channel(world, channel)?.id;
            world.message(channel, snowflake(message)?).cloned().map_or_else(|| Err(Refusal::unknown_message()), ok)
        }
        ("PATCH", ["channels", channel, "messages", message]) => {
            messages::edit_message(world, snowflake(channel)?, snowflake(message)?, &payload.json)
        }
        ("DELETE", ["channels", channel, "messages", message]) => {
            messages::delete_message(world, snowflake(channel)?, snowflake(message)?)
        }
        ("GET", ["guilds", guild, "channels"]) => {
            let guild = known_guild(world, guild)?;
            ok(world
                .channels
                .values()
                .filter(|channel| channel.guild == Some(guild) && !channel.deleted && !channel.kind.is_thread())
                .map(|channel| discord_json::channel(world, channel))
                .collect())
        }
        ("GET", ["guilds", guild, "threads", "active"]) => {
            let guild = known_guild(world, guild)?;
            let threads: Vec<Value> = world
                .channels
                .values()
                .filter(|thread| thread.guild == Some(guild) && thread.kind.is_thread() && !thread.deleted && !thread.archived)
                .map(|thread| discord_json::channel(world, thread))
                .collect();
            ok(json!({ "threads": threads, "members": [], "has_more": false }))
        }
        ("GET", ["channels", channel, "threads", "archived", "public"]) => {
            let parent = live_channel(world, channel)?.id;
            let threads: Vec<Value> = world
                .channels
                .values()
                .filter(|thread| thread.parent == Some(parent) && thread.archived && !thread.deleted)
                .map(|thread| discord_json::channel(world, thread))
                .collect();
            ok(json!({ "threads": threads, "members": [], "has_more": false }))
        }
        ("POST", ["channels", channel, "messages", message, "threads"]) => {
            threads::thread_from_message(world, snowflake(channel)?, snowflake(message)?, &payload.json)
        }
        ("POST", ["channels", channel, "threads"]) => threads::start_thread(world, &shared.api_url, snowflake(channel)?, payload),
        ("PUT", ["applications", app, "commands"]) => {
            own_application(app)?;
            let commands = interactions::register_commands(world, None, &payload.json)?;
            world.commands.global = Some(commands.clone());
            ok(commands)
        }
        ("GET", ["applications", app, "commands"]) => {
            own_application(app)?;
            ok(world.commands.global.clone().unwrap_or_else(|| json!([])))
        }
        ("PUT", ["applications", app, "guilds", guild, "commands"]) => {
            own_application(app)?;
            let guild = snowflake(guild)?;
            let commands = interactions::register_commands(world, Some(guild), &payload.json)?;
            world.commands.guilds.insert(guild, commands.clone());
            ok(commands)
        }
        ("GET", ["applications", app, "guilds", guild, "commands"]) => {
            own_application(app)?;
            ok(world.commands.guilds.get(&snowflake(guild)?).cloned().unwrap_or_else(|| json!([])))
        }
        ("POST", ["interactions", interaction, token, "callback"]) => {
            interactions::interaction_callback(world, &shared.api_url, snowflake(interaction)?, token, payload)
        }
        ("POST", ["webhooks", app, token]) => {
            own_application(app)?;
            interactions::follow_up(world, &shared.api_url, token, payload)
        }
        ("GET", ["webhooks", app, token, "messages", "@original"]) => {
            own_application(app)?;
            let interaction = interactions::interaction_by_token(world, token)?;
            world.interactions.get(&interaction).and_then(|record| record.original.clone()).map_or_else(|| Err(Refusal::unknown_message()), ok)
        }
        ("PATCH", ["webhooks", app, token, "messages", which]) => {
            own_application(app)?;
            interactions::edit_response(world, &shared.api_url, token, which, payload)
        }
        ("DELETE", ["webhooks", app, token, "messages", "@original"]) => {
            own_application(app)?;
            let interaction = interactions::interaction_by_token(world, token)?;
            if let Some(record) = world.interactions.get_mut(&interaction) {
                record.original = None;
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(Refusal::no_route()),
    }
}

// ----- answers -----

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

fn unhandled(shared: &Shared, method: &Method, path: &str, query: &str) -> Response {
    let line = if query.is_empty() { format!("{method} {path}") } else { format!("{method} {path}?{query}") };
    shared.world().unhandled.push(line);
    Refusal::not_found().into_response()
}


// ----- arguments -----

fn snowflake(text: &str) -> Result<u64, Refusal> {
    text.parse().map_err(|_| Refusal::form("id", "NUMBER_TYPE_COERCE", &format!("Value \"{text}\" is not snowflake.")))
}

fn own_application(app: &str) -> Result<(), Refusal> {
    if snowflake(app)? == FakeDiscord::APPLICATION_ID {
        Ok(())
    } else {
        Err(Refusal::new(StatusCode::NOT_FOUND, 10002, "Unknown Application"))
    }
}

fn live_channel<'w>(world: &'w World, channel: &str) -> Result<&'w super::world::ChannelRecord, Refusal> {
    existing_channel(world, snowflake(channel)?)
}

fn known_guild(world: &World, guild: &str) -> Result<u64, Refusal> {
    let id = snowflake(guild)?;
    if world.guilds.contains_key(&id) { Ok(id) } else { Err(Refusal::new(StatusCode::NOT_FOUND, 10004, "Unknown Guild")) }
}

/// The channel, unless it is unknown or was deleted (404, code 10003).
fn existing_channel(world: &World, channel: u64) -> Result<&super::world::ChannelRecord, Refusal> {
    world.live_channel(channel).ok_or_else(Refusal::unknown_channel)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// A string or number field as text (Discord accepts both for a nonce).
fn text_or_number(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn parse_ids(value: &Value) -> Vec<u64> {
    value.as_array().into_iter().flatten().filter_map(|id| text_or_number(id)?.parse().ok()).collect()
}

// ----- routes -----

fn application(world: &World) -> Value {
    json!({
        "id": FakeDiscord::APPLICATION_ID.to_string(),
        "name": "Helpdesk",
        "icon": null,
        "description": "",
        "rpc_origins": [],
        "bot_public": true,
        "bot_require_code_grant": false,
        "owner": world.user_json(FakeDiscord::BOT_USER_ID),
        "verify_key": "0".repeat(64),
        "team": null,
        "flags": 0,
        "bot": world.user_json(FakeDiscord::BOT_USER_ID),
    })
}

fn open_dm(world: &mut World, body: &Value) -> Answer {
    let Some(user) = text_or_number(&body["recipient_id"]).and_then(|id| id.parse::<u64>().ok()) else {
        return Err(Refusal::form("recipient_id", "BASE_TYPE_REQUIRED", "This field is required"));
    };
    if world.users.get(&user).is_none_or(|user| user.bot) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, 50007, "Cannot send messages to this user"));
    }
    let channel = world.dm_channel(user);
    let record = existing_channel(world, channel)?;
    ok(discord_json::channel(world, record))
}
