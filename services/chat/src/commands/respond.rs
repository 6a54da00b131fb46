//! Answering one interaction. Discord shows "The application did not respond" unless the first
//! response arrives within 3 seconds, and an interaction takes exactly one first response: an
//! answer ([`Responder::say`]), a modal ([`Responder::modal`]) or a deferral — "thinking…",
//! ephemeral — that the work's answer replaces later by editing the original response
//! ([`Responder::deferred`]; the token allows that for 15 minutes). Every answer here is
//! ephemeral: it is the user's own business, seen by nobody else in the channel.

use std::future::Future;

use serenity::{
    builder::{Builder as _, CreateAllowedMentions, CreateInteractionResponse, CreateInteractionResponseMessage, CreateModal, EditInteractionResponse},
    http::Http,
    model::id::InteractionId,
};

/// Discord's limit for a message's content, in characters.
const MAX_CONTENT_CHARS: usize = 2000;

pub struct Responder<'a> {
    http: &'a Http,
    id: InteractionId,
    token: &'a str,
}

impl<'a> Responder<'a> {
    pub fn new(http: &'a Http, id: InteractionId, token: &'a str) -> Self {
        Self { http, id, token }
    }

    /// Answers at once, ephemerally.
    pub async fn say(&self, text: &str) {
        let message = CreateInteractionResponseMessage::new()
            .content(within_limit(text))
            .ephemeral(true)
            .allowed_mentions(CreateAllowedMentions::new());
        self.first_response(CreateInteractionResponse::Message(message)).await;
    }

    /// Answers with a modal (a form), which must be the first response.
    pub async fn modal(&self, modal: CreateModal) {
        self.first_response(CreateInteractionResponse::Modal(modal)).await;
    }

    /// Defers (ephemerally), then runs `work` and replaces the deferral with its answer. When
    /// the deferral fails the interaction is lost (expired, or answered already, e.g. replayed
    /// after a reconnect), and the work is not done: nobody would learn its outcome.
    pub async fn deferred(&self, work: impl Future<Output = String>) {
        let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true));
        if !self.first_response(defer).await {
            return;
        }
        let answer = work.await;
        let edit = EditInteractionResponse::new().content(within_limit(&answer)).allowed_mentions(CreateAllowedMentions::new());
        if let Err(error) = edit.execute(self.http, self.token).await {
            tracing::warn!(interaction = %self.id, %error, "could not edit the deferred interaction response");
        }
    }

    async fn first_response(&self, response: CreateInteractionResponse) -> bool {
        match response.execute(self.http, (self.id, self.token)).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(interaction = %self.id, %error, "could not answer the interaction");
                false
            }
        }
    }
}

/// The answer when something failed on our side (identity or tickets unreachable, the store
/// down): the user is told to try again, the cause is logged.
pub fn went_wrong(what: &str, error: impl std::fmt::Display) -> String {
    tracing::error!(%error, what, "an interaction could not be done");
    "Something went wrong on our side. Please try again in a moment.".to_string()
}

/// Text shown as typed: Discord markdown and mentions in a subject are not interpreted.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '<' | '@' | '#' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `text`, cut on a character boundary to fit one Discord message.
fn within_limit(text: &str) -> String {
    if text.chars().count() <= MAX_CONTENT_CHARS {
        return text.to_string();
    }
    let cut = text.char_indices().nth(MAX_CONTENT_CHARS - 1).map_or(text.len(), |(at, _)| at);
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::{MAX_CONTENT_CHARS, escape, within_limit};

    #[test]
    fn long_answers_are_cut_on_a_character_boundary_to_the_limit() {
        assert_eq!(within_limit("short"), "short");
        let exact = "é".repeat(MAX_CONTENT_CHARS);
        assert_eq!(within_limit(&exact), exact);
        let long = "é".repeat(MAX_CONTENT_CHARS + 5);
        let cut = within_limit(&long);
        assert_eq!(cut.chars().count(), MAX_CONTENT_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn markdown_and_mentions_in_a_subject_are_shown_as_typed() {
        assert_eq!(escape("**bold** <@123> @everyone"), r"\*\*bold\*\* \<\@123\> \@everyone");
        assert_eq!(escape("plain words"), "plain words");
    }
}
