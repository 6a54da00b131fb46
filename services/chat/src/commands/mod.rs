//! Slash commands and components: `/ticket new|list|status|close`, `/link email:`, the new-ticket
//! modal and the Close button every ticket thread carries.
//!
//! Every interaction is answered within Discord's 3 seconds: at once when the answer needs no
//! work (the modal, "not available"), otherwise deferred (ephemeral) first and the original
//! response edited when the work is done ([`respond`]). Chat acts **as the Discord user's
//! contact** with a contact token from identity ([`contact`]), so tickets' own authorization
//! decides what she may see and do; chat's service token is only used to find that contact and
//! for `/link`, which identity allows services only.
//!
//! - `definitions`: the commands as registered, and their registration;
//! - `respond`: the first response, deferral and the edit of the original response;
//! - `contact`: the contact of a Discord user and a token acting as her;
//! - `conversation`: the ticket of the thread or DM a command is used in;
//! - `new_ticket`: `/ticket new`, its modal and what submitting it opens;
//! - `list`, `status`, `close`, `link`: the other commands (close also the Close button).
//!
//! Component and modal ids carry everything they need (`helpdesk:close:<ticket id>`), so they
//! work after a restart and on any replica.

mod close;
mod contact;
mod conversation;
mod definitions;
mod link;
mod list;
mod new_ticket;
mod respond;
mod status;

use std::sync::Arc;

use serenity::{
    all::ButtonStyle,
    builder::CreateButton,
    model::application::{CommandDataOptionValue, CommandInteraction, ComponentInteraction, Interaction, ModalInteraction},
};
use uuid::Uuid;

use crate::context::Chat;
pub use definitions::register;
use respond::Responder;

/// Component ids carry everything a click needs, so they work after a restart: the Close button
/// of a ticket is `helpdesk:close:<ticket id>`.
pub const CLOSE_BUTTON: &str = "helpdesk:close:";

/// What an interaction chat does not know is told (ephemerally).
const NOT_AVAILABLE: &str = "This is not available (any more). Try `/ticket` or `/link`.";

/// The Close button of a ticket's conversation.
pub fn close_button(ticket: Uuid) -> CreateButton {
    CreateButton::new(format!("{CLOSE_BUTTON}{ticket}")).label("Close ticket").style(ButtonStyle::Secondary)
}

/// Answers an interaction (a slash command, a modal, a button) within Discord's 3 seconds.
pub async fn on_interaction(chat: &Arc<Chat>, interaction: Interaction) {
    match interaction {
        Interaction::Command(command) => on_command(chat, &command).await,
        Interaction::Modal(modal) => on_modal(chat, &modal).await,
        Interaction::Component(component) => on_component(chat, &component).await,
        other => tracing::debug!(kind = ?other.kind(), "interaction of a kind chat does not answer"),
    }
}

async fn on_command(chat: &Arc<Chat>, command: &CommandInteraction) {
    let responder = Responder::new(&chat.http, command.id, &command.token);
    let data = &command.data;
    let subcommand = data.options.first().filter(|option| matches!(option.value, CommandDataOptionValue::SubCommand(_)));
    match (data.name.as_str(), subcommand.map(|option| option.name.as_str())) {
        ("ticket", Some("new")) => new_ticket::show_modal(&responder).await,
        ("ticket", Some("list")) => responder.deferred(list::list(chat, &command.user)).await,
        ("ticket", Some("status")) => responder.deferred(status::status_here(chat, &command.user, command.channel_id)).await,
        ("ticket", Some("close")) => responder.deferred(close::close_here(chat, &command.user, command.channel_id)).await,
        ("link", None) => {
            let email = data.options.iter().find(|option| option.name == "email").and_then(|option| option.value.as_str());
            match email {
                Some(email) => responder.deferred(link::link(chat, &command.user, email)).await,
                None => responder.say(link::NO_ADDRESS).await,
            }
        }
        (name, subcommand) => {
            tracing::warn!(command = name, ?subcommand, interaction = %command.id, "unknown slash command");
            responder.say(NOT_AVAILABLE).await;
        }
    }
}

async fn on_modal(chat: &Arc<Chat>, modal: &ModalInteraction) {
    let responder = Responder::new(&chat.http, modal.id, &modal.token);
    if modal.data.custom_id == new_ticket::MODAL {
        responder.deferred(new_ticket::submit(chat, modal)).await;
    } else {
        tracing::warn!(custom_id = modal.data.custom_id, interaction = %modal.id, "unknown modal");
        responder.say(NOT_AVAILABLE).await;
    }
}

async fn on_component(chat: &Arc<Chat>, component: &ComponentInteraction) {
    let responder = Responder::new(&chat.http, component.id, &component.token);
    let ticket = component.data.custom_id.strip_prefix(CLOSE_BUTTON).and_then(|id| Uuid::parse_str(id).ok());
    match ticket {
        Some(ticket) => responder.deferred(close::close(chat, &component.user, ticket)).await,
        None => {
            tracing::warn!(custom_id = component.data.custom_id, interaction = %component.id, "unknown component");
            responder.say(NOT_AVAILABLE).await;
        }
    }
}
