//! `SsoService`: sign-in through configured OpenID Connect and OAuth 2.0 providers that the
//! portal settings switch on. A subject already linked signs in its contact; otherwise a
//! verified email links to (or creates) the contact with that address; an unverified or missing
//! email links nothing until the user proves an address by mail.

use std::sync::Arc;

use helpdesk_proto::identity::v1::{self as pb, sso_service_server::SsoService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        ContactStatus, EmailAddress, IdentityError, clean_name,
        secret::hash_secret,
        sso::{Pkce, SsoProviderConfig, random_token},
    },
    grpc::{
        AccountsGrpc,
        accounts::{secs, session_response},
        db_error,
    },
    sso::{Provider, Providers},
    store::{
        ContactKey, LinkKind,
        sso::{PendingIdentity, PendingLogin},
    },
};

pub struct SsoGrpc {
    accounts: AccountsGrpc,
    providers: Arc<Providers>,
}

fn internal(error: impl std::fmt::Display) -> Status {
    helpdesk_kit::error::internal(error)
}

impl SsoGrpc {
    pub fn new(accounts: AccountsGrpc, providers: Arc<Providers>) -> Self {
        Self { accounts, providers }
    }

    /// A configured provider the portal settings switch on.
    async fn enabled(&self, id: &str) -> Result<&Provider, Status> {
        let settings = self.accounts.store().portal_settings().await.map_err(db_error)?;
        let id = id.trim().to_ascii_lowercase();
        if !settings.sso_providers.contains(&id) {
            return Err(IdentityError::SsoProviderNotFound.into());
        }
        self.providers.get(&id).ok_or_else(|| IdentityError::SsoProviderNotFound.into())
    }

    fn redirect_uri(&self, config: &SsoProviderConfig) -> String {
        format!(
            "{}/api/v1/sso/{}/callback",
            self.accounts.config().portal_url.trim_end_matches('/'),
            config.id
        )
    }

    async fn signed_in(
        &self,
        contact_id: uuid::Uuid,
        provider: &str,
        subject: &str,
        verified: Option<&str>,
    ) -> Result<pb::CompleteSsoResponse, Status> {
        let session = self.accounts.new_session()?;
        let times = self
            .accounts
            .store()
            .sso_sign_in(contact_id, provider, subject, verified, self.accounts.session_spec(&session))
            .await
            .map_err(db_error)?
            .ok_or_else(|| {
                tracing::warn!(contact = %contact_id, provider, "sso sign-in refused: blocked contact or subject linked elsewhere");
                Status::from(IdentityError::SsoFailed)
            })?;
        tracing::info!(contact = %contact_id, provider, "signed in by single sign-on");
        Ok(pb::CompleteSsoResponse {
            outcome: Some(pb::complete_sso_response::Outcome::Session(session_response(&session, contact_id, &times))),
        })
    }
}

