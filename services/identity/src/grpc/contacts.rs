//! `ContactService`: find-or-create by address or external identity (for channels, agents and
//! services), reading a contact (a contact may read only themselves), listing and changing
//! contacts (staff; a contact may rename only themselves), blocking, linking identities.

use helpdesk_kit::auth::{Caller, caller};
use helpdesk_proto::identity::v1::{self as pb, contact_service_server::ContactService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{EmailAddress, ExternalIdentity, IdentityError, clean_name},
    grpc::{contact_to_pb, require_staff},
    store::{
        ContactKey, Store,
        contacts::{ContactChange, ContactUpdate},
    },
};

impl ContactsGrpc {
    async fn reply(&self, id: uuid::Uuid, change: ContactChange) -> Result<Response<pb::Contact>, Status> {
        match change {
            ContactChange::Done => {}
            ContactChange::NotFound => return Err(IdentityError::ContactNotFound.into()),
            ContactChange::Taken => return Err(IdentityError::AlreadyExists("an address or identity of another contact").into()),
            ContactChange::PrimaryNotOwned => {
                return Err(IdentityError::Invalid { field: "primary_email", reason: "must be one of the contact's addresses" }.into());
            }
        }
        let contact = self.store.contact(id).await?;
        Ok(Response::new(contact_to_pb(contact.ok_or(IdentityError::ContactNotFound)?)))
    }
}

pub struct ContactsGrpc {
    store: Store,
}

impl ContactsGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
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
        }?;
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
        let contact = self.store.contact(id).await?;
        Ok(Response::new(contact_to_pb(contact.ok_or(IdentityError::ContactNotFound)?)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        require_staff(&caller(&request))?;
        let request = request.into_inner();
        if request.query.len() > 200 {
            return Err(IdentityError::Invalid { field: "query", reason: "is longer than 200 characters" }.into());
        }
        let page_size = match request.page_size {
            0 => 50,
            n => i64::from(n.min(200)),
        };
        let after = if request.page_token.is_empty() {
            None
        } else {
            Some(uuid::Uuid::parse_str(&request.page_token).map_err(|_| IdentityError::Invalid {
                field: "page_token",
                reason: "is not a token this service issued",
            })?)
        };
        let contacts = self
            .store
            .list_contacts(&request.query, page_size, after)
            .await?;
        let next_page_token = if contacts.len() as i64 == page_size {
            contacts.last().map(|c| c.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListContactsResponse {
            contacts: contacts.into_iter().map(contact_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_contact(&self, request: Request<pb::UpdateContactRequest>) -> Result<Response<pb::Contact>, Status> {
        let caller = caller(&request);
        let request = request.into_inner();
        let id = helpdesk_kit::error::parse_id(&request.id, "contact")?;
        match &caller {
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            // A contact may rename themselves; addresses change only through staff or a
            // verified flow, or anyone could claim someone else's mail.
            Caller::Contact { id: own } if *own != id => return Err(IdentityError::ContactNotFound.into()),
            Caller::Contact { .. } if !request.emails.is_empty() || request.primary_email.is_some() => {
                return Err(IdentityError::PermissionDenied.into());
            }
            _ => {}
        }
        let name = request.name.as_deref().map(clean_name);
        let emails = if request.emails.is_empty() {
            None
        } else {
            if request.emails.len() > 20 {
                return Err(IdentityError::Invalid { field: "emails", reason: "at most 20 addresses" }.into());
            }
            Some(request.emails.iter().map(|e| EmailAddress::parse(e)).collect::<Result<Vec<_>, _>>()?)
        };
        let primary = request.primary_email.as_deref().map(EmailAddress::parse).transpose()?;
        let change = self
            .store
            .update_contact(id, ContactUpdate { name, emails, primary })
            .await?;
        self.reply(id, change).await
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
        if !self.store.set_blocked(id, request.blocked).await? {
            return Err(IdentityError::ContactNotFound.into());
        }
        tracing::info!(contact = %id, blocked = request.blocked, "contact block state changed");
        let contact = self.store.contact(id).await?;
        Ok(Response::new(contact_to_pb(contact.ok_or(IdentityError::ContactNotFound)?)))
    }

    /// The mail channel (or staff) reports a bounce: the address is marked undeliverable.
    #[tracing::instrument(skip_all)]
    async fn mark_email_undeliverable(
        &self,
        request: Request<pb::MarkEmailUndeliverableRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        require_staff(&caller(&request))?;
        let request = request.into_inner();
        let address = EmailAddress::parse(&request.address)?;
        let reason: String = request.reason.chars().filter(|c| !c.is_control()).take(500).collect();
        let id = self
            .store
            .mark_undeliverable(&address, &reason)
            .await?
            .ok_or(IdentityError::ContactNotFound)?;
        self.reply(id, ContactChange::Done).await
    }

    /// Staff and services link e.g. a Discord user to an email contact.
    #[tracing::instrument(skip_all)]
    async fn link_external_identity(
        &self,
        request: Request<pb::LinkExternalIdentityRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        require_staff(&caller(&request))?;
        let request = request.into_inner();
        let id = helpdesk_kit::error::parse_id(&request.contact_id, "contact")?;
        let identity = request
            .identity
            .ok_or(IdentityError::Invalid { field: "identity", reason: "is required" })?;
        let identity = ExternalIdentity::parse(&identity.provider, &identity.subject)?;
        let change = self.store.link_external_identity(id, &identity).await?;
        self.reply(id, change).await
    }
}
