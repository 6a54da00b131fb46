//! The fake's REST API under `/api/v10` and its attachment "CDN" under `/attachments`. One
//! fallback handler routes by path segments, so every answer — also for an unknown route, a
//! malformed id or a body that does not parse — is Discord's JSON error shape, and every unknown
//! route is recorded for `unhandled_requests()`.
//!
//! Per request, in Discord's order: count it (`create_message_requests`), answer a queued fault,
//! check the bot token (interaction and webhook routes are authorized by their token instead),
//! parse the JSON or multipart (`payload_json` + `files[n]`) body, then route.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{
    API_PREFIX, FakeDiscord, Fault, Posted, Shared, dispatch_thread_create, dispatch_thread_update,
    json::{self as discord_json, MessageParts},
    publish_message,
    world::{ChannelKind, StoredFile, World},
};

/// Discord's upload limit for bots without boosts is 10 MiB per message; the fake allows a
/// little more so the limit a test meets is the help desk's own.
const MAX_BODY: usize = 25 * 1024 * 1024;
/// Content limit for bots, in characters.
const MAX_CONTENT: usize = 2000;
const MAX_NONCE: usize = 25;
/// How long an `enforce_nonce` nonce stays unique.
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Interactions must be answered within three seconds.
const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);
/// Channel renames allowed per window.
const RENAMES_PER_WINDOW: usize = 2;
const RENAME_WINDOW: Duration = Duration::from_secs(10 * 60);
const ATTACHMENT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const ATTACHMENT_SIGNING_KEY: &str = "fake-discord-cdn";
const EPHEMERAL: u64 = 1 << 6;
const HAS_THREAD: u64 = 1 << 5;

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

type Answer = Result<Response, Response>;

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    if let Some(file) = path.strip_prefix("/attachments/") {
        return serve_attachment(&shared, file, &query);
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
            return fault_response(&fault);
        }
    }
    let by_token = matches!(segments.first(), Some(&("interactions" | "webhooks")));
    if !by_token && !authorized(request.headers()) {
        return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
    }
    let payload = match read_payload(request).await {
        Ok(payload) => payload,
        Err(response) => return response,
    };
    let (Ok(response) | Err(response)) = route_request(&shared, &method, &segments, &query, payload);
    if is_unrouted(&response) {
        return unhandled(&shared, &method, &path, &query);
    }
    response
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        == Some(&format!("Bot {}", FakeDiscord::TOKEN))
}

/// Marks "no such route" answers, told apart from Discord's own 404s (unknown channel, …).
const UNROUTED: &str = "x-fake-discord-unrouted";

fn is_unrouted(response: &Response) -> bool {
    response.headers().contains_key(UNROUTED)
}

fn no_route() -> Response {
    let mut response = not_found();
    response.headers_mut().insert(UNROUTED, HeaderValue::from_static("1"));
    response
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 0, "404: Not Found")
}

fn unhandled(shared: &Shared, method: &Method, path: &str, query: &str) -> Response {
    let line = if query.is_empty() { format!("{method} {path}") } else { format!("{method} {path}?{query}") };
    shared.world().unhandled.push(line);
    not_found()
}

async fn read_payload(request: Request) -> Result<Payload, Response> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if is_multipart {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"))?;
        let mut payload = Payload { json: Value::Null, files: Vec::new() };
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large"))?;
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
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large"))?;
    let json = if bytes.is_empty() { Value::Null } else { parse_json(&bytes)? };
    Ok(Payload { json, files: Vec::new() })
}

