//! Posting replies to Discord. (Placeholder until the outbound slice lands: binds nothing.)

use std::sync::Arc;

use helpdesk_kit::CancellationToken;

use crate::context::Chat;

pub struct Replies {
    chat: Arc<Chat>,
}

impl Replies {
    pub async fn bind(chat: Arc<Chat>) -> anyhow::Result<Self> {
        Ok(Self { chat })
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let _ = (&self.chat.http, &self.chat.tickets);
        shutdown.cancelled().await;
    }
}