#[tonic::async_trait]
impl SsoService for SsoGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_sso_providers(
        &self,
        _request: Request<pb::ListSsoProvidersRequest>,
    ) -> Result<Response<pb::ListSsoProvidersResponse>, Status> {
        let settings = self.accounts.store().portal_settings().await.map_err(db_error)?;
        let providers = self
            .providers
            .all()
            .filter(|p| settings.sso_providers.contains(&p.id))
            .map(|p| pb::SsoProvider {
                id: p.id.clone(),
                display_name: p.display_name.clone(),
                kind: p.kind.as_str().into(),
            })
            .collect();
        Ok(Response::new(pb::ListSsoProvidersResponse { providers }))
    }

    #[tracing::instrument(skip_all, fields(provider = %request.get_ref().provider_id))]
    async fn begin_sso(&self, request: Request<pb::BeginSsoRequest>) -> Result<Response<pb::BeginSsoResponse>, Status> {
        let request = request.into_inner();
        let provider = self.enabled(&request.provider_id).await?;
        let redirect_uri = self.redirect_uri(&provider.config);
        if !request.redirect_uri.is_empty() && request.redirect_uri != redirect_uri {
            return Err(IdentityError::Invalid { field: "redirect_uri", reason: "is not this help desk's callback" }.into());
        }
        let state = random_token(32).map_err(internal)?;
        let pkce = Pkce::new().map_err(internal)?;
        let pending = PendingLogin {
            nonce: random_token(32).map_err(internal)?,
            pkce_verifier: pkce.verifier,
            redirect_uri,
        };
        let authorization_url = self
            .providers
            .authorization_url(provider, &pending.redirect_uri, &state, &pending.nonce, &pkce.challenge)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "sso: cannot build the authorization URL");
                Status::unavailable("the sign-in provider cannot be reached; try again later")
            })?;
        self.accounts
            .store()
            .begin_sso_login(&hash_secret(&state), &provider.config.id, &pending, secs(600))
            .await
            .map_err(db_error)?;
        Ok(Response::new(pb::BeginSsoResponse { authorization_url, state }))
    }

    #[tracing::instrument(skip_all, fields(provider = %request.get_ref().provider_id))]
    async fn complete_sso(
        &self,
        request: Request<pb::CompleteSsoRequest>,
    ) -> Result<Response<pb::CompleteSsoResponse>, Status> {
        let request = request.into_inner();
        let provider = self.enabled(&request.provider_id).await?;
        let id = provider.config.id.as_str();
        if request.state.is_empty() || request.state.len() > 256 || request.code.is_empty() || request.code.len() > 4096 {
            return Err(IdentityError::SsoFailed.into());
        }
        let Some(pending) = self
            .accounts
            .store()
            .take_sso_login(&hash_secret(&request.state), id)
            .await
            .map_err(db_error)?
        else {
            tracing::warn!(provider = id, "sso: unknown, used or expired state");
            return Err(IdentityError::SsoFailed.into());
        };
        let identity = self
            .providers
            .identify(provider, &request.code, &pending.redirect_uri, &pending.pkce_verifier, &pending.nonce)
            .await
            .map_err(|error| {
                tracing::warn!(provider = id, %error, "sso: the provider's answer was not accepted");
                Status::from(IdentityError::SsoFailed)
            })?;
        let store = self.accounts.store();
        if let Some(contact_id) = store.contact_by_identity(id, &identity.subject).await.map_err(db_error)? {
            let verified = identity.email.as_deref().filter(|_| identity.email_verified);
            return Ok(Response::new(self.signed_in(contact_id, id, &identity.subject, verified).await?));
        }
        let name = clean_name(&identity.name);
        let verified = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
            .and_then(|email| EmailAddress::parse(email).ok());
        if let Some(address) = verified {
            if store.find_by_email(&address).await.map_err(db_error)?.is_none() {
                store.portal_settings().await.map_err(db_error)?.admits_signup(&address)?;
            }
            let (contact, _) = store
                .find_or_create(ContactKey::Email(&address), &name)
                .await
                .map_err(db_error)?;
            let response = self
                .signed_in(contact.id, id, &identity.subject, Some(address.as_str()))
                .await?;
            return Ok(Response::new(response));
        }
        // No verified email: link nothing yet; the user names an address and proves it by mail.
        let ticket = random_token(32).map_err(internal)?;
        let pending = PendingIdentity {
            provider: id.to_string(),
            subject: identity.subject,
            name,
        };
        store
            .save_pending_identity(&hash_secret(&ticket), &pending, secs(3600))
            .await
            .map_err(db_error)?;
        Ok(Response::new(pb::CompleteSsoResponse {
            outcome: Some(pb::complete_sso_response::Outcome::EmailVerificationTicket(ticket)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_sso_email(
        &self,
        request: Request<pb::ConfirmSsoEmailRequest>,
    ) -> Result<Response<pb::ConfirmSsoEmailResponse>, Status> {
        let request = request.into_inner();
        let address = EmailAddress::parse(&request.email)?;
        let store = self.accounts.store();
        let pending = store
            .take_pending_identity(&hash_secret(&request.email_verification_ticket))
            .await
            .map_err(db_error)?
            .ok_or(IdentityError::LinkInvalid)?;
        // The sign-up policy may refuse a new contact; the answer must not tell whether the
        // address is known, so a refused address is simply sent nothing.
        let known = store.find_by_email(&address).await.map_err(db_error)?.is_some();
        if !known && store.portal_settings().await.map_err(db_error)?.admits_signup(&address).is_err() {
            tracing::info!("sso email confirmation for an address sign-up does not admit; nothing sent");
            return Ok(Response::new(pb::ConfirmSsoEmailResponse {}));
        }
        let (contact, _) = store
            .find_or_create(ContactKey::Email(&address), &pending.name)
            .await
            .map_err(db_error)?;
        // The same answer for a blocked contact; it simply gets no mail.
        if contact.status != ContactStatus::Blocked {
            self.accounts
                .send_link_for(
                    LinkKind::EmailVerification,
                    contact.id,
                    address.as_str(),
                    &pending.name,
                    Some((&pending.provider, &pending.subject)),
                )
                .await?;
        }
        Ok(Response::new(pb::ConfirmSsoEmailResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_sso_email(
        &self,
        request: Request<pb::VerifySsoEmailRequest>,
    ) -> Result<Response<pb::SessionResponse>, Status> {
        let token = request.into_inner().token;
        if token.is_empty() || token.len() > 256 {
            return Err(IdentityError::LinkInvalid.into());
        }
        let session = self.accounts.new_session()?;
        let (contact_id, times) = self
            .accounts
            .store()
            .redeem_email_verification(&hash_secret(&token), self.accounts.session_spec(&session))
            .await
            .map_err(db_error)?
            .ok_or(IdentityError::LinkInvalid)?;
        Ok(Response::new(session_response(&session, contact_id, &times)))
    }
}
