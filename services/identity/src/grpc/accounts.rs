//! `AccountService`: the portal's sign-up, activation, password login, logout, reset and change,
//! the exchange of a session for a short-lived caller token, and an admin's setting of a contact's
//! password (no mailed link: accounts made for customers, the demo). Guests' ticket confirmations
//! are in `guest`, identity links (a Discord user ↔ an address) in `identity_link`. Every answer
//! that could reveal whether an address is known is the same either way: sign-up and reset always
//! "accept", login fails with one message (after the same argon2 work) for every reason.

use std::sync::Arc;

use anyhow::Context;
use helpdesk_kit::{
    auth::{Caller, TokenSigner, caller},
    events::timestamp,
};
use helpdesk_proto::identity::v1::{self as pb, account_service_server::AccountService};
use secrecy::{ExposeSecret, SecretString};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    config::IdentityConfig,
    domain::{
        ContactStatus, EmailAddress, IdentityError,
        captcha::Captcha,
        clean_name,
        password::{self, NewPassword},
        secret::{self, IssuedSecret},
    },
    grpc::{caller_token, client_ip},
    store::{
        ContactKey, LinkKind, Store,
        accounts::{LinkMail, NewSession},
        contacts::ContactUpdate,
        sessions::SessionTimes,
    },
};

/// Longer inputs are refused before any hashing work.
const MAX_PASSWORD_INPUT: usize = 1024;

#[derive(Clone)]
pub struct AccountsGrpc {
    store: Store,
    signer: Arc<TokenSigner>,
    config: IdentityConfig,
    captcha: Arc<Captcha>,
}

/// Runs CPU-bound work (argon2) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, IdentityError> {
    Ok(tokio::task::spawn_blocking(work).await.context("a blocking task did not finish")?)
}

async fn hash_password(password: NewPassword) -> Result<String, IdentityError> {
    blocking(move || password.hash()).await?
}

fn bounded_password(raw: String, field: &'static str) -> Result<SecretString, IdentityError> {
    if raw.len() > MAX_PASSWORD_INPUT {
        return Err(IdentityError::Invalid { field, reason: "is too long" });
    }
    Ok(SecretString::from(raw))
}

pub(super) fn session_response(raw: &IssuedSecret, contact_id: Uuid, times: &SessionTimes) -> pb::SessionResponse {
    pb::SessionResponse {
        session_id: raw.raw.expose_secret().to_string(),
        idle_expires_at: Some(timestamp(times.idle_expires_at)),
        absolute_expires_at: Some(timestamp(times.absolute_expires_at)),
        contact_id: contact_id.to_string(),
    }
}

pub(super) fn secs(seconds: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000))
}

impl AccountsGrpc {
    /// When the captcha is on: a valid solution, redeemed once (a replay is refused).
    async fn require_captcha(&self, enabled: bool, solution: &str) -> Result<(), IdentityError> {
        if !enabled {
            return Ok(());
        }
        let solution = self.captcha.verify(solution)?;
        if !self.store.redeem_captcha(&solution).await? {
            return Err(IdentityError::Captcha("this solution was used already; solve a new one"));
        }
        Ok(())
    }

    pub fn new(store: Store, signer: Arc<TokenSigner>, config: IdentityConfig, captcha: Arc<Captcha>) -> Self {
        Self {
            store,
            signer,
            config,
            captcha,
        }
    }

    pub(super) fn new_session(&self) -> Result<IssuedSecret, IdentityError> {
        secret::new_session_id()
    }

