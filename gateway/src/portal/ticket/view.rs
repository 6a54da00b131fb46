//! What the ticket page shows, built from the services' answers: the ticket's header and
//! properties ([`TicketView`]) and its public conversation ([`MessageView`]). Rust hands the
//! templates data and kinds (`pending`, `agent`, `you`, …); the templates word them.
//!
//! Message HTML: the tickets service cleans every stored body with `ammonia` on the way in (gRPC
//! `Reply`/`CreateTicket` and the inbound consumer alike) and its contract says `Message.html` is
//! "sanitized HTML, safe to show", so the page shows it as it is; plain text is escaped by the
//! template. Internal notes are left out here too, although the service never sends them to a
//! contact: a page that can never show one does not depend on that staying true.

use std::collections::HashMap;

use helpdesk_proto::tickets::v1 as pb;

use crate::{
    api::tickets::{author_kind, message_kind, status_kind},
    portal::views::Moment,
};

/// The ticket's header and sidebar.
pub struct TicketView {
    pub id: String,
    pub number: i64,
    pub subject: String,
    /// `pending` or `completed`.
    pub status_kind: &'static str,
    pub status_name: String,
    pub priority: String,
    pub category: Option<String>,
    pub due: Option<Moment>,
    pub created: Option<Moment>,
    pub updated: Option<Moment>,
    /// `own` (the reader's group), `other` (a group the reader is not in) or `none`.
    pub group: &'static str,
    pub fields: Vec<FieldView>,
}

/// One custom field as the sidebar lists it, in the category's order.
pub struct FieldView {
    pub label: String,
    /// The value as text; empty for a checkbox, which `checked` words.
    pub text: String,
    pub checked: Option<bool>,
}

impl TicketView {
    pub fn new(ticket: pb::Ticket, categories: &[pb::Category], my_groups: &[String]) -> Self {
        let status = ticket.status.unwrap_or_default();
        let category = categories.iter().find(|c| c.id == ticket.category_id);
        let group = match ticket.group_id.as_str() {
            "" => "none",
            id if my_groups.iter().any(|g| g == id) => "own",
            _ => "other",
        };
        Self {
            status_kind: status_kind(status.kind),
            status_name: status.name,
            priority: ticket.priority.map(|p| p.name).unwrap_or_default(),
            category: category.map(|c| c.name.clone()),
            due: Moment::from_timestamp(ticket.due_at.as_ref()),
            created: Moment::from_timestamp(ticket.created_at.as_ref()),
            updated: Moment::from_timestamp(ticket.updated_at.as_ref()),
            fields: fields(ticket.custom_fields, category),
            group,
            id: ticket.id,
            number: ticket.number,
            subject: ticket.subject,
        }
    }

    pub fn completed(&self) -> bool {
        self.status_kind == "completed"
    }
}

/// The ticket's values labelled by its category's definitions (in their order); a value whose
/// definition is gone (the category changed since) is still shown, under its key.
fn fields(mut values: HashMap<String, pb::FieldValue>, category: Option<&pb::Category>) -> Vec<FieldView> {
    let mut out = Vec::new();
    if let Some(category) = category {
        let mut definitions: Vec<&pb::FieldDefinition> = category.fields.iter().collect();
        definitions.sort_by_key(|f| f.position);
        for definition in definitions {
            if let Some(value) = values.remove(&definition.key) {
                out.push(field_view(definition.label.clone(), value));
            }
        }
    }
    let mut rest: Vec<(String, pb::FieldValue)> = values.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(rest.into_iter().map(|(key, value)| field_view(key, value)));
    out.retain(|f| f.checked.is_some() || !f.text.is_empty());
    out
}

fn field_view(label: String, value: pb::FieldValue) -> FieldView {
    use pb::field_value::Value as V;
    let (text, checked) = match value.value {
        Some(V::Text(t) | V::Date(t)) => (t, None),
        Some(V::Number(n)) => (n.to_string(), None),
        Some(V::Checkbox(b)) => (String::new(), Some(b)),
        Some(V::Options(o)) => (o.values.join(", "), None),
        None => (String::new(), None),
    };
    FieldView { label, text, checked }
}

