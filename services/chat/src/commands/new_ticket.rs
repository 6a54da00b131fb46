//! `/ticket new`: a modal (subject, message, category), and on its submission a ticket opened the
//! way a message to the bot opens one — an `InboundMessage` whose external id is the interaction
//! id, published for tickets — with a conversation for it: in a server a thread of a support
//! channel (the one the command was used in, else the first configured one) started from a
//! message the bot posts there; in the bot's DMs the DM itself. The conversation's root is the
//! interaction id, the ticket's inbound external id, so the outbound side finds the conversation
//! when TicketCreated names it and later messages in the thread thread onto the ticket.
//!
//! The category is typed, not picked (a modal holds text inputs only) and matched by name,
//! ignoring case, among the active categories the contact may see; an unknown one is said so in
//! the answer and the ticket opens without a category, for an agent to sort.

use std::sync::Arc;

use helpdesk_proto::{
    events::v1::{InboundChannel, InboundMessage, Sender},
    tickets::v1::ListCategoriesRequest,
};
use serenity::{
    builder::{CreateActionRow, CreateAllowedMentions, CreateInputText, CreateMessage, CreateModal},
    model::{
        application::{ActionRow, ActionRowComponent, InputTextStyle, ModalInteraction},
        id::ChannelId,
    },
};

use super::{
    contact::{ActingContact, acting_as, display_name},
    respond::{Responder, escape, went_wrong},
};
use crate::{
    context::Chat,
    discord_error::{is_refusal, retry_rate_limited},
    publish::publish,
    store::{Conversation, ConversationKind, NewConversation},
    threads,
};

/// The new-ticket modal's custom id.
pub const MODAL: &str = "helpdesk:new-ticket";
const SUBJECT: &str = "subject";
const MESSAGE: &str = "message";
const CATEGORY: &str = "category";

/// Answers `/ticket new` with the modal.
pub async fn show_modal(responder: &Responder<'_>) {
    let input = |style, label: &str, id: &str| CreateInputText::new(style, label, id);
    let modal = CreateModal::new(MODAL, "New ticket").components(vec![
        CreateActionRow::InputText(input(InputTextStyle::Short, "Subject", SUBJECT).max_length(100)),
        CreateActionRow::InputText(input(InputTextStyle::Paragraph, "Message", MESSAGE).max_length(4000)),
        CreateActionRow::InputText(
            input(InputTextStyle::Short, "Category (optional)", CATEGORY)
                .max_length(100)
                .required(false)
                .placeholder("e.g. Billing"),
        ),
    ]);
    responder.modal(modal).await;
}

/// Opens the ticket the submitted modal describes; the answer says where it continues.
pub async fn submit(chat: &Arc<Chat>, modal: &ModalInteraction) -> String {
    open(chat, modal).await.unwrap_or_else(|answer| answer)
}

