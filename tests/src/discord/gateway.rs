//! The fake gateway: a WebSocket server (tokio-tungstenite 0.21, the generation serenity 0.12
//! uses) speaking Discord's gateway protocol — HELLO, IDENTIFY → READY, heartbeat → ACK,
//! RESUME → missed dispatches + RESUMED (or INVALID_SESSION), sequence numbers, close codes.
//!
//! A *session* outlives its socket, as on Discord: when a socket closes, the session keeps
//! collecting dispatches, and a RESUME on a new socket replays what it missed. A new process
//! IDENTIFIEs afresh, so what happened while it was down reaches it only through REST history —
//! exactly what backfill must cope with. READY lists the guilds as unavailable; a GUILD_CREATE
//! per guild (its channels and active threads) follows. Dispatches honour the session's intents (no guild
//! messages without GUILD_MESSAGES; empty content without MESSAGE_CONTENT, except in DMs, when
//! the bot is mentioned and for the bot's own messages).

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};
use tokio_util::sync::CancellationToken;

use super::{FakeDiscord, Shared, world::World};

/// The heartbeat interval HELLO announces, in milliseconds.
const HEARTBEAT_INTERVAL_MS: u64 = 10_000;
/// With `replay_on_resume`, how many already delivered dispatches a RESUME sends again.
const REPLAYED_ON_RESUME: usize = 5;

const GUILDS: u64 = 1 << 0;
const GUILD_MESSAGES: u64 = 1 << 9;
const DIRECT_MESSAGES: u64 = 1 << 12;
const MESSAGE_CONTENT: u64 = 1 << 15;

/// What a connection task is told to do by the rest of the fake.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(String),
    Close(Option<u16>),
}

#[derive(Debug)]
pub(crate) struct Session {
    intents: u64,
    seq: u64,
    /// Every dispatch of the session: (sequence number, event name, the whole frame).
    log: Vec<(u64, String, String)>,
    /// The socket the session is attached to, if any: (connection id, its queue).
    socket: Option<(u64, mpsc::UnboundedSender<Outgoing>)>,
}

impl Session {
    fn push(&mut self, event: &str, data: &Value) {
        self.seq += 1;
        let frame = json!({ "op": 0, "t": event, "s": self.seq, "d": data }).to_string();
        if let Some((_, socket)) = &self.socket {
            // A closed queue means the socket is going away; the log keeps the frame for a RESUME.
            let _ = socket.send(Outgoing::Text(frame.clone()));
        }
        self.log.push((self.seq, event.to_owned(), frame));
    }
}

/// Where a dispatch happens, which decides the intents it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    /// A message event in a guild channel or thread; `visible` when the content intent does not
    /// apply (the bot wrote it or is mentioned).
    GuildMessage { visible: bool },
    DirectMessage,
    /// Channel and thread events.
    Guild,
    /// Interactions and anything else every session receives.
    Always,
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: HashMap<String, Session>,
    open_sockets: Vec<u64>,
    next_socket: u64,
    pub identifies: usize,
    pub resumes: usize,
    pub replay_on_resume: bool,
}

impl Sessions {
    /// Sends `event` to every identified session that may see it (attached or waiting for a
    /// RESUME).
    pub(crate) fn dispatch(&mut self, event: &str, data: &Value, scope: Scope) {
        for session in self.by_id.values_mut() {
            let intents = session.intents;
            let wanted = match scope {
                Scope::GuildMessage { .. } => intents & GUILD_MESSAGES != 0,
                Scope::DirectMessage => intents & DIRECT_MESSAGES != 0,
                Scope::Guild => intents & GUILDS != 0,
                Scope::Always => true,
            };
            if !wanted {
                continue;
            }
            match scope {
                Scope::GuildMessage { visible: false } if intents & MESSAGE_CONTENT == 0 => {
                    session.push(event, &without_content(data));
                }
                _ => session.push(event, data),
            }
        }
    }

    pub(crate) fn connected(&self) -> usize {
        self.by_id.values().filter(|session| session.socket.is_some()).count()
    }

    /// Tells every attached socket to close with `code` and detaches it from its session, so
    /// what is dispatched from now on waits for a RESUME; returns the sockets to wait for.
    pub(crate) fn close_all(&mut self, code: Option<u16>) -> Vec<u64> {
        let mut closing = Vec::new();
        for session in self.by_id.values_mut() {
            if let Some((id, socket)) = session.socket.take() {
                let _ = socket.send(Outgoing::Close(code));
                closing.push(id);
            }
        }
        closing
    }

    pub(crate) fn is_open(&self, socket: u64) -> bool {
        self.open_sockets.contains(&socket)
    }

    fn detach(&mut self, socket: u64) {
        self.open_sockets.retain(|open| *open != socket);
        for session in self.by_id.values_mut() {
            if session.socket.as_ref().is_some_and(|(id, _)| *id == socket) {
                session.socket = None;
            }
        }
    }
}

