//! One raw mail from a mailbox → archived bytes and the `InboundMessage` tickets consumes, or
//! poison. The raw mail always goes to the blob store first (so nothing is ever only in memory),
//! then it is parsed under limits; its attachments and inline images go to the blob store and
//! ride as references. Publishing uses a `Nats-Msg-Id` derived from (channel, mailbox,
//! Message-ID), so a mail read twice within the stream's duplicate window is stored once; tickets'
//! unique (channel, external id) row covers everything beyond it, including one mail in two
//! mailboxes.

use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use bytes::Bytes;
use helpdesk_kit::{blob::BlobStore, nats::Subjects};
use helpdesk_proto::events::v1::{BlobRef, InboundMessage};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::domain::inbound::{Limits, parse, to_inbound};

pub struct Ingest {
    pub blobs: BlobStore,
    pub jetstream: jetstream::Context,
    pub subjects: Subjects,
    pub limits: Limits,
    pub own_addresses: Vec<String>,
}

/// Where a mail came from.
pub struct Source<'a> {
    pub mailbox: &'a str,
    pub default_category: &'a str,
}

pub enum Prepared {
    /// Ready to publish.
    Message { message: Box<InboundMessage>, dedupe_id: String },
    /// Cannot become a message: quarantine it (its raw bytes are archived at `raw_key`).
    Poison { reason: String, raw_key: String },
}

/// The raw mail's place in the blob store.
pub fn raw_key(raw: &[u8]) -> String {
    format!("mail/raw/{:x}.eml", Sha256::digest(raw))
}

impl Ingest {
    /// Archives `raw` (at [`raw_key`]) and its parts, and builds the message. An error is the blob
    /// store failing (try again later); a mail that cannot be a message is `Prepared::Poison`.
    pub async fn prepare(&self, source: &Source<'_>, raw: &[u8]) -> anyhow::Result<Prepared> {
        let raw_key = raw_key(raw);
        self.blobs.put(&raw_key, Bytes::copy_from_slice(raw)).await?;
        let mail = match parse(raw, &self.limits, &self.own_addresses) {
            Ok(mail) => mail,
            Err(error) => return Ok(Prepared::Poison { reason: error.to_string(), raw_key }),
        };
        let mut message = to_inbound(&mail, source.mailbox);
        for part in &mail.attachments {
            let key = format!("mail/parts/{:x}", Sha256::digest(&part.data));
            self.blobs.put(&key, Bytes::copy_from_slice(&part.data)).await?;
            message.attachments.push(BlobRef {
                key,
                filename: part.filename.clone(),
                content_type: part.content_type.clone(),
                size: part.data.len() as u64,
                content_id: part.content_id.clone(),
            });
        }
        message.raw = Some(BlobRef {
            key: raw_key,
            filename: "message.eml".into(),
            content_type: "message/rfc822".into(),
            size: raw.len() as u64,
            content_id: String::new(),
        });
        message.category = source.default_category.to_string();
        message.received_at = Some(helpdesk_kit::events::timestamp(chrono::Utc::now()));
        let dedupe_id = dedupe_id(source.mailbox, &message.external_id);
        Ok(Prepared::Message { message: Box::new(message), dedupe_id })
    }

    /// Sends the message; the returned future resolves when the stream has stored it.
    pub async fn publish(&self, message: &InboundMessage, dedupe_id: &str) -> anyhow::Result<PublishAckFuture> {
        let publish = PublishMessage::build()
            .message_id(dedupe_id)
            .payload(message.encode_to_vec().into());
        Ok(self
            .jetstream
            .send_publish(self.subjects.inbound("email", &message.source), publish)
            .await?)
    }
}

/// `Nats-Msg-Id` of a mail: the same mail read again from the same mailbox gets the same id.
pub fn dedupe_id(mailbox: &str, message_id: &str) -> String {
    let mut hash = Sha256::new();
    for part in ["email", mailbox, message_id] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("{:x}", hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_ids_separate_mailboxes_and_messages() {
        assert_eq!(dedupe_id("a", "m1@x"), dedupe_id("a", "m1@x"));
        assert_ne!(dedupe_id("a", "m1@x"), dedupe_id("b", "m1@x"));
        assert_ne!(dedupe_id("a", "m1@x"), dedupe_id("a", "m2@x"));
        assert_ne!(dedupe_id("ab", "c"), dedupe_id("a", "bc"));
    }
}