/// One entry of the conversation.
pub struct MessageView {
    pub id: String,
    /// `reply` or `system`.
    pub kind: &'static str,
    /// `you`, `colleague` (another contact: a group member), `agent` or `system`.
    pub author: &'static str,
    pub text: String,
    /// Sanitized by the tickets service (see the module docs); empty when the message is text only.
    pub html: String,
    pub attachments: Vec<AttachmentView>,
    pub at: Option<Moment>,
}

pub struct AttachmentView {
    /// The JSON API's download route (it works with the session cookie).
    pub href: String,
    pub filename: String,
    pub size: String,
}

/// The public conversation, oldest first: replies and system entries, never internal notes.
pub fn conversation(ticket_id: &str, messages: Vec<pb::Message>, me: &str) -> Vec<MessageView> {
    messages
        .into_iter()
        .filter(|m| message_kind(m.kind) != "note")
        .map(|m| MessageView {
            kind: message_kind(m.kind),
            author: match author_kind(m.author_kind) {
                "contact" if m.author_id == me => "you",
                "contact" => "colleague",
                other => other,
            },
            at: Moment::from_timestamp(m.created_at.as_ref()),
            attachments: m
                .attachments
                .into_iter()
                .map(|a| AttachmentView {
                    href: format!("/api/v1/tickets/{ticket_id}/attachments/{}", a.id),
                    size: size_text(a.size),
                    filename: a.filename,
                })
                .collect(),
            id: m.id,
            text: m.text,
            html: m.html,
        })
        .collect()
}

/// A file size in the units people read (`812 B`, `14 KB`, `2.3 MB`).
pub fn size_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    match bytes {
        b if b < KB => format!("{b} B"),
        b if b < MB => format!("{} KB", b.div_ceil(KB)),
        b => {
            let text = format!("{:.1}", b as f64 / MB as f64);
            format!("{} MB", text.strip_suffix(".0").unwrap_or(&text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, kind: pb::MessageKind, author: pb::AuthorKind, author_id: &str) -> pb::Message {
        pb::Message {
            id: id.into(),
            kind: kind as i32,
            author_kind: author as i32,
            author_id: author_id.into(),
            text: format!("text {id}"),
            ..Default::default()
        }
    }

    #[test]
    fn the_conversation_never_holds_an_internal_note_and_names_authors_by_kind() {
        use pb::{AuthorKind as A, MessageKind as K};
        let messages = vec![
            message("1", K::Reply, A::Contact, "me"),
            message("2", K::InternalNote, A::Agent, "agent"),
            message("3", K::Reply, A::Agent, "agent"),
            message("4", K::Reply, A::Contact, "ben"),
            message("5", K::System, A::System, ""),
        ];
        let shown = conversation("t", messages, "me");
        let kinds: Vec<(&str, &str, &str)> = shown.iter().map(|m| (m.id.as_str(), m.kind, m.author)).collect();
        assert_eq!(
            kinds,
            [("1", "reply", "you"), ("3", "reply", "agent"), ("4", "reply", "colleague"), ("5", "system", "system")]
        );
    }

    #[test]
    fn custom_fields_follow_their_category_and_keep_values_without_a_definition() {
        use pb::field_value::Value as V;
        let definition = |key: &str, label: &str, position| pb::FieldDefinition {
            key: key.into(),
            label: label.into(),
            position,
            ..Default::default()
        };
        let category = pb::Category {
            id: "c".into(),
            name: "Billing".into(),
            fields: vec![definition("amount", "Amount", 2), definition("invoice", "Invoice number", 1)],
            active: true,
        };
        let value = |v| pb::FieldValue { value: Some(v) };
        let values = HashMap::from([
            ("amount".to_string(), value(V::Number(42.5))),
            ("invoice".to_string(), value(V::Text("INV-1".into()))),
            ("old".to_string(), value(V::Checkbox(true))),
            ("empty".to_string(), value(V::Text(String::new()))),
        ]);
        let shown = fields(values, Some(&category));
        let labels: Vec<(&str, &str)> = shown.iter().map(|f| (f.label.as_str(), f.text.as_str())).collect();
        assert_eq!(labels, [("Invoice number", "INV-1"), ("Amount", "42.5"), ("old", "")]);
        assert_eq!(shown[2].checked, Some(true));
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(size_text(812), "812 B");
        assert_eq!(size_text(14 * 1024 - 5), "14 KB");
        assert_eq!(size_text(2_400_000), "2.3 MB");
        assert_eq!(size_text(10 * 1024 * 1024), "10 MB");
    }
}