fn parse_json(bytes: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|_| error(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON."))
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
        ("PATCH", ["channels", channel]) => modify_channel(world, snowflake(channel)?, &payload.json),
        ("POST", ["channels", channel, "typing"]) => {
            live_channel(world, channel)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ("GET", ["channels", channel, "messages"]) => history(world, snowflake(channel)?, query),
        ("POST", ["channels", channel, "messages"]) => {
            let message = create_message(world, &shared.api_url, snowflake(channel)?, payload)?;
            ok(message)
        }
        ("GET", ["channels", channel, "messages", message]) => {
            let channel = live_channel(world, channel)?.id;
            world.message(channel, snowflake(message)?).cloned().map_or_else(|| Err(unknown_message()), ok)
        }
        ("PATCH", ["channels", channel, "messages", message]) => {
            edit_message(world, snowflake(channel)?, snowflake(message)?, &payload.json)
        }
        ("DELETE", ["channels", channel, "messages", message]) => {
            delete_message(world, snowflake(channel)?, snowflake(message)?)
        }
        ("POST", ["channels", channel, "messages", message, "threads"]) => {
            thread_from_message(world, snowflake(channel)?, snowflake(message)?, &payload.json)
        }
        ("POST", ["channels", channel, "threads"]) => start_thread(world, &shared.api_url, snowflake(channel)?, payload),
        ("PUT", ["applications", app, "commands"]) => {
            own_application(app)?;
            let commands = register_commands(world, None, &payload.json)?;
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
            let commands = register_commands(world, Some(guild), &payload.json)?;
            world.commands.guilds.insert(guild, commands.clone());
            ok(commands)
        }
        ("GET", ["applications", app, "guilds", guild, "commands"]) => {
            own_application(app)?;
            ok(world.commands.guilds.get(&snowflake(guild)?).cloned().unwrap_or_else(|| json!([])))
        }
        ("POST", ["interactions", interaction, token, "callback"]) => {
            interaction_callback(world, &shared.api_url, snowflake(interaction)?, token, payload)
        }
        ("POST", ["webhooks", app, token]) => {
            own_application(app)?;
            follow_up(world, &shared.api_url, token, payload)
        }
        ("GET", ["webhooks", app, token, "messages", "@original"]) => {
            own_application(app)?;
            let interaction = interaction_by_token(world, token)?;
            world.interactions.get(&interaction).and_then(|record| record.original.clone()).map_or_else(|| Err(unknown_message()), ok)
        }
        ("PATCH", ["webhooks", app, token, "messages", which]) => {
            own_application(app)?;
            edit_response(world, &shared.api_url, token, which, payload)
        }
        ("DELETE", ["webhooks", app, token, "messages", "@original"]) => {
            own_application(app)?;
            let interaction = interaction_by_token(world, token)?;
            if let Some(record) = world.interactions.get_mut(&interaction) {
                record.original = None;
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(no_route()),
    }
}

// ----- answers -----

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(discord_json::error(code, message))).into_response()
}

/// Discord's "Invalid Form Body" with the offending field.
fn form_error(field: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": { field: { "_errors": [{ "code": code, "message": message }] } },
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn unknown_message() -> Response {
    error(StatusCode::NOT_FOUND, 10008, "Unknown Message")
}

fn rate_limited(retry_after: f64, global: bool) -> Response {
    let body = json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": global });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let reset = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |now| now.as_secs_f64()) + retry_after;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("retry-after", format!("{}", retry_after.ceil() as u64));
    set("x-ratelimit-limit", "5".to_owned());
    set("x-ratelimit-remaining", "0".to_owned());
    set("x-ratelimit-reset", format!("{reset:.3}"));
    set("x-ratelimit-reset-after", format!("{retry_after:.3}"));
    set("x-ratelimit-bucket", "fake-discord-bucket".to_owned());
    set("x-ratelimit-scope", if global { "global" } else { "user" }.to_owned());
    if global {
        set("x-ratelimit-global", "true".to_owned());
    }
    response
}

fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after, global } => rate_limited(*retry_after, *global),
        Fault::Forbidden => error(StatusCode::FORBIDDEN, 50013, "Missing Permissions"),
        Fault::MissingAccess => error(StatusCode::FORBIDDEN, 50001, "Missing Access"),
        Fault::UnknownChannel => error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"),
        Fault::CannotDm => error(StatusCode::FORBIDDEN, 50007, "Cannot send messages to this user"),
        Fault::ServerError => error(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error"),
    }
}

// ----- arguments -----

fn snowflake(text: &str) -> Result<u64, Response> {
    text.parse().map_err(|_| form_error("id", "NUMBER_TYPE_COERCE", &format!("Value \"{text}\" is not snowflake.")))
}

fn own_application(app: &str) -> Result<(), Response> {
    if snowflake(app)? == FakeDiscord::APPLICATION_ID {
        Ok(())
    } else {
        Err(error(StatusCode::NOT_FOUND, 10002, "Unknown Application"))
    }
}

