//! The bot's gateway connection. (Placeholder until the inbound slice lands: waits for shutdown.)

use std::sync::Arc;

use helpdesk_kit::CancellationToken;

use crate::context::Chat;

pub async fn run(chat: Arc<Chat>, shutdown: CancellationToken) {
    let _ = (&chat.config, &chat.store, &chat.nats, &chat.blobs, &chat.contacts, &chat.reply_secret);
    let _ = crate::publish::publish;
    shutdown.cancelled().await;
}
