//! `ContactService`: find-or-create by address or external identity (for channels, agents and
//! services) and reading a contact (a contact may read only themselves).

use helpdesk_kit::auth::{Caller, caller};
use helpdesk_proto::identity::v1::{self as pb, contact_service_server::ContactService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{EmailAddress, ExternalIdentity, IdentityError, clean_name},
    grpc::{contact_to_pb, db_error},
    store::{ContactKey, Store},
};

pub struct ContactsGrpc {
    store: Store,
}

impl ContactsGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn later(issue: &str) -> Status {
    Status::unimplemented(format!("arrives with {issue}"))
}

#[tonic::async_trait]
impl ContactService for ContactsGrpc {
    #[tracing::instrument(skip_all)]
    async fn find_or_create_contact(
        &self,
        request: Request<pb::FindOrCreateContactRequest>,
    ) -> Result<Response<pb::FindOrCreateContactResponse>, Status> {
        match caller(&request) {
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            Caller::Contact { .. } => return Err(IdentityError::PermissionDenied.into()),
            Caller::Staff { .. } | Caller::Service { .. } => {}
        }
        let request = request.into_inner();
        let name = clean_name(&request.name);
        let (contact, created) = match request.key {
            Some(pb::find_or_create_contact_request::Key::Email(email)) => {
                let address = EmailAddress::parse(&email)?;
                self.store.find_or_create(ContactKey::Email(&address), &name).await
            }
            Some(pb::find_or_create_contact_request::Key::ExternalIdentity(identity)) => {
                let identity = ExternalIdentity::parse(&identity.provider, &identity.subject)?;
                self.store.find_or_create(ContactKey::External(&identity), &name).await
            }
            None => {
                return Err(IdentityError::Invalid { field: "key", reason: "give email or external_identity" }.into());
            }
        }
        .map_err(db_error)?;
        Ok(Response::new(pb::FindOrCreateContactResponse {
            contact: Some(contact_to_pb(contact)),
            created,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_contact(&self, request: Request<pb::GetContactRequest>) -> Result<Response<pb::Contact>, Status> {
        let caller = caller(&request);
        let id = helpdesk_kit::error::parse_id(&request.get_ref().id, "contact")?;
        let allowed = match &caller {
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            Caller::Contact { id: own } => *own == id,
            Caller::Staff { .. } | Caller::Service { .. } => true,
        };
        if !allowed {
            return Err(IdentityError::ContactNotFound.into());
        }
        let contact = self.store.contact(id).await.map_err(db_error)?;
        Ok(Response::new(contact_to_pb(contact.ok_or(IdentityError::ContactNotFound)?)))
    }

    async fn list_contacts(
        &self,
        _request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        Err(later("the identity issue (#3)"))
    }

    async fn update_contact(&self, _request: Request<pb::UpdateContactRequest>) -> Result<Response<pb::Contact>, Status> {
        Err(later("the identity issue (#3)"))
    }

    /// Staff block or unblock a contact; blocking ends all its sessions at once.
    #[tracing::instrument(skip_all)]
    async fn set_contact_blocked(
        &self,
        request: Request<pb::SetContactBlockedRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        match caller(&request) {
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            Caller::Contact { .. } => return Err(IdentityError::ContactNotFound.into()),
            Caller::Staff { .. } | Caller::Service { .. } => {}
        }
        let request = request.into_inner();
        let id = helpdesk_kit::error::parse_id(&request.id, "contact")?;
        if !self.store.set_blocked(id, request.blocked).await.map_err(db_error)? {
            return Err(IdentityError::ContactNotFound.into());
        }
        tracing::info!(contact = %id, blocked = request.blocked, "contact block state changed");
        let contact = self.store.contact(id).await.map_err(db_error)?;
        Ok(Response::new(contact_to_pb(contact.ok_or(IdentityError::ContactNotFound)?)))
    }

    async fn mark_email_undeliverable(
        &self,
        _request: Request<pb::MarkEmailUndeliverableRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(later("the email issue (#5)"))
    }

    async fn link_external_identity(
        &self,
        _request: Request<pb::LinkExternalIdentityRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(later("the identity issue (#3)"))
    }
}