    pub(super) fn session_spec<'a>(&self, issued: &'a IssuedSecret) -> NewSession<'a> {
        NewSession {
            id_hash: &issued.hash,
            idle: secs(self.config.session_idle_secs),
            absolute: secs(self.config.session_absolute_secs),
        }
    }

    /// `<portal_url>/<path>?token=<token>`: the link a mail carries.
    pub(super) fn link(&self, path: &str, token: &SecretString) -> String {
        format!("{}/{path}?token={}", self.config.portal_url.trim_end_matches('/'), token.expose_secret())
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Draws a link token, stores it and asks for the mail.
    async fn send_link(&self, kind: LinkKind, contact_id: Uuid, to: &str, name: &str) -> Result<(), IdentityError> {
        self.send_link_for(kind, contact_id, to, name, None).await
    }

    pub(super) async fn send_link_for(
        &self,
        kind: LinkKind,
        contact_id: Uuid,
        to: &str,
        name: &str,
        sso: Option<(&str, &str)>,
    ) -> Result<(), IdentityError> {
        let token = secret::new_link_token()?;
        let (path, ttl) = match kind {
            LinkKind::Activation => ("activate", self.config.activation_link_ttl_secs),
            LinkKind::PasswordReset => ("password/reset", self.config.reset_link_ttl_secs),
            LinkKind::EmailVerification => ("sso/verify-email", self.config.activation_link_ttl_secs),
        };
        let link = self.link(path, &token.raw);
        self.store
            .send_link(LinkMail {
                kind,
                token_hash: &token.hash,
                contact_id,
                to_address: to,
                to_name: name,
                link: &link,
                ttl: secs(ttl),
                sso,
            })
            .await
            .map(|_sent| ())
    }

    /// Validates the new password first (so a weak one does not burn the link), then redeems.
    async fn redeem(&self, kind: LinkKind, token: &str, new_password: String) -> Result<pb::SessionResponse, IdentityError> {
        let new_password = NewPassword::parse(bounded_password(new_password, "password")?.expose_secret())?;
        if token.trim().is_empty() || token.len() > 256 {
            return Err(IdentityError::LinkInvalid);
        }
        let hash = hash_password(new_password).await?;
        let session = self.new_session()?;
        let (contact_id, times) = self
            .store
            .redeem_link(kind, &secret::hash_secret(token), &hash, self.session_spec(&session))
            .await?
            .ok_or(IdentityError::LinkInvalid)?;
        tracing::info!(contact = %contact_id, ?kind, "link redeemed; session opened");
        Ok(session_response(&session, contact_id, &times))
    }
}

