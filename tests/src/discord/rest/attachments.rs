//! The attachment "CDN": uploads (the bot's and the users') served back under the fake's origin
//! at URLs signed and expiring like Discord's (`?ex=…&is=…&hm=…`); a tampered or expired URL
//! answers 404, as Discord's CDN does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    body::Body,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    super::{Shared, json as discord_json, world::{StoredFile, World}},
    query_param,
};

const ATTACHMENT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const ATTACHMENT_SIGNING_KEY: &str = "fake-discord-cdn";

pub(super) fn sanitized_filename(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if cleaned.is_empty() { "unknown".to_owned() } else { cleaned }
}

pub(super) fn signature(id: u64, expires: u64) -> String {
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

pub(super) fn serve(shared: &Shared, file: &str, query: &str) -> Response {
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
