//! Delivery reports (bounces and delay notices) about mail we sent. They match a ticket only by our
//! own Message-ID or reply token (`threading::our_ticket`), never by a customer's Message-ID they
//! happen to quote — that once marked customers undeliverable for a bounce of their own mail.
//!
//! - a bounce (permanent failure): an internal note on the ticket, and the contact's address
//!   marked undeliverable at identity;
//! - a delay notice (still being retried): an internal note only — nobody is undeliverable yet;
//! - either, about no mail we sent: kept for admins as classified mail (`unmatched_bounce` in the
//!   quarantine list), not poison and not an error.
//!
//! Both are automatic: they never reopen a ticket or trigger mail.

use helpdesk_kit::{consumer::Failure, text::prefix_within};
use helpdesk_proto::events::v1::{InboundFlags, InboundMessage};

use super::intake::{Incoming, Intake, Received};
use crate::{
    domain::{
        Channel,
        inbound::normalized_id,
        threading::{BOUNCE, DELIVERY_DELAYED},
    },
    store::{Author, ChannelFile, InboundKey, KIND_NOTE, NewMessage, Viewer},
};

/// How much of the report's own text goes into the note (the whole report is its raw original).
const QUOTED_BYTES: usize = 4000;

impl Intake {
    pub(super) async fn delivery_report(
        &self,
        inbound: &InboundMessage,
        incoming: &Incoming,
        key: InboundKey<'_>,
        flags: &InboundFlags,
        files: &[ChannelFile],
    ) -> Result<Received, Failure> {
        let permanent = flags.bounce;
        let mut ids = vec![normalized_id(&flags.bounced_message_id)];
        ids.extend(incoming.thread_refs.iter().cloned());
        ids.retain(|id| !id.is_empty());
        let Some(ticket_id) = self.our_ticket(&ids, &inbound.reply_token).await? else {
            let what = if permanent { "a bounce" } else { "a delay notice" };
            return Ok(Received::Unmatched(format!("{what} for no mail we sent (it names {})", describe(&ids))));
        };
        let ticket = self
            .store
            .ticket(ticket_id, Viewer::Staff(None))
            .await?
            .ok_or_else(|| Failure::retry("the bounced ticket vanished"))?;
        let address = self.identity.primary_address(ticket.contact_id).await?;
        let to = address.as_deref().unwrap_or("the contact");
        let headline = if permanent {
            if let Some(address) = &address {
                self.identity.mark_undeliverable(address).await?;
            }
            format!("Mail to {to} bounced; the address is marked undeliverable.")
        } else {
            format!("Delivery to {to} is delayed: the receiving server is still retrying. Nothing is needed unless it fails.")
        };
        let text = format!("{headline}\n\n{}", prefix_within(incoming.body.as_str(), QUOTED_BYTES));
        let note = NewMessage {
            kind: KIND_NOTE,
            author: Author::System,
            text: &text,
            html: "",
            original: "",
            channel: Channel::Email,
            attachments: &[],
            files,
            thread_rule: if permanent { BOUNCE } else { DELIVERY_DELAYED },
        };
        self.store.add_message(ticket_id, note, true, Some(key)).await?;
        tracing::info!(ticket = %ticket_id, permanent, "delivery report noted on the ticket");
        Ok(Received::Stored)
    }
}

/// The ids a report names, briefly, for the admin's list.
fn describe(ids: &[String]) -> String {
    match ids {
        [] => "no Message-ID".into(),
        [one] => one.chars().take(200).collect(),
        [first, rest @ ..] => format!("{} and {} more", first.chars().take(200).collect::<String>(), rest.len()),
    }
}
