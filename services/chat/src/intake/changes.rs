//! Edits and deletes of a contact's message that intake took: recorded on the conversation's
//! ticket as an internal note by the chat service (tickets' `AddNote`, whose author is then the
//! system) — the new text, or that it was deleted on Discord. `message_changes` remembers what was
//! recorded, so a replayed update adds nothing twice. A change to a message intake never took (a
//! bot's, one from elsewhere) is nobody's business.

use anyhow::Context as _;
use helpdesk_kit::auth::bearer;
use helpdesk_proto::tickets::v1::AddNoteRequest;

use crate::context::Chat;

#[derive(Debug, Clone)]
pub struct Change {
    pub message: u64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone)]
pub enum ChangeKind {
    /// The new text, and when it was edited (Discord's `edited_timestamp`), which tells one edit
    /// from the next.
    Edited { text: String, edited_at: String },
    Deleted,
}

impl Change {
    fn key(&self) -> String {
        match &self.kind {
            ChangeKind::Edited { edited_at, .. } => format!("edit:{edited_at}"),
            ChangeKind::Deleted => "delete".into(),
        }
    }

    fn note(&self) -> String {
        match &self.kind {
            ChangeKind::Edited { text, .. } => format!("The contact edited their Discord message {} to:\n{text}", self.message),
            ChangeKind::Deleted => format!("The contact's Discord message {} was deleted on Discord.", self.message),
        }
    }
}

/// Records `change` on its ticket. An error (tickets unreachable, the ticket not known to chat
/// yet) is transient: the caller tries again.
pub async fn record(chat: &Chat, change: &Change) -> anyhow::Result<()> {
    let Some(conversation) = chat.store.taken_conversation(change.message).await? else {
        return Ok(());
    };
    let key = change.key();
    if chat.store.change_recorded(change.message, &key).await? {
        return Ok(());
    }
    let conversation = chat.store.conversation(conversation).await?.context("the taken message's conversation is gone")?;
    let ticket = conversation
        .ticket_id
        .with_context(|| format!("the ticket of conversation {} is not known yet", conversation.id))?;
    let token = chat.tokens.token().await.context("chat's service token")?;
    let request = AddNoteRequest { ticket_id: ticket.to_string(), text: change.note() };
    chat.tickets.clone().add_note(bearer(request, &token)?).await.context("add the note to the ticket")?;
    chat.store.record_change(change.message, &key).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Change, ChangeKind};

    #[test]
    fn each_edit_is_its_own_change_and_a_delete_is_one() {
        let edit = |at: &str| Change { message: 2, kind: ChangeKind::Edited { text: "new".into(), edited_at: at.into() } };
        assert_ne!(edit("a").key(), edit("b").key());
        assert_eq!(Change { message: 2, kind: ChangeKind::Deleted }.key(), "delete");
        assert!(edit("a").note().ends_with("\nnew"));
    }
}
