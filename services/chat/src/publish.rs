//! Handing a Discord message to tickets: an `InboundMessage` on `<prefix>.inbound.discord.<source>`
//! with a `Nats-Msg-Id` derived from the Discord message id, so the same message published twice
//! (a redelivered event, a backfill overlapping the live feed) is stored once by the stream, and
//! tickets' (channel, external id) row covers everything beyond the stream's window. Returns only
//! once the stream has stored it: nothing counts as taken before it is durable.

use helpdesk_proto::events::v1::InboundMessage;
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::context::Chat;

pub async fn publish(chat: &Chat, message: &InboundMessage) -> anyhow::Result<()> {
    let publish = async_nats::jetstream::message::PublishMessage::build()
        .message_id(dedupe_id(&message.external_id))
        .payload(message.encode_to_vec().into());
    chat.nats
        .jetstream
        .send_publish(chat.nats.subjects.inbound("discord", &message.source), publish)
        .await?
        .await?;
    Ok(())
}

/// `Nats-Msg-Id` of a Discord message: Discord's ids are unique across channels.
fn dedupe_id(external_id: &str) -> String {
    format!("{:x}", Sha256::digest(format!("discord\0{external_id}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::dedupe_id;

    #[test]
    fn one_message_id_always_gives_the_same_dedupe_id_and_others_differ() {
        assert_eq!(dedupe_id("1234"), dedupe_id("1234"));
        assert_ne!(dedupe_id("1234"), dedupe_id("1235"));
    }
}
