//! The identity-link half of `AccountService` (the trait's methods in `accounts` call these): a
//! service (chat's `/link`) asks for an external identity to be linked to an address, identity
//! mails the address a single-use link, and whoever follows it proves the address — the portal
//! shows what the link would do (`preview`) and confirms on the contact's POST. What a
//! confirmation does, merges included, is in `store::identity_links`.
//!
//! The request answers the same whatever the address is (known, unknown, blocked, over the
//! limit), so a Discord user cannot learn whose address exists.

use helpdesk_kit::auth::caller;
use helpdesk_proto::identity::v1 as pb;
use tonic::Request;

use super::{
    accounts::{AccountsGrpc, secs},
    contact_to_pb, require_service,
};
use crate::{
    domain::{EmailAddress, ExternalIdentity, IdentityError, secret},
    store::identity_links::{LinkOutcome, LinkRequest},
};

/// How long a mailed identity link works: long enough to open the mail, short enough that a
/// forgotten one is soon dead.
const LINK_TTL_SECS: u64 = 30 * 60;

/// A presented token, bounded before it is hashed; an empty or absurd one names no link.
fn token_hash(raw: &str) -> Result<Vec<u8>, IdentityError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 256 {
        return Err(IdentityError::LinkNotFound);
    }
    Ok(secret::hash_secret(raw))
}

impl AccountsGrpc {
    pub(super) async fn request_link(
        &self,
        request: Request<pb::RequestIdentityLinkRequest>,
    ) -> Result<pb::RequestIdentityLinkResponse, IdentityError> {
        require_service(&caller(&request))?;
        let request = request.into_inner();
        let identity = request
            .identity
            .ok_or(IdentityError::Invalid { field: "identity", reason: "is required" })?;
        let identity = ExternalIdentity::parse(&identity.provider, &identity.subject)?;
        let address = EmailAddress::parse(&request.email)?;
        let contact_id = self
            .store()
            .contact_by_identity(&identity.provider, &identity.subject)
            .await?
            .ok_or(IdentityError::ContactNotFound)?;
        let token = secret::new_link_token()?;
        let link = self.link("link-identity", &token.raw);
        let sent = self
            .store()
            .request_identity_link(LinkRequest {
                token_hash: &token.hash,
                contact_id,
                identity: &identity,
                address: &address,
                link: &link,
                ttl: secs(LINK_TTL_SECS),
            })
            .await?;
        tracing::info!(contact = %contact_id, provider = %identity.provider, sent, "identity link requested");
        Ok(pb::RequestIdentityLinkResponse {})
    }

    pub(super) async fn preview_link(
        &self,
        request: Request<pb::PreviewIdentityLinkRequest>,
    ) -> Result<pb::IdentityLinkPreview, IdentityError> {
        let pending = self.store().identity_link(&token_hash(&request.get_ref().token)?).await?;
        Ok(pb::IdentityLinkPreview { email: pending.address, provider: pending.provider })
    }

    pub(super) async fn confirm_link(
        &self,
        request: Request<pb::ConfirmIdentityLinkRequest>,
    ) -> Result<pb::Contact, IdentityError> {
        let linked = self.store().confirm_identity_link(&token_hash(&request.get_ref().token)?).await?;
        match linked {
            LinkOutcome::Merged { from, into } => tracing::info!(%from, %into, "identity link confirmed; contacts merged"),
            LinkOutcome::AddressAdded(contact) => tracing::info!(%contact, "identity link confirmed; address added"),
            LinkOutcome::AlreadyLinked(contact) => tracing::info!(%contact, "identity link confirmed; already linked"),
        }
        let contact = self.store().contact(linked.contact_id()).await?.ok_or(IdentityError::ContactNotFound)?;
        Ok(contact_to_pb(contact))
    }
}
