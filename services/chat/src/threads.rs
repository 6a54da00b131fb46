//! Ticket threads: a thread started from a message in a support channel and named by the ticket's
//! subject. Intake starts one from the contact's own message, `/ticket new` from the starter
//! message the bot posts for the modal; both come here, with Discord's rate limits waited out.

use serenity::{
    builder::CreateThread,
    model::{
        channel::AutoArchiveDuration,
        id::{ChannelId, MessageId},
    },
};

use crate::{context::Chat, discord_error::retry_rate_limited};

/// Discord's limit for a thread's name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Starts the ticket thread of `message` in `channel`.
pub async fn start_from_message(chat: &Chat, channel: ChannelId, message: MessageId, subject: &str) -> serenity::Result<ChannelId> {
    let archive = AutoArchiveDuration::from(chat.config.thread_auto_archive_minutes);
    let name = name_of(subject);
    let thread = retry_rate_limited(|| channel.create_thread_from_message(&*chat.http, message, CreateThread::new(name.clone()).auto_archive_duration(archive))).await?;
    Ok(thread.id)
}

/// Discord thread names are 1–100 characters.
fn name_of(subject: &str) -> String {
    let name: String = subject.chars().take(MAX_NAME_CHARS).collect();
    if name.trim().is_empty() { "Ticket".to_string() } else { name }
}

#[cfg(test)]
mod tests {
    use super::name_of;

    #[test]
    fn an_empty_subject_still_names_the_thread_and_a_long_one_is_cut_between_characters() {
        assert_eq!(name_of("   "), "Ticket");
        assert_eq!(name_of(&"é".repeat(150)).chars().count(), 100);
    }
}