async fn open(chat: &Chat, modal: &ModalInteraction) -> Result<String, String> {
    let subject = field(&modal.data.components, SUBJECT);
    let message = field(&modal.data.components, MESSAGE);
    if subject.is_empty() || message.is_empty() {
        return Err("A ticket needs a subject and a message.".into());
    }
    let contact = acting_as(chat, &modal.user).await?;
    let (category, category_note) = category(chat, &contact, field(&modal.data.components, CATEGORY)).await?;
    let conversation = conversation(chat, modal, subject).await?;
    let inbound = InboundMessage {
        channel: InboundChannel::Discord as i32,
        source: modal.guild_id.map_or_else(|| "dm".to_string(), |guild| guild.get().to_string()),
        external_id: modal.id.get().to_string(),
        sender: Some(Sender { address: String::new(), handle: modal.user.id.get().to_string(), display_name: display_name(&modal.user) }),
        subject: subject.to_string(),
        text: message.to_string(),
        category,
        received_at: Some(helpdesk_kit::events::timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    publish(chat, &inbound).await.map_err(|error| went_wrong("publishing a ticket from /ticket new", error))?;
    let place = match (conversation.kind, conversation.channel_id) {
        (ConversationKind::Dm, _) | (_, None) => "here".to_string(),
        (_, Some(thread)) => format!("in <#{thread}>"),
    };
    Ok(format!("Ticket opened — we'll answer {place}.{category_note}"))
}

/// The category to ask tickets for (its name), and what the answer says about it.
async fn category(chat: &Chat, contact: &ActingContact, wanted: &str) -> Result<(String, String), String> {
    if wanted.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let request = contact.request(ListCategoriesRequest {}).map_err(|error| went_wrong("a categories request", error))?;
    let categories = chat
        .ticket_admin
        .clone()
        .list_categories(request)
        .await
        .map_err(|error| went_wrong("listing the categories", error))?
        .into_inner()
        .categories;
    Ok(match categories.into_iter().find(|category| category.active && category.name.trim().eq_ignore_ascii_case(wanted)) {
        Some(found) => (found.name, String::new()),
        None => (String::new(), format!(" There is no category “{wanted}”, so it has none for now: our team will sort it.")),
    })
}

/// The conversation the ticket continues in: the DM, or a new thread of a support channel.
async fn conversation(chat: &Chat, modal: &ModalInteraction, subject: &str) -> Result<Conversation, String> {
    let store_failed = |error: sqlx::Error| went_wrong("starting a conversation for /ticket new", error);
    let Some(guild) = modal.guild_id else {
        if let Some(open) = chat.store.open_dm(modal.channel_id.get()).await.map_err(store_failed)? {
            let number = open.ticket_number.map(|n| format!(" (#{n})")).unwrap_or_default();
            return Err(format!(
                "We are already talking about a ticket here{number}: write here to add to it, or close it with `/ticket close` before opening another."
            ));
        }
        let new = NewConversation {
            kind: ConversationKind::Dm,
            channel_id: Some(modal.channel_id.get()),
            parent_channel_id: None,
            guild_id: None,
            root_message_id: modal.id.get(),
            user_id: modal.user.id.get(),
        };
        return chat.store.start_conversation(&new).await.map_err(store_failed);
    };
    let support = &chat.config.support_channels;
    let Some(parent) = support.iter().copied().find(|channel| *channel == modal.channel_id.get()).or_else(|| support.first().copied()) else {
        return Err("Tickets are not opened in this server. Send me a direct message instead.".into());
    };
    let new = NewConversation {
        kind: ConversationKind::Thread,
        channel_id: None,
        parent_channel_id: Some(parent),
        guild_id: Some(guild.get()),
        root_message_id: modal.id.get(),
        user_id: modal.user.id.get(),
    };
    let mut conversation = chat.store.start_conversation(&new).await.map_err(store_failed)?;
    if conversation.channel_id.is_none() {
        let thread = start_thread(chat, ChannelId::new(parent), modal, subject).await.map_err(|error| {
            if is_refusal(&error) {
                tracing::warn!(channel = parent, error = format!("{error:#}"), "Discord refused the bot a ticket thread");
                format!(
                    "I may not open a thread in <#{parent}>: the server's admins need to give me the Send Messages and Create Public Threads permissions there. Until then, send me a direct message and I'll open your ticket."
                )
            } else {
                went_wrong("starting the ticket's thread", error)
            }
        })?;
        chat.store.set_channel(conversation.id, thread.get()).await.map_err(store_failed)?;
        conversation.channel_id = Some(thread.get());
    }
    Ok(conversation)
}

/// Posts the ticket's starter message in the support channel and starts its thread from it.
async fn start_thread(chat: &Chat, parent: ChannelId, modal: &ModalInteraction, subject: &str) -> serenity::Result<ChannelId> {
    let starter = || {
        let message = CreateMessage::new()
            .content(format!("**{}** — a ticket opened by <@{}>", escape(subject), modal.user.id))
            .allowed_mentions(CreateAllowedMentions::new());
        parent.send_message(&*chat.http, message)
    };
    let starter = retry_rate_limited(starter).await?;
    threads::start_from_message(chat, parent, starter.id, subject).await
}

/// A text input's value in the submitted modal (trimmed; empty when missing).
fn field<'a>(rows: &'a [ActionRow], custom_id: &str) -> &'a str {
    rows.iter()
        .flat_map(|row| &row.components)
        .find_map(|component| match component {
            ActionRowComponent::InputText(input) if input.custom_id == custom_id => input.value.as_deref(),
            _ => None,
        })
        .unwrap_or_default()
        .trim()
}
