//! Slash commands and components. (Placeholder until the commands slice lands.)

use crate::context::Chat;

pub fn placeholder(chat: &Chat) {
    let _ = (&chat.token_service, &chat.tokens);
}
