//! `SsoService`: sign-in through configured OpenID Connect and OAuth 2.0 providers that the
//! portal settings switch on. A subject already linked signs in its contact; otherwise a
//! verified email links to (or creates) the contact with that address; an unverified or missing
//! email links nothing until the user proves an address by mail.

use std::sync::Arc;

use helpdesk_proto::identity::v1::{self as pb, sso_service_server::SsoService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        Contact, ContactStatus, EmailAddress, IdentityError, clean_name,
        secret::{IssuedSecret, hash_secret},
        sso::{SsoIdentity, SsoProviderConfig, random_token},
    },
    grpc::{
        AccountsGrpc,
        accounts::{secs, session_response},
    },
    sso::{Provider, Providers, new_pkce_verifier},
    store::{
        ContactKey, LinkKind,
        sessions::SessionTimes,
        sso::{PendingIdentity, PendingLogin},
    },
};

pub struct SsoGrpc {
    accounts: AccountsGrpc,
    providers: Arc<Providers>,
}

/// Whom a provider's answer signs in, once the store has been consulted.
enum Resolved {
    /// A linked subject, or a verified email that links it now.
    Contact { contact_id: Uuid, verified: Option<String> },
    /// No verified email: the ticket with which the user names an address to prove by mail.
    ProveEmail { ticket: String },
}

impl SsoGrpc {
    pub fn new(accounts: AccountsGrpc, providers: Arc<Providers>) -> Self {
        Self { accounts, providers }
    }

    /// A configured provider the portal settings switch on.
    async fn enabled(&self, id: &str) -> Result<&Provider, IdentityError> {
        let settings = self.accounts.store().portal_settings().await?;
        let id = id.trim().to_ascii_lowercase();
        if !settings.sso_providers.contains(&id) {
            return Err(IdentityError::SsoProviderNotFound);
        }
        self.providers.get(&id).ok_or(IdentityError::SsoProviderNotFound)
    }

    fn redirect_uri(&self, config: &SsoProviderConfig) -> String {
        format!(
            "{}/api/v1/sso/{}/callback",
            self.accounts.config().portal_url.trim_end_matches('/'),
            config.id
        )
    }

    async fn providers_listed(&self) -> Result<pb::ListSsoProvidersResponse, IdentityError> {
        let settings = self.accounts.store().portal_settings().await?;
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
        Ok(pb::ListSsoProvidersResponse { providers })
    }

    async fn remember_login(&self, state: &str, provider: &str, pending: &PendingLogin) -> Result<(), IdentityError> {
        Ok(self.accounts.store().begin_sso_login(&hash_secret(state), provider, pending, secs(600)).await?)
    }

    /// The pending login of a returning `state`, taken once.
    async fn take_login(&self, state: &str, provider: &str) -> Result<PendingLogin, IdentityError> {
        self.accounts.store().take_sso_login(&hash_secret(state), provider).await?.ok_or_else(|| {
            tracing::warn!(provider, "sso: unknown, used or expired state");
            IdentityError::SsoFailed
        })
    }

    /// A subject already linked signs in its contact; a verified email links to (or creates)
    /// the contact with that address; otherwise nothing is linked until an address is proved.
    async fn resolve(&self, provider: &str, identity: SsoIdentity) -> Result<Resolved, IdentityError> {
        let store = self.accounts.store();
        if let Some(contact_id) = store.contact_by_identity(provider, &identity.subject).await? {
            let verified = identity.email.filter(|_| identity.email_verified);
            return Ok(Resolved::Contact { contact_id, verified });
        }
        let name = clean_name(&identity.name);
        let verified = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
            .and_then(|email| EmailAddress::parse(email).ok());
        if let Some(address) = verified {
            if store.find_by_email(&address).await?.is_none() {
                store.portal_settings().await?.admits_signup(&address)?;
            }
            let (contact, _) = store.find_or_create(ContactKey::Email(&address), &name).await?;
            return Ok(Resolved::Contact { contact_id: contact.id, verified: Some(address.as_str().to_string()) });
        }
        let ticket = random_token(32)?;
        let pending = PendingIdentity {
            provider: provider.to_string(),
            subject: identity.subject,
            name,
        };
        store.save_pending_identity(&hash_secret(&ticket), &pending, secs(3600)).await?;
        Ok(Resolved::ProveEmail { ticket })
    }

    async fn signed_in(
        &self,
        contact_id: Uuid,
        provider: &str,
        subject: &str,
        verified: Option<&str>,
    ) -> Result<pb::CompleteSsoResponse, Status> {
        let session = self.accounts.new_session()?;
        let times = self.open_session(contact_id, provider, subject, verified, &session).await?;
        tracing::info!(contact = %contact_id, provider, "signed in by single sign-on");
        Ok(pb::CompleteSsoResponse {
            outcome: Some(pb::complete_sso_response::Outcome::Session(session_response(&session, contact_id, &times))),
        })
    }