/// A dispatch as a session without the MESSAGE_CONTENT intent receives it.
fn without_content(data: &Value) -> Value {
    let mut data = data.clone();
    for field in ["content"] {
        if data.get(field).is_some() {
            data[field] = Value::from("");
        }
    }
    for field in ["attachments", "embeds", "components"] {
        if data.get(field).is_some() {
            data[field] = json!([]);
        }
    }
    data
}

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                connection(socket, shared, shutdown).await;
            }
        });
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connection(mut socket: Socket, shared: Arc<Shared>, shutdown: CancellationToken) {
    let (queue, mut outgoing) = mpsc::unbounded_channel();
    let socket_id = {
        let mut world = shared.world();
        let sessions = &mut world.sessions;
        sessions.next_socket += 1;
        sessions.open_sockets.push(sessions.next_socket);
        sessions.next_socket
    };
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS }, "s": null, "t": null });
    let mut identified = false;
    if socket.send(Message::Text(hello.to_string())).await.is_ok() {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = outgoing.recv() => match command {
                    Some(Outgoing::Text(frame)) => {
                        if socket.send(Message::Text(frame)).await.is_err() { break }
                    }
                    Some(Outgoing::Close(code)) => {
                        let frame = code.map(|code| CloseFrame { code: CloseCode::from(code), reason: "".into() });
                        let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(frame)).await;
                        break;
                    }
                    None => break,
                },
                incoming = socket.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Err(code) = receive(&shared, &text, socket_id, &queue, &mut identified) {
                            let _ = queue.send(Outgoing::Close(Some(code)));
                        }
                    }
                    Some(Ok(Message::Binary(_))) => { let _ = queue.send(Outgoing::Close(Some(4002))); }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    shared.world().sessions.detach(socket_id);
}

/// Handles one client frame; `Err` is the close code the socket answers with.
fn receive(
    shared: &Shared,
    text: &str,
    socket_id: u64,
    queue: &mpsc::UnboundedSender<Outgoing>,
    identified: &mut bool,
) -> Result<(), u16> {
    let frame: Value = serde_json::from_str(text).map_err(|_| 4002_u16)?;
    let mut world = shared.world();
    match frame["op"].as_u64() {
        Some(1) => {
            let _ = queue.send(Outgoing::Text(json!({ "op": 11, "d": null, "s": null, "t": null }).to_string()));
            Ok(())
        }
        Some(2) if *identified => Err(4005),
        Some(2) => {
            if !token_matches(&frame["d"]["token"]) {
                return Err(4004);
            }
            *identified = true;
            identify(&mut world, shared, &frame["d"], socket_id, queue);
            Ok(())
        }
        Some(6) => {
            if !token_matches(&frame["d"]["token"]) {
                return Err(4004);
            }
            *identified = resume(&mut world, &frame["d"], socket_id, queue);
            Ok(())
        }
        Some(3 | 4 | 8) if *identified => Ok(()),
        Some(3 | 4 | 8) => Err(4003),
        _ => Err(4001),
    }
}

fn token_matches(token: &Value) -> bool {
    let token = token.as_str().unwrap_or_default();
    token.strip_prefix("Bot ").unwrap_or(token) == FakeDiscord::TOKEN
}

fn identify(world: &mut World, shared: &Shared, data: &Value, socket_id: u64, queue: &mpsc::UnboundedSender<Outgoing>) {
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let guilds: Vec<Value> =
        world.guilds.keys().map(|id| json!({ "id": id.to_string(), "unavailable": true })).collect();
    let ready = json!({
        "v": 10,
        "user": world.user_json(FakeDiscord::BOT_USER_ID),
        "guilds": guilds,
        "session_id": session_id,
        "resume_gateway_url": shared.gateway_url,
        "shard": data.get("shard").cloned().unwrap_or(json!([0, 1])),
        "application": { "id": FakeDiscord::APPLICATION_ID.to_string(), "flags": 0 },
        "private_channels": [],
        "relationships": [],
    });
    let mut session = Session {
        intents: data["intents"].as_u64().unwrap_or(0),
        seq: 0,
        log: Vec::new(),
        socket: Some((socket_id, queue.clone())),
    };
    session.push("READY", &ready);
    // Discord then makes each guild available; serenity needs no GUILD_CREATE, but a bot may
    // learn the guild's channels and active threads from it.
    if session.intents & GUILDS != 0 {
        for (id, name) in &world.guilds {
            session.push("GUILD_CREATE", &super::json::guild(world, *id, name));
        }
    }
    world.sessions.identifies += 1;
    world.sessions.by_id.insert(session_id, session);
}

/// Resumes the named session on this socket; false (after INVALID_SESSION) when it cannot.
fn resume(world: &mut World, data: &Value, socket_id: u64, queue: &mpsc::UnboundedSender<Outgoing>) -> bool {
    let replay = world.sessions.replay_on_resume;
    let session_id = data["session_id"].as_str().unwrap_or_default();
    let Some(session) = world.sessions.by_id.get_mut(session_id) else {
        let invalid = json!({ "op": 9, "d": false, "s": null, "t": null });
        let _ = queue.send(Outgoing::Text(invalid.to_string()));
        return false;
    };
    let seen = data["seq"].as_u64().unwrap_or(0);
    if let Some((_, previous)) = session.socket.take() {
        let _ = previous.send(Outgoing::Close(Some(4000)));
    }
    let already_seen = session.log.iter().filter(|(seq, event, _)| *seq <= seen && !is_lifecycle(event));
    let again: Vec<&(u64, String, String)> = if replay {
        let count = already_seen.clone().count();
        already_seen.skip(count.saturating_sub(REPLAYED_ON_RESUME)).collect()
    } else {
        Vec::new()
    };
    let missed = session.log.iter().filter(|(seq, _, _)| *seq > seen);
    for (_, _, frame) in again.into_iter().chain(missed) {
        let _ = queue.send(Outgoing::Text(frame.clone()));
    }
    session.socket = Some((socket_id, queue.clone()));
    session.push("RESUMED", &json!({}));
    world.sessions.resumes += 1;
    true
}

fn is_lifecycle(event: &str) -> bool {
    matches!(event, "READY" | "RESUMED")
}
