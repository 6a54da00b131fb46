//! The guest half of `AccountService` (the trait's methods in `accounts` call these): mailing the
//! confirmation link of a guest's ticket held in an existing contact's name, and redeeming it.
//! Only the gateway (a service caller) may ask; the link itself is the proof that the address's
//! owner agrees, so whoever holds it may redeem it — once, before it expires.

use helpdesk_kit::auth::caller;
use helpdesk_proto::identity::v1 as pb;
use secrecy::ExposeSecret;
use tonic::Request;
use uuid::Uuid;

use super::{
    accounts::{AccountsGrpc, secs},
    require_service,
};
use crate::{
    domain::{EmailAddress, IdentityError, secret},
    store::guest::TicketConfirmation,
};

fn uuid(field: &'static str, raw: &str) -> Result<Uuid, IdentityError> {
    Uuid::parse_str(raw).map_err(|_| IdentityError::Invalid { field, reason: "is not an id" })
}

impl AccountsGrpc {
    pub(super) async fn send_ticket_confirmation(
        &self,
        request: Request<pb::RequestTicketConfirmationRequest>,
    ) -> Result<pb::RequestTicketConfirmationResponse, IdentityError> {
        require_service(&caller(&request))?;
        let request = request.into_inner();
        let contact_id = uuid("contact_id", &request.contact_id)?;
        let ticket_id = uuid("ticket_id", &request.ticket_id)?;
        let address = EmailAddress::parse(&request.email)?;
        // The stored name, not the guest's: what a stranger typed does not reach her inbox.
        let contact = self.store().contact(contact_id).await?.ok_or(IdentityError::ContactNotFound)?;
        let token = secret::new_link_token()?;
        let link = format!(
            "{}/confirm-ticket?token={}",
            self.config().portal_url.trim_end_matches('/'),
            token.raw.expose_secret()
        );
        let sent = self
            .store()
            .send_ticket_confirmation(TicketConfirmation {
                token_hash: &token.hash,
                contact_id,
                ticket_id,
                to_address: address.as_str(),
                address_normalized: address.normalized(),
                to_name: &contact.name,
                link: &link,
                // As long as an activation link: the owner may be away for a weekend.
                ttl: secs(self.config().activation_link_ttl_secs),
            })
            .await?;
        tracing::info!(contact = %contact_id, ticket = %ticket_id, sent, "guest ticket held for confirmation");
        Ok(pb::RequestTicketConfirmationResponse {})
    }

    pub(super) async fn redeem_ticket_confirmation(
        &self,
        request: Request<pb::ConfirmTicketRequest>,
    ) -> Result<pb::ConfirmTicketResponse, IdentityError> {
        require_service(&caller(&request))?;
        let token = request.into_inner().token;
        if token.trim().is_empty() || token.len() > 256 {
            return Err(IdentityError::LinkInvalid);
        }
        let ticket_id = self
            .store()
            .confirm_ticket(&secret::hash_secret(token.trim()))
            .await?
            .ok_or(IdentityError::LinkInvalid)?;
        tracing::info!(ticket = %ticket_id, "guest ticket confirmed by its address's owner");
        Ok(pb::ConfirmTicketResponse {})
    }
}
