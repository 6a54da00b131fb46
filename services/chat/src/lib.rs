//! The chat part: the Discord channel, on serenity 0.12. In: DMs to the bot, messages in the
//! support channels (each ticket gets a thread) and posts in the forum channel become
//! `InboundMessage`s for tickets; later messages there are replies. Out: public replies on those
//! tickets are posted back. Slash commands open, list, check and close tickets.
//!
//! - `config`: the `[chat]` settings (bot token, channels, guilds);
//! - `context`: what every task shares ([`context::Chat`]);
//! - `store`: the schema `chat` — conversations (DM / thread / forum post ↔ ticket), the outbound
//!   ledger;
//! - `connection`: the bot's gateway connection, held by one replica at a time;
//! - `intake`: Discord messages → `InboundMessage`s, per channel in order; edits and deletes;
//! - `backfill`: what arrived while the bot was away, paged on every READY;
//! - `publish`: an `InboundMessage` onto the stream, deduplicated by the Discord message id;
//! - `outbound`: the durable consumer of tickets' events that posts replies, closing lines, tags;
//! - `post`: one post to Discord — split, nonce, ledger, files, unarchiving;
//! - `discord_error`: what a failed Discord request means, and waiting out 429s;
//! - `threads`: starting a ticket's thread in a support channel (intake and `/ticket new`);
//! - `commands`: slash commands and components;
//! - `app`: wiring.

mod app;
mod backfill;
mod commands;
mod config;
mod connection;
mod context;
mod discord_error;
mod intake;
mod outbound;
mod post;
mod publish;
mod store;
mod threads;

pub use app::App;
pub use config::ChatConfig;
