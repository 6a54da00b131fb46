//! The slash commands as Discord shows them, and their registration on READY: a bulk overwrite
//! (so a command removed here disappears there), per configured guild when `[chat] guilds` names
//! any (instant), else globally (Discord takes up to an hour to show changes). Both commands are
//! usable in servers and in the bot's DMs.

use std::sync::Arc;

use serenity::{
    builder::{CreateCommand, CreateCommandOption},
    model::{
        application::{Command, CommandOptionType, InteractionContext},
        id::GuildId,
    },
};

use crate::context::Chat;

/// Registers the slash commands (per configured guild, else globally); called on READY.
pub async fn register(chat: &Arc<Chat>) -> anyhow::Result<()> {
    if chat.config.guilds.is_empty() {
        Command::set_global_commands(&chat.http, commands()).await?;
        tracing::info!("slash commands registered globally");
        return Ok(());
    }
    for guild in &chat.config.guilds {
        GuildId::new(*guild).set_commands(&chat.http, commands()).await?;
        tracing::info!(guild, "slash commands registered for the guild");
    }
    Ok(())
}

/// `/ticket new|list|status|close` and `/link email:`.
fn commands() -> Vec<CreateCommand> {
    let subcommand = |name: &str, description: &str| CreateCommandOption::new(CommandOptionType::SubCommand, name, description);
    let everywhere = vec![InteractionContext::Guild, InteractionContext::BotDm];
    vec![
        CreateCommand::new("ticket")
            .description("Your support tickets")
            .add_option(subcommand("new", "Open a ticket"))
            .add_option(subcommand("list", "Your tickets, from every channel"))
            .add_option(subcommand("status", "The status of this thread's or DM's ticket"))
            .add_option(subcommand("close", "Mark this thread's or DM's ticket complete"))
            .contexts(everywhere.clone()),
        CreateCommand::new("link")
            .description("Link your Discord account to your email address, to see all your tickets in one place")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "email", "Your email address; we mail you a link to confirm it")
                    .required(true)
                    .max_length(254),
            )
            .contexts(everywhere),
    ]
}