    async fn open_session(
        &self,
        contact_id: Uuid,
        provider: &str,
        subject: &str,
        verified: Option<&str>,
        session: &IssuedSecret,
    ) -> Result<SessionTimes, IdentityError> {
        let spec = self.accounts.session_spec(session);
        self.accounts.store().sso_sign_in(contact_id, provider, subject, verified, spec).await?.ok_or_else(|| {
            tracing::warn!(contact = %contact_id, provider, "sso sign-in refused: blocked contact or subject linked elsewhere");
            IdentityError::SsoFailed
        })
    }

    /// The contact a proved address belongs to (created if sign-up admits it) and the pending
    /// sign-in to link; `None` when sign-up refuses the address.
    async fn contact_to_confirm(
        &self,
        ticket: &str,
        address: &EmailAddress,
    ) -> Result<Option<(Contact, PendingIdentity)>, IdentityError> {
        let store = self.accounts.store();
        let pending = store.take_pending_identity(&hash_secret(ticket)).await?.ok_or(IdentityError::LinkInvalid)?;
        // The sign-up policy may refuse a new contact; the answer must not tell whether the
        // address is known, so a refused address is simply sent nothing.
        let known = store.find_by_email(address).await?.is_some();
        if !known && store.portal_settings().await?.admits_signup(address).is_err() {
            tracing::info!("sso email confirmation for an address sign-up does not admit; nothing sent");
            return Ok(None);
        }
        let (contact, _) = store.find_or_create(ContactKey::Email(address), &pending.name).await?;
        Ok(Some((contact, pending)))
    }

    async fn redeem(&self, token: &str, session: &IssuedSecret) -> Result<(Uuid, SessionTimes), IdentityError> {
        let spec = self.accounts.session_spec(session);
        self.accounts
            .store()
            .redeem_email_verification(&hash_secret(token), spec)
            .await?
            .ok_or(IdentityError::LinkInvalid)
    }
}

#[tonic::async_trait]
impl SsoService for SsoGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_sso_providers(
        &self,
        _request: Request<pb::ListSsoProvidersRequest>,
    ) -> Result<Response<pb::ListSsoProvidersResponse>, Status> {
        Ok(Response::new(self.providers_listed().await?))
    }

    #[tracing::instrument(skip_all, fields(provider = %request.get_ref().provider_id))]
    async fn begin_sso(&self, request: Request<pb::BeginSsoRequest>) -> Result<Response<pb::BeginSsoResponse>, Status> {
        let request = request.into_inner();
        let provider = self.enabled(&request.provider_id).await?;
        let redirect_uri = self.redirect_uri(&provider.config);
        if !request.redirect_uri.is_empty() && request.redirect_uri != redirect_uri {
            return Err(IdentityError::Invalid { field: "redirect_uri", reason: "is not this help desk's callback" }.into());
        }
        let state = random_token(32)?;
        let pending = PendingLogin {
            nonce: random_token(32)?,
            pkce_verifier: new_pkce_verifier(),
            redirect_uri,
        };
        let authorization_url = self
            .providers
            .authorization_url(provider, &pending.redirect_uri, &state, &pending.nonce, &pending.pkce_verifier)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "sso: cannot build the authorization URL");
                Status::unavailable("the sign-in provider cannot be reached; try again later")
            })?;
        self.remember_login(&state, &provider.config.id, &pending).await?;
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
        let pending = self.take_login(&request.state, id).await?;
        let identity = self
            .providers
            .identify(provider, &request.code, &pending.redirect_uri, &pending.pkce_verifier, &pending.nonce)
            .await
            .map_err(|error| {
                tracing::warn!(provider = id, %error, "sso: the provider's answer was not accepted");
                Status::from(IdentityError::SsoFailed)
            })?;
        let subject = identity.subject.clone();
        let response = match self.resolve(id, identity).await? {
            Resolved::Contact { contact_id, verified } => {
                self.signed_in(contact_id, id, &subject, verified.as_deref()).await?
            }
            Resolved::ProveEmail { ticket } => pb::CompleteSsoResponse {
                outcome: Some(pb::complete_sso_response::Outcome::EmailVerificationTicket(ticket)),
            },
        };
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_sso_email(
        &self,
        request: Request<pb::ConfirmSsoEmailRequest>,
    ) -> Result<Response<pb::ConfirmSsoEmailResponse>, Status> {
        let request = request.into_inner();
        let address = EmailAddress::parse(&request.email)?;
        let Some((contact, pending)) = self.contact_to_confirm(&request.email_verification_ticket, &address).await?
        else {
            return Ok(Response::new(pb::ConfirmSsoEmailResponse {}));
        };
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
        let (contact_id, times) = self.redeem(&token, &session).await?;
        Ok(Response::new(session_response(&session, contact_id, &times)))
    }
}
