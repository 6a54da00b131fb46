//! Tickets' inbound consumer as a client of identity: it finds or creates the sender of a message
//! (by address for mail, by handle for chat) with tickets' service token, remembering recent
//! senders in the [`ContactCache`] so a burst of mail from known senders does not ask identity
//! once per message, and it reads and flags contacts' addresses for delivery reports. Identity
//! being away is a reason to retry; identity refusing a sender is not.

use std::sync::Arc;

use helpdesk_kit::{
    auth::{bearer, service_token::ServiceTokens},
    consumer::Failure,
};
use helpdesk_proto::{
    events::v1::InboundMessage,
    identity::v1::{
        ExternalIdentity, FindOrCreateContactRequest, GetContactRequest, MarkEmailUndeliverableRequest,
        contact_service_client::ContactServiceClient, find_or_create_contact_request::Key,
    },
};
use tonic::transport::Channel as GrpcChannel;
use uuid::Uuid;

use crate::{
    domain::{Channel, inbound::without_controls},
    events::ContactCache,
};

pub struct IdentityClient {
    pub identity: ContactServiceClient<GrpcChannel>,
    pub tokens: Arc<ServiceTokens>,
    /// Senders seen recently → their contact.
    pub contacts: ContactCache,
}

/// The external identity (provider, subject) of the contact that mail without a readable sender is
/// filed under.
const UNKNOWN_SENDER: (&str, &str) = ("helpdesk", "unknown-sender");

/// The contact a message is from; `known` is false for the shared "unknown sender".
pub struct SenderContact {
    pub id: Uuid,
    pub known: bool,
}

impl IdentityClient {
    /// Finds or creates the sender at identity: by address for mail, by handle for chat. Mail
    /// with no readable sender is filed under the one shared "unknown sender" contact (agents can
    /// fix it); a chat message without a handle is malformed.
    pub async fn contact_for(&self, inbound: &InboundMessage, channel: Channel) -> Result<SenderContact, Failure> {
        let sender = inbound.sender.clone().unwrap_or_default();
        let address = without_controls(&sender.address).trim().to_string();
        let handle = without_controls(&sender.handle).trim().to_string();
        let (key, name, known) = match channel {
            Channel::Email if !address.is_empty() => (Key::Email(address), without_controls(&sender.display_name).into_owned(), true),
            Channel::Email => (
                Key::ExternalIdentity(ExternalIdentity { provider: UNKNOWN_SENDER.0.into(), subject: UNKNOWN_SENDER.1.into() }),
                "Unknown sender".to_string(),
                false,
            ),
            Channel::Chat if !handle.is_empty() => (
                Key::ExternalIdentity(ExternalIdentity { provider: "discord".into(), subject: handle }),
                without_controls(&sender.display_name).into_owned(),
                true,
            ),
            _ => return Err(Failure::poison("the sender has no address or handle")),
        };
        let cache_key = match &key {
            Key::Email(address) => format!("email:{}", address.to_lowercase()),
            Key::ExternalIdentity(identity) => format!("{}:{}", identity.provider, identity.subject),
        };
        if let Some(id) = self.contacts.get(&cache_key) {
            return Ok(SenderContact { id, known });
        }
        let token = self.tokens.token().await.map_err(unavailable)?;
        let request = bearer(FindOrCreateContactRequest { key: Some(key), name }, &token)
            .map_err(unavailable)?;
        let response = self.identity.clone().find_or_create_contact(request).await.map_err(|status| {
            if status.code() == tonic::Code::InvalidArgument {
                Failure::poison(format!("identity refused the sender: {}", status.message()))
            } else {
                unavailable(status)
            }
        })?;
        let contact = response
            .into_inner()
            .contact
            .ok_or_else(|| Failure::retry("identity answered without a contact"))?;
        let id = Uuid::parse_str(&contact.id).map_err(|_| Failure::retry("identity answered a malformed contact id"))?;
        self.contacts.put(cache_key, id);
        Ok(SenderContact { id, known })
    }

    /// The contact's primary address, if identity knows one.
    pub async fn primary_address(&self, contact: Uuid) -> Result<Option<String>, Failure> {
        let token = self.tokens.token().await.map_err(unavailable)?;
        let found = self
            .identity
            .clone()
            .get_contact(bearer(GetContactRequest { id: contact.to_string() }, &token).map_err(unavailable)?)
            .await
            .map_err(unavailable)?
            .into_inner();
        Ok(found.emails.into_iter().find(|e| e.primary).map(|e| e.address))
    }

    pub async fn mark_undeliverable(&self, address: &str) -> Result<(), Failure> {
        let token = self.tokens.token().await.map_err(unavailable)?;
        let request = MarkEmailUndeliverableRequest { address: address.to_string(), reason: "bounced".into() };
        self.identity
            .clone()
            .mark_email_undeliverable(bearer(request, &token).map_err(unavailable)?)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn unavailable(status: tonic::Status) -> Failure {
    Failure::retry(format!("identity: {status}"))
}