fn live_channel<'w>(world: &'w World, channel: &str) -> Result<&'w super::world::ChannelRecord, Response> {
    let id = snowflake(channel)?;
    world.live_channel(id).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))
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
        return Err(form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required"));
    };
    if !world.users.get(&user).is_some_and(|user| !user.bot) {
        return Err(error(StatusCode::BAD_REQUEST, 50007, "Cannot send messages to this user"));
    }
    let channel = world.dm_channel(user);
    let record = world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    ok(discord_json::channel(world, record))
}

fn history(world: &World, channel: u64, query: &str) -> Answer {
    world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    let limit = match query_param(query, "limit") {
        None => 50,
        Some(limit) => match limit.parse::<usize>() {
            Ok(limit @ 1..=100) => limit,
            _ => return Err(form_error("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")),
        },
    };
    let bound = |name: &str| -> Result<Option<u64>, Response> { query_param(query, name).map(|id| snowflake(&id)).transpose() };
    let (after, before, around) = (bound("after")?, bound("before")?, bound("around")?);
    let empty = std::collections::BTreeMap::new();
    let messages = world.messages.get(&channel).unwrap_or(&empty);
    // Discord answers newest first; `after` takes the messages right after the id.
    let mut page: Vec<Value> = if let Some(after) = after {
        messages.range(after + 1..).take(limit).map(|(_, message)| message.clone()).collect()
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
fn writable(world: &World, channel: u64) -> Result<(), Response> {
    let record = world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    if record.kind == ChannelKind::Forum {
        return Err(error(StatusCode::BAD_REQUEST, 50008, "Cannot send messages in a non-text channel"));
    }
    if record.archived {
        return Err(error(StatusCode::BAD_REQUEST, 50083, "Thread is archived"));
    }
    Ok(())
}

/// The message fields every create/edit route checks: content length, components.
fn checked_content(body: &Value) -> Result<String, Response> {
    let content = body["content"].as_str().unwrap_or_default().to_owned();
    if content.chars().count() > MAX_CONTENT {
        return Err(form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."));
    }
    Ok(content)
}

fn message_parts(world: &mut World, api_url: &str, channel: u64, body: &Value, files: Vec<(String, Vec<u8>)>) -> Result<MessageParts, Response> {
    let content = checked_content(body)?;
    let nonce = body.get("nonce").filter(|nonce| !nonce.is_null()).cloned();
    if nonce.as_ref().and_then(text_or_number).is_some_and(|nonce| nonce.chars().count() > MAX_NONCE) {
        return Err(form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."));
    }
    let has_something = !content.is_empty()
        || !files.is_empty()
        || body["embeds"].as_array().is_some_and(|embeds| !embeds.is_empty())
        || body["components"].as_array().is_some_and(|rows| !rows.is_empty())
        || body["sticker_ids"].as_array().is_some_and(|stickers| !stickers.is_empty());
    if !has_something {
        return Err(error(StatusCode::BAD_REQUEST, 50006, "Cannot send an empty message"));
    }
    let attachments = files.into_iter().map(|(name, bytes)| store_file(world, api_url, channel, &name, bytes)).collect();
    let message_reference = body.get("message_reference").filter(|reference| !reference.is_null()).map(|reference| {
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

fn create_message(world: &mut World, api_url: &str, channel: u64, payload: Payload) -> Result<Value, Response> {
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
    let files_for_posted = payload.files.clone();
    let parts = message_parts(world, api_url, channel, body, payload.files)?;
    let components = if parts.components.is_array() { parts.components.clone() } else { json!([]) };
    let id = world.snowflake();
    let message = discord_json::message(world, id, channel, FakeDiscord::BOT_USER_ID, parts);
    world.posted.entry(channel).or_default().push(Posted {
        id,
        channel_id: channel,
        content: message["content"].as_str().unwrap_or_default().to_owned(),
        nonce: nonce.clone(),
        files: files_for_posted.into_iter().map(|(name, bytes)| (sanitized_filename(&name), bytes)).collect(),
        components,
        at: Instant::now(),
    });
    if enforced && let Some(nonce) = nonce {
        world.nonces.insert((channel, nonce), (id, Instant::now()));
    }
    publish_message(world, channel, message.clone());
    Ok(message)
}

fn edit_message(world: &mut World, channel: u64, message: u64, body: &Value) -> Answer {
    world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    let edited_at = world.snowflake();
    let Some(stored) = world.messages.get_mut(&channel).and_then(|messages| messages.get_mut(&message)) else {
        return Err(unknown_message());
    };
    if stored["author"]["id"].as_str() != Some(&FakeDiscord::BOT_USER_ID.to_string()) {
        return Err(error(StatusCode::FORBIDDEN, 50005, "Cannot edit a message authored by another user"));
    }
    if body.get("content").is_some() {
        stored["content"] = Value::from(checked_content(body)?);
    }
    for field in ["components", "embeds", "flags"] {
        if let Some(value) = body.get(field).filter(|value| !value.is_null()) {
            stored[field] = value.clone();
        }
    }
    stored["edited_timestamp"] = Value::from(discord_json::timestamp_of(edited_at));
    let updated = stored.clone();
    let dispatched = discord_json::dispatched_message(&updated);
    let scope = super::message_scope(world, channel, true);
    world.sessions.dispatch("MESSAGE_UPDATE", &dispatched, scope);
    ok(updated)
}

fn delete_message(world: &mut World, channel: u64, message: u64) -> Answer {
    world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    let removed = world.messages.get_mut(&channel).and_then(|messages| messages.remove(&message));
    if removed.is_none() {
        return Err(unknown_message());
    }
    let mut deleted = json!({ "id": message.to_string(), "channel_id": channel.to_string() });
    if let Some(guild) = world.channels.get(&channel).and_then(|record| record.guild) {
        deleted["guild_id"] = Value::from(guild.to_string());
    }
    let scope = super::message_scope(world, channel, true);
    world.sessions.dispatch("MESSAGE_DELETE", &deleted, scope);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn thread_name(body: &Value) -> Result<String, Response> {
    match body["name"].as_str() {
        Some(name) if (1..=100).contains(&name.chars().count()) => Ok(name.to_owned()),
        _ => Err(form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")),
    }
}

fn archive_duration(body: &Value, default: u64) -> Result<u64, Response> {
    match body.get("auto_archive_duration").and_then(Value::as_u64) {
        None => Ok(default),
        Some(minutes @ (60 | 1440 | 4320 | 10080)) => Ok(minutes),
        Some(_) => Err(form_error("auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")),
    }
}

fn thread_from_message(world: &mut World, channel: u64, message: u64, body: &Value) -> Answer {
    let record = world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    if record.kind != ChannelKind::Text {
        return Err(error(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type"));
    }
    let default_duration = record.auto_archive_duration;
    if world.message(channel, message).is_none() {
        return Err(unknown_message());
    }
    if world.channels.contains_key(&message) {
        return Err(error(StatusCode::BAD_REQUEST, 160004, "A thread has already been created for this message"));
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

fn start_thread(world: &mut World, api_url: &str, parent: u64, payload: Payload) -> Answer {
    let record = world.live_channel(parent).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
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
                return Err(form_error("applied_tags", "BASE_TYPE_CHOICES", "A tag is not one of the forum's tags."));
            }
            let first = &body["message"];
            let id = world.snowflake();
            let parts = message_parts(world, api_url, id, first, payload.files.clone())?;
            world.add_thread(id, parent, FakeDiscord::BOT_USER_ID, &name, ChannelKind::PublicThread);
            if let Some(thread) = world.channels.get_mut(&id) {
                thread.applied_tags = applied;
                thread.auto_archive_duration = duration;
            }
            dispatch_thread_create(world, id);
            let components = if parts.components.is_array() { parts.components.clone() } else { json!([]) };
            let message = discord_json::message(world, id, id, FakeDiscord::BOT_USER_ID, parts);
            world.posted.entry(id).or_default().push(Posted {
                id,
                channel_id: id,
                content: message["content"].as_str().unwrap_or_default().to_owned(),
                nonce: None,
                files: payload.files.into_iter().map(|(name, bytes)| (sanitized_filename(&name), bytes)).collect(),
                components,
                at: Instant::now(),
            });
            publish_message(world, id, message.clone());
            let mut thread_json = world.channels.get(&id).map(|thread| discord_json::channel(world, thread)).unwrap_or_default();
            thread_json["message"] = message;
            Ok((StatusCode::CREATED, Json(thread_json)).into_response())
        }
        ChannelKind::Text => {
            let kind = match body["type"].as_u64() {
                Some(11) => ChannelKind::PublicThread,
                Some(12) | None => ChannelKind::PrivateThread,
                Some(_) => return Err(form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")),
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
        _ => Err(error(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type")),
    }
}

fn modify_channel(world: &mut World, channel: u64, body: &Value) -> Answer {
    let record = world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    let parent_tags: Vec<u64> = record
        .parent
        .and_then(|parent| world.channels.get(&parent))
        .map(|parent| parent.available_tags.iter().map(|(id, _)| *id).collect())
        .unwrap_or_default();
    let unarchives = body["archived"].as_bool() == Some(false);
    let changes_more = body.as_object().is_some_and(|fields| fields.keys().any(|key| key != "archived" && key != "locked"));
    if record.archived && !unarchives && changes_more {
        return Err(error(StatusCode::BAD_REQUEST, 50083, "Thread is archived"));
    }
    let name = match body.get("name") {
        Some(_) => Some(thread_name(body)?),
        None => None,
    };
    let renamed = name.as_ref().is_some_and(|name| *name != record.name);
    let applied = body.get("applied_tags").map(parse_ids);
    if applied.as_ref().is_some_and(|tags| tags.iter().any(|tag| !parent_tags.contains(tag))) {
        return Err(form_error("applied_tags", "BASE_TYPE_CHOICES", "A tag is not one of the forum's tags."));
    }
    let duration = archive_duration(body, record.auto_archive_duration)?;
    if renamed {
        let renames = world.renames.entry(channel).or_default();
        renames.retain(|at| at.elapsed() < RENAME_WINDOW);
        if renames.len() >= RENAMES_PER_WINDOW {
            let retry_after = renames.first().map_or(0.0, |first| (RENAME_WINDOW - first.elapsed()).as_secs_f64());
            return Err(rate_limited(retry_after, false));
        }
        renames.push(Instant::now());
    }
    let Some(record) = world.channels.get_mut(&channel) else {
        return Err(error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"));
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
    let record = world.live_channel(channel).ok_or_else(|| error(StatusCode::NOT_FOUND, 10003, "Unknown Channel"))?;
    ok(discord_json::channel(world, record))
}

fn register_commands(world: &mut World, guild: Option<u64>, body: &Value) -> Result<Value, Response> {
    let Some(commands) = body.as_array() else {
        return Err(form_error("_root", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    let mut registered = Vec::with_capacity(commands.len());
    for command in commands {
        let name = command["name"].as_str().unwrap_or_default();
        let valid_name = (1..=32).contains(&name.chars().count())
            && name.chars().all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()));
        if !valid_name {
            return Err(form_error("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"));
        }
        let kind = command["type"].as_u64().unwrap_or(1);
        let description = command["description"].as_str().unwrap_or_default().chars().count();
        if kind == 1 && !(1..=100).contains(&description) {
            return Err(form_error("description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
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

fn unknown_interaction() -> Response {
    error(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
}

/// The message an interaction response creates, as the application's webhook.
fn response_message(world: &mut World, api_url: &str, channel: u64, body: &Value, files: Vec<(String, Vec<u8>)>) -> Result<Value, Response> {
    let ephemeral = body["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0;
    let mut parts = message_parts(world, api_url, channel, body, files)?;
    parts.application_id = Some(FakeDiscord::APPLICATION_ID);
    parts.webhook_id = Some(FakeDiscord::APPLICATION_ID);
    if ephemeral {
        parts.flags |= EPHEMERAL;
    }
    let id = world.snowflake();
    let message = discord_json::message(world, id, channel, FakeDiscord::BOT_USER_ID, parts);
    if !ephemeral {
        publish_message(world, channel, message.clone());
    }
    Ok(message)
}

fn interaction_callback(world: &mut World, api_url: &str, interaction: u64, token: &str, payload: Payload) -> Answer {
    let Some(record) = world.interactions.get(&interaction).filter(|record| record.token == token) else {
        return Err(unknown_interaction());
    };
    if record.acknowledged {
        return Err(error(StatusCode::BAD_REQUEST, 40060, "Interaction has already been acknowledged."));
    }
    if record.sent_at.elapsed() > INTERACTION_DEADLINE {
        return Err(unknown_interaction());
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
        return Err(form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid here."));
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
fn update_clicked_message(world: &mut World, interaction: u64, channel: u64, data: &Value) -> Result<Value, Response> {
    let Some(clicked) = world.interactions.get(&interaction).and_then(|record| record.message) else {
        return Err(unknown_message());
    };
    edit_message(world, channel, clicked, data)?;
    Ok(world.message(channel, clicked).cloned().unwrap_or_default())
}

fn interaction_by_token(world: &World, token: &str) -> Result<u64, Response> {
    world
        .interactions
        .iter()
        .find(|(_, record)| record.token == token)
        .map(|(id, _)| *id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook"))
}

fn follow_up(world: &mut World, api_url: &str, token: &str, payload: Payload) -> Answer {
    let interaction = interaction_by_token(world, token)?;
    let (channel, acknowledged) = world.interactions.get(&interaction).map(|record| (record.channel, record.acknowledged)).unwrap_or_default();
    if !acknowledged {
        return Err(error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook"));
    }
    let message = response_message(world, api_url, channel, &payload.json, payload.files)?;
    if let Some(record) = world.interactions.get_mut(&interaction) {
        record.responses.push(payload.json);
    }
    ok(message)
}

fn edit_response(world: &mut World, api_url: &str, token: &str, which: &str, payload: Payload) -> Answer {
    let interaction = interaction_by_token(world, token)?;
    let Some(record) = world.interactions.get(&interaction) else { return Err(unknown_interaction()) };
    if !record.acknowledged {
        return Err(unknown_message());
    }
    let channel = record.channel;
    let body = payload.json;
    let content = checked_content(&body)?;
    let message = match (which, record.original.clone()) {
        ("@original", Some(mut original)) => {
            if body.get("content").is_some() {
                original["content"] = Value::from(content);
            }
            for field in ["components", "embeds"] {
                if let Some(value) = body.get(field).filter(|value| !value.is_null()) {
                    original[field] = value.clone();
                }
            }
            original
        }
        // A deferred response (type 5) gets its message with the first edit.
        ("@original", None) => response_message(world, api_url, channel, &body, payload.files)?,
        (message, _) => {
            let id = snowflake(message)?;
            return match world.message(channel, id).cloned() {
                Some(_) => {
                    let edited = edit_message(world, channel, id, &body)?;
                    if let Some(record) = world.interactions.get_mut(&interaction) {
                        record.responses.push(body);
                    }
                    Ok(edited)
                }
                None => Err(unknown_message()),
            };
        }
    };
    if let Some(record) = world.interactions.get_mut(&interaction) {
        record.responses.push(body);
        record.original = Some(message.clone());
    }
    ok(message)
}

// ----- attachments -----

fn sanitized_filename(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if cleaned.is_empty() { "unknown".to_owned() } else { cleaned }
}

fn signature(id: u64, expires: u64) -> String {
    let digest = Sha256::digest(format!("{ATTACHMENT_SIGNING_KEY}:{id}:{expires}"));
    digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// Stores an upload and returns its attachment object, whose URL is signed and expires like a
/// Discord CDN link (`?ex=…&is=…&hm=…`).
pub(crate) fn store_file(world: &mut World, api_url: &str, channel: u64, name: &str, bytes: Vec<u8>) -> Value {
    let id = world.snowflake();
    let filename = sanitized_filename(name);
    let issued = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| now.as_secs());
    let expires = issued + ATTACHMENT_LIFETIME.as_secs();
    let url = format!("{api_url}/attachments/{channel}/{id}/{filename}?ex={expires:x}&is={issued:x}&hm={}", signature(id, expires));
    let attachment = discord_json::attachment(id, &filename, bytes.len(), &url);
    world.files.insert(id, StoredFile { filename, bytes });
    attachment
}

fn serve_attachment(shared: &Shared, file: &str, query: &str) -> Response {
    let not_available = || (StatusCode::NOT_FOUND, "This content is no longer available.").into_response();
    let mut parts = file.split('/');
    let (Some(_channel), Some(id), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return not_available();
    };
    let Ok(id) = id.parse::<u64>() else { return not_available() };
    let expires = query_param(query, "ex").and_then(|ex| u64::from_str_radix(&ex, 16).ok());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| now.as_secs());
    let signed = expires.is_some_and(|expires| expires > now && query_param(query, "hm") == Some(signature(id, expires)));
    let world = shared.world();
    match world.files.get(&id) {
        Some(stored) if signed && stored.filename == name => {
            let content_type = discord_json::attachment(id, name, 0, "")["content_type"].as_str().unwrap_or("application/octet-stream").to_owned();
            ([(header::CONTENT_TYPE, content_type)], Body::from(stored.bytes.clone())).into_response()
        }
        _ => not_available(),
    }
}
