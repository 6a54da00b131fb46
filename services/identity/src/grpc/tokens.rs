//! `TokenService`: services trade the shared secret for a service token; services and admins get
//! tokens that act as a contact (the gateway's and the CLI's way to call on a contact's behalf) —
//! never for a blocked contact or an inactive staff member; services read the revocation list.

use std::sync::Arc;

use helpdesk_kit::auth::{Caller, TokenSigner, caller};
use helpdesk_proto::identity::v1::{self as pb, token_service_server::TokenService};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use crate::{
    domain::{ContactStatus, EmailAddress, IdentityError, parse_service_name},
    grpc::{caller_token, require_admin},
    store::Store,
};

pub struct TokensGrpc {
    store: Store,
    signer: Arc<TokenSigner>,
    token_ttl: chrono::Duration,
    service_secret: SecretString,
    verify_pem: String,
}

impl TokensGrpc {
    pub fn new(
        store: Store,
        signer: Arc<TokenSigner>,
        token_ttl: chrono::Duration,
        service_secret: SecretString,
        verify_pem: String,
    ) -> Self {
        Self {
            store,
            signer,
            token_ttl,
            service_secret,
            verify_pem,
        }
    }

    fn token_for(&self, caller: &Caller) -> Result<Response<pb::TokenResponse>, Status> {
        Ok(Response::new(caller_token(&self.signer, caller)?))
    }

    /// Compares digests, so the time taken says nothing about how much of the secret matched.
    fn secret_matches(&self, offered: &str) -> bool {
        Sha256::digest(offered.as_bytes()) == Sha256::digest(self.service_secret.expose_secret().as_bytes())
    }
}

#[tonic::async_trait]
impl TokenService for TokensGrpc {
    #[tracing::instrument(skip_all, fields(service = %request.get_ref().service))]
    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::TokenResponse>, Status> {
        let request = request.into_inner();
        let name = parse_service_name(&request.service)?;
        if !self.secret_matches(&request.secret) {
            tracing::warn!(service = %name, "service token refused: wrong secret");
            return Err(Status::unauthenticated("wrong service secret"));
        }
        self.token_for(&Caller::Service { name })
    }

    #[tracing::instrument(skip_all)]
    async fn issue_contact_token(
        &self,
        request: Request<pb::IssueContactTokenRequest>,
    ) -> Result<Response<pb::TokenResponse>, Status> {
        require_admin(&caller(&request))?;
        let contact = match request.into_inner().contact {
            Some(pb::issue_contact_token_request::Contact::ContactId(id)) => {
                let id = helpdesk_kit::error::parse_id(&id, "contact")?;
                self.store.contact(id).await?
            }
            Some(pb::issue_contact_token_request::Contact::Email(email)) => {
                let address = EmailAddress::parse(&email)?;
                self.store.find_by_email(&address).await?
            }
            None => return Err(IdentityError::Invalid { field: "contact", reason: "give contact_id or email" }.into()),
        };
        let contact = contact.ok_or(IdentityError::ContactNotFound)?;
        if contact.status == ContactStatus::Blocked {
            return Err(IdentityError::ContactBlocked.into());
        }
        self.token_for(&Caller::Contact { id: contact.id })
    }

    #[tracing::instrument(skip_all)]
    async fn issue_staff_token(
        &self,
        request: Request<pb::IssueStaffTokenRequest>,
    ) -> Result<Response<pb::TokenResponse>, Status> {
        require_admin(&caller(&request))?;
        let id = helpdesk_kit::error::parse_id(&request.get_ref().staff_id, "staff member")?;
        let staff = self.store.staff(id).await?;
        // An inactive staff member gets no token, and is not told apart from an absent one.
        let staff = staff.filter(|s| s.active).ok_or(IdentityError::StaffNotFound)?;
        self.token_for(&Caller::Staff { id: staff.id, role: staff.role })
    }

    async fn get_verification_key(
        &self,
        _request: Request<pb::GetVerificationKeyRequest>,
    ) -> Result<Response<pb::GetVerificationKeyResponse>, Status> {
        Ok(Response::new(pb::GetVerificationKeyResponse {
            public_key_pem: self.verify_pem.clone(),
        }))
    }

    /// Services only: which blocked contacts and deactivated staff exist is nobody else's business.
    #[tracing::instrument(skip_all)]
    async fn list_revocations(
        &self,
        request: Request<pb::ListRevocationsRequest>,
    ) -> Result<Response<pb::ListRevocationsResponse>, Status> {
        match caller(&request) {
            Caller::Service { .. } => {}
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            _ => return Err(IdentityError::PermissionDenied.into()),
        }
        let revocations = self.store.revocations(self.token_ttl).await?;
        Ok(Response::new(pb::ListRevocationsResponse { revocations }))
    }
}
