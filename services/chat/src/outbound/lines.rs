//! The words the bot posts and notes, in one place: a ticket's welcome and closing lines, who a
//! reply is from, what did not fit in a message, and the internal note when a post did not reach
//! Discord. Names are escaped so a name cannot restyle the line it signs.

use helpdesk_proto::tickets::v1::Channel;

use crate::discord_error::DiscordFailure;

/// The first line in a ticket's conversation.
pub fn welcome(number: i64) -> String {
    format!("Ticket #{number} opened — replies here go to our support team.")
}

/// The line when a ticket is completed; where the conversation goes on depends on where it is.
pub fn completed(number: i64, in_dm: bool) -> String {
    if in_dm {
        format!("Ticket #{number} is completed — a new message opens a new ticket.")
    } else {
        format!("Ticket #{number} is completed — write here to reopen it.")
    }
}

/// "**Ann (Support)**" from `agent_display_format` (`{name}` is the agent's name); "**Support**"
/// when the author has no name (a service, a staff member identity no longer knows).
pub fn agent_signature(format: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("**{}**", format.replace("{name}", &escape(name))),
        None => "**Support**".to_string(),
    }
}

/// "**Maria (by email)**": a contact's own reply that came another way than Discord.
pub fn contact_signature(name: Option<&str>, channel: i32) -> String {
    let name = escape(name.unwrap_or("The customer"));
    let by = match Channel::try_from(channel) {
        Ok(Channel::Email) => "by email",
        Ok(Channel::Portal) => "on the portal",
        Ok(Channel::Chat) => "on Discord",
        _ => "via the help desk",
    };
    format!("**{name} ({by})**")
}

/// The signature line, then the text.
pub fn signed(signature: &str, text: &str) -> String {
    let text = text.trim();
    if text.is_empty() { signature.to_string() } else { format!("{signature}\n{text}") }
}

/// The line under a reply naming attachments Discord could not take.
pub fn left_out(files: &[(String, u64)]) -> String {
    let names: Vec<String> = files.iter().map(|(name, size)| format!("{} ({})", escape(name), megabytes(*size))).collect();
    format!("_Not attached here (over Discord's limits of 10 files and 25 MB): {}. Ask us for them another way._", names.join(", "))
}

fn megabytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / (1024.0 * 1024.0);
    format!("{mb:.1} MB")
}

/// The ticket's internal note when a post did not reach Discord.
pub fn not_posted(failure: DiscordFailure) -> String {
    let why = match failure {
        DiscordFailure::MissingPermission => "missing permission (the bot may not post in that channel)",
        DiscordFailure::UnknownChannel => "the thread or channel was deleted; later replies are not posted there",
        DiscordFailure::CannotDm => "the user does not accept direct messages from the bot; later replies are not posted there",
        _ => "Discord refused the message",
    };
    format!("could not post to Discord: {why}")
}

/// The ticket's internal note for a reply not posted because its conversation is gone.
pub const CONVERSATION_GONE: &str = "not posted to Discord: the conversation is gone (thread deleted or DMs closed)";

/// `text` with Discord's markdown characters escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars().filter(|c| *c != '\n' && *c != '\r') {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' | '\\' | '@' | '<') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_signs_with_the_configured_format_and_a_name_cannot_restyle_it() {
        assert_eq!(agent_signature("{name} (Support)", Some("Ann")), "**Ann (Support)**");
        assert_eq!(agent_signature("{name} (Support)", Some("**Ann**")), "**\\*\\*Ann\\*\\* (Support)**");
        assert_eq!(agent_signature("{name} (Support)", None), "**Support**");
    }

    #[test]
    fn a_contact_reply_from_elsewhere_says_where_it_came_from() {
        assert_eq!(contact_signature(Some("Maria"), Channel::Email as i32), "**Maria (by email)**");
        assert_eq!(contact_signature(Some("Maria"), Channel::Portal as i32), "**Maria (on the portal)**");
        assert_eq!(signed("**Maria (by email)**", " hi \n"), "**Maria (by email)**\nhi");
    }

    #[test]
    fn a_dm_is_told_that_the_next_message_opens_a_new_ticket() {
        assert!(completed(7, true).contains("a new message opens a new ticket"));
        assert!(completed(7, false).contains("write here to reopen it"));
        assert!(left_out(&[("big.iso".into(), 30 * 1024 * 1024)]).contains("big.iso (30.0 MB)"));
    }
}