#[tonic::async_trait]
impl AccountService for AccountsGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_captcha_challenge(
        &self,
        _request: Request<pb::GetCaptchaChallengeRequest>,
    ) -> Result<Response<pb::CaptchaChallenge>, Status> {
        let challenge_json = self.captcha.challenge()?;
        Ok(Response::new(pb::CaptchaChallenge { challenge_json }))
    }

    #[tracing::instrument(skip_all)]
    async fn request_account(
        &self,
        request: Request<pb::RequestAccountRequest>,
    ) -> Result<Response<pb::RequestAccountResponse>, Status> {
        let request = request.into_inner();
        let name = clean_name(&request.name);
        if name.is_empty() {
            return Err(IdentityError::Invalid { field: "name", reason: "is required" }.into());
        }
        let address = EmailAddress::parse(&request.email)?;
        let settings = self.store.portal_settings().await?;
        settings.admits_signup(&address)?;
        self.require_captcha(settings.captcha_enabled, &request.captcha_solution).await?;
        // From here on the answer is the same whatever we find.
        let (contact, _created) = self
            .store
            .find_or_create(ContactKey::Email(&address), &name)
            .await?;
        // A contact a channel created without a name takes the one given now.
        if contact.name.is_empty() && contact.status == ContactStatus::PendingActivation {
            let update = ContactUpdate { name: Some(name.clone()), emails: None, primary: None };
            self.store.update_contact(contact.id, update).await?;
        }
        match (contact.status, contact.has_account) {
            (ContactStatus::Blocked, _) => tracing::info!(contact = %contact.id, "sign-up by a blocked contact ignored"),
            // They have an account already: a reset link helps them and tells a stranger nothing.
            (ContactStatus::Active, true) => {
                self.send_link(LinkKind::PasswordReset, contact.id, address.as_str(), &name).await?;
            }
            _ => self.send_link(LinkKind::Activation, contact.id, address.as_str(), &name).await?,
        }
        Ok(Response::new(pb::RequestAccountResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn activate_account(
        &self,
        request: Request<pb::ActivateAccountRequest>,
    ) -> Result<Response<pb::SessionResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.redeem(LinkKind::Activation, &request.token, request.password).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::SessionResponse>, Status> {
        let ip = client_ip(&request, &request.get_ref().client_ip);
        let request = request.into_inner();
        let address = EmailAddress::parse(&request.email)?;
        let candidate = bounded_password(request.password, "password")?;
        let settings = self.store.portal_settings().await?;
        if !settings.password_login {
            return Err(IdentityError::LoginModeDisabled.into());
        }
        let account = address.normalized().to_string();
        let policy = self.config.throttle();
        let recent = self
            .store
            .recent_login_failures(&account, &ip, policy.window)
            .await?;
        if !policy.allows(recent) {
            tracing::warn!(%ip, "login throttled");
            return Err(IdentityError::Throttled.into());
        }
        let credentials = self.store.credentials(&account).await?;
        let contact_id = match credentials {
            Some(credentials) => {
                let stored = credentials.password_hash.clone();
                let matches = blocking(move || password::verify(&stored, &candidate)).await?;
                (matches && credentials.active).then_some(credentials.contact_id)
            }
            None => {
                blocking(move || password::verify_against_nothing(&candidate)).await?;
                None
            }
        };
        let Some(contact_id) = contact_id else {
            self.store.record_login_failure(&account, &ip).await?;
            return Err(IdentityError::LoginFailed.into());
        };
        self.store.record_login_success(&account, &ip).await?;
        let session = self.new_session()?;
        let times = self
            .store
            .open_session(contact_id, self.session_spec(&session))
            .await?;
        tracing::info!(contact = %contact_id, "signed in with a password");
        Ok(Response::new(session_response(&session, contact_id, &times)))
    }

    #[tracing::instrument(skip_all)]
    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        let session_id = SecretString::from(request.into_inner().session_id);
        // Logging out of an unknown or ended session is not an error: the outcome is the same.
        self.store
            .delete_session(&secret::hash_presented(&session_id))
            .await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let address = EmailAddress::parse(&request.get_ref().email)?;
        if let Some(contact) = self.store.find_by_email(&address).await?
            && contact.has_account
            && contact.status == ContactStatus::Active
        {
            self.send_link(LinkKind::PasswordReset, contact.id, address.as_str(), &contact.name).await?;
        }
        Ok(Response::new(pb::RequestPasswordResetResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::SessionResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.redeem(LinkKind::PasswordReset, &request.token, request.new_password).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let contact_id = match caller(&request) {
            Caller::Contact { id } => id,
            Caller::Anonymous => return Err(IdentityError::Unauthenticated.into()),
            _ => return Err(IdentityError::PermissionDenied.into()),
        };
        // Guessing the current password with a stolen session is throttled like a login.
        let ip = client_ip(&request, "");
        let account = format!("contact:{contact_id}");
        let policy = self.config.throttle();
        let recent = self
            .store
            .recent_login_failures(&account, &ip, policy.window)
            .await?;
        if !policy.allows(recent) {
            return Err(IdentityError::Throttled.into());
        }
        let request = request.into_inner();
        let current = bounded_password(request.current_password, "current_password")?;
        let new_password = NewPassword::parse(bounded_password(request.new_password, "new_password")?.expose_secret())
            .map_err(|_| IdentityError::Invalid {
                field: "new_password",
                reason: "must be 8-128 characters and not one of the most common passwords",
            })?;
        let stored = self
            .store
            .password_hash_of(contact_id)
            .await?
            .ok_or(IdentityError::Invalid { field: "current_password", reason: "is not correct" })?;
        if !blocking(move || password::verify(&stored, &current)).await? {
            self.store.record_login_failure(&account, &ip).await?;
            return Err(IdentityError::Invalid { field: "current_password", reason: "is not correct" }.into());
        }
        let hash = hash_password(new_password).await?;
        let keep = (!request.session_id.is_empty()).then(|| secret::hash_secret(&request.session_id));
        self.store
            .change_password(contact_id, &hash, keep.as_deref())
            .await?;
        tracing::info!(contact = %contact_id, "password changed; other sessions ended");
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn exchange_session(
        &self,
        request: Request<pb::ExchangeSessionRequest>,
    ) -> Result<Response<pb::TokenResponse>, Status> {
        let session_id = SecretString::from(request.into_inner().session_id);
        if session_id.expose_secret().is_empty() || session_id.expose_secret().len() > 256 {
            return Err(IdentityError::SessionEnded.into());
        }
        let (contact_id, _times) = self
            .store
            .touch_session(&secret::hash_presented(&session_id), secs(self.config.session_idle_secs))
            .await?
            .ok_or(IdentityError::SessionEnded)?;
        Ok(Response::new(caller_token(&self.signer, &Caller::Contact { id: contact_id })?))
    }

    #[tracing::instrument(skip_all)]
    async fn admit_guest(
        &self,
        request: Request<pb::AdmitGuestRequest>,
    ) -> Result<Response<pb::AdmitGuestResponse>, Status> {
        if !matches!(caller(&request), Caller::Service { .. }) {
            return Err(IdentityError::PermissionDenied.into());
        }
        let request = request.into_inner();
        let settings = self.store.portal_settings().await?;
        if settings.login_required_to_submit {
            return Err(IdentityError::LoginRequiredToSubmit.into());
        }
        let address = EmailAddress::parse(&request.email)?;
        self.require_captcha(settings.captcha_enabled, &request.captcha_solution).await?;
        let (contact, created) = self
            .store
            .find_or_create(ContactKey::Email(&address), &clean_name(&request.name))
            .await?;
        // Any contact that existed before this form was sent is a real customer, account or not:
        // one known only from her mail sees every ticket in her name once she signs up, her group
        // sees them now, and she gets the mail about them. So a guest writing in her name is held
        // until the address's owner confirms. A contact made just now has no one else's tickets
        // to mix with, so a first-time address files directly, as before. A blocked contact's
        // address is held too (and mailed nothing): refusing it would tell the guest the address
        // is known, and staff still see what was written.
        let existed = !created || contact.status == ContactStatus::Blocked;
        Ok(Response::new(pb::AdmitGuestResponse { contact_id: contact.id.to_string(), confirm_by_mail: existed }))
    }

    #[tracing::instrument(skip_all)]
    async fn request_ticket_confirmation(
        &self,
        request: Request<pb::RequestTicketConfirmationRequest>,
    ) -> Result<Response<pb::RequestTicketConfirmationResponse>, Status> {
        Ok(Response::new(self.send_ticket_confirmation(request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_ticket(
        &self,
        request: Request<pb::ConfirmTicketRequest>,
    ) -> Result<Response<pb::ConfirmTicketResponse>, Status> {
        Ok(Response::new(self.redeem_ticket_confirmation(request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn request_identity_link(
        &self,
        request: Request<pb::RequestIdentityLinkRequest>,
    ) -> Result<Response<pb::RequestIdentityLinkResponse>, Status> {
        Ok(Response::new(self.request_link(request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn preview_identity_link(
        &self,
        request: Request<pb::PreviewIdentityLinkRequest>,
    ) -> Result<Response<pb::IdentityLinkPreview>, Status> {
        Ok(Response::new(self.preview_link(request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_identity_link(
        &self,
        request: Request<pb::ConfirmIdentityLinkRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Ok(Response::new(self.confirm_link(request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn set_contact_password(
        &self,
        request: Request<pb::SetContactPasswordRequest>,
    ) -> Result<Response<pb::SetContactPasswordResponse>, Status> {
        super::require_admin(&caller(&request))?;
        let request = request.into_inner();
        let contact_id = Uuid::parse_str(&request.contact_id).map_err(|_| IdentityError::ContactNotFound)?;
        let new_password = NewPassword::parse(bounded_password(request.password, "password")?.expose_secret())?;
        let hash = hash_password(new_password).await?;
        match self.store.set_password_for(contact_id, &hash).await? {
            None => Err(IdentityError::ContactNotFound.into()),
            Some(ContactStatus::Blocked) => Err(IdentityError::ContactBlocked.into()),
            Some(_) => {
                tracing::info!(contact = %contact_id, "password set by an admin or service; sessions ended");
                Ok(Response::new(pb::SetContactPasswordResponse {}))
            }
        }
    }
}
