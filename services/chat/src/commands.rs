//! Slash commands and components. The command handlers are the commands slice's to write; what
//! other modules rely on is here already: the entry points the connection calls and the stateless
//! Close button every ticket thread carries.

use std::sync::Arc;

use serenity::{all::ButtonStyle, builder::CreateButton, model::application::Interaction};
use uuid::Uuid;

use crate::context::Chat;

/// Component ids carry everything a click needs, so they work after a restart: the Close button
/// of a ticket is `helpdesk:close:<ticket id>`.
pub const CLOSE_BUTTON: &str = "helpdesk:close:";

/// The Close button of a ticket's conversation.
pub fn close_button(ticket: Uuid) -> CreateButton {
    CreateButton::new(format!("{CLOSE_BUTTON}{ticket}")).label("Close ticket").style(ButtonStyle::Secondary)
}

/// Registers the slash commands (per configured guild, else globally); called on READY.
pub async fn register(chat: &Arc<Chat>) -> anyhow::Result<()> {
    let _ = (&chat.token_service, &chat.tokens);
    Ok(())
}

/// Answers an interaction (a slash command, a modal, a button) within Discord's 3 seconds.
pub async fn on_interaction(chat: &Arc<Chat>, interaction: Interaction) {
    let _ = (chat, interaction);
}
