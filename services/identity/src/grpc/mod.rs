//! Identity's gRPC surface: the handlers, the one mapping from [`IdentityError`] to `Status`, and
//! domain → proto conversions. Authorization is decided here, from the caller the interceptor found.
//!
//! Handlers use bare `?`: the store, the domain rules and the helpers here all answer
//! `IdentityError`, and unexpected failures (`Database`, `Internal`, the latter with an
//! `anyhow::Context` naming what was being done) are logged in full and answered opaque with a
//! reference id by [`helpdesk_kit::error::internal`].

pub(crate) mod accounts;
mod contacts;
mod groups;
mod guest;
mod identity_link;
mod settings;
mod sso;
mod staff;
mod tokens;

pub use accounts::AccountsGrpc;
pub use contacts::ContactsGrpc;
pub use groups::GroupsGrpc;
pub use settings::SettingsGrpc;
pub use sso::SsoGrpc;
pub use staff::StaffGrpc;
pub use tokens::TokensGrpc;

use std::net::IpAddr;

use anyhow::Context;
use helpdesk_kit::{
    auth::{Caller, StaffRole, TokenSigner},
    events::timestamp,
};
use helpdesk_proto::identity::v1 as pb;
use tonic::Status;

use crate::domain::{Contact, ContactStatus, IdentityError, groups::Group, staff::Staff};

impl From<IdentityError> for Status {
    fn from(error: IdentityError) -> Self {
        // Only the caller's own mistakes are told in words; unexpected failures never are.
        let message = || error.to_string();
        match &error {
            IdentityError::Invalid { .. } | IdentityError::LinkInvalid | IdentityError::Captcha(_) => {
                Status::invalid_argument(message())
            }
            IdentityError::ContactNotFound => helpdesk_kit::error::not_found("contact"),
            IdentityError::LinkNotFound => helpdesk_kit::error::not_found("link"),
            IdentityError::LinkUsed | IdentityError::LinkExpired | IdentityError::LinkRefused => {
                Status::failed_precondition(message())
            }
            IdentityError::StaffNotFound => helpdesk_kit::error::not_found("staff member"),
            IdentityError::GroupNotFound => helpdesk_kit::error::not_found("group"),
            IdentityError::AlreadyExists(_) => Status::already_exists(message()),
            IdentityError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            IdentityError::LoginFailed
            | IdentityError::SessionEnded
            | IdentityError::SsoFailed
            | IdentityError::LoginRequiredToSubmit => {
                Status::unauthenticated(message())
            }
            IdentityError::SsoProviderNotFound => helpdesk_kit::error::not_found("sso provider"),
            IdentityError::PermissionDenied => helpdesk_kit::error::permission_denied(),
            IdentityError::SignupClosed | IdentityError::SignupDomainNotAllowed | IdentityError::LoginModeDisabled => {
                Status::permission_denied(message())
            }
            IdentityError::Throttled => Status::resource_exhausted(message()),
            IdentityError::ContactBlocked => Status::failed_precondition(message()),
            IdentityError::Database(error) => helpdesk_kit::error::internal(error),
            IdentityError::Internal(error) => helpdesk_kit::error::internal(error),
        }
    }
}

/// Admins and services only; anyone else is told plainly (these calls name no one's data).
pub(crate) fn require_admin(caller: &Caller) -> Result<(), IdentityError> {
    match caller {
        Caller::Anonymous => Err(IdentityError::Unauthenticated),
        caller if caller.is_admin_or_service() => Ok(()),
        _ => Err(IdentityError::PermissionDenied),
    }
}

/// Services only (the gateway, chat): calls that act on what a service saw or was told.
fn require_service(caller: &Caller) -> Result<(), IdentityError> {
    match caller {
        Caller::Service { .. } => Ok(()),
        _ => Err(IdentityError::PermissionDenied),
    }
}

/// Agents, admins and services.
fn require_staff(caller: &Caller) -> Result<(), IdentityError> {
    match caller {
        Caller::Anonymous => Err(IdentityError::Unauthenticated),
        caller if caller.is_staff_or_service() => Ok(()),
        _ => Err(IdentityError::PermissionDenied),
    }
}

/// A signed caller token and its expiry, as every token call answers it.
fn caller_token(signer: &TokenSigner, caller: &Caller) -> Result<pb::TokenResponse, IdentityError> {
    let (token, expires) = signer.issue(caller).context("signing a caller token")?;
    Ok(pb::TokenResponse {
        token,
        expires_at: Some(timestamp(expires)),
    })
}

/// The client's address for throttling: what a trusted service (the gateway) says it is,
/// otherwise the peer of this connection — an anonymous caller cannot pick its own.
fn client_ip<T>(request: &tonic::Request<T>, claimed: &str) -> String {
    if matches!(helpdesk_kit::auth::caller(request), Caller::Service { .. })
        && let Ok(ip) = claimed.trim().parse::<IpAddr>()
    {
        return ip.to_string();
    }
    request.remote_addr().map_or_else(|| "unknown".into(), |a| a.ip().to_string())
}

fn role_from_pb(raw: i32) -> Result<StaffRole, IdentityError> {
    match pb::StaffRole::try_from(raw) {
        Ok(pb::StaffRole::Agent) => Ok(StaffRole::Agent),
        Ok(pb::StaffRole::Admin) => Ok(StaffRole::Admin),
        _ => Err(IdentityError::Invalid { field: "role", reason: "must be agent or admin" }),
    }
}

fn staff_to_pb(staff: Staff) -> pb::Staff {
    pb::Staff {
        id: staff.id.to_string(),
        name: staff.name,
        email: staff.email,
        role: match staff.role {
            StaffRole::Agent => pb::StaffRole::Agent,
            StaffRole::Admin => pb::StaffRole::Admin,
        } as i32,
        active: staff.active,
        created_at: Some(timestamp(staff.created_at)),
    }
}

fn group_to_pb(group: Group) -> pb::ContactGroup {
    pb::ContactGroup {
        id: group.id.to_string(),
        name: group.name,
        share_tickets: group.share_tickets,
        auto_join_domains: group.auto_join_domains,
        member_ids: group.member_ids.iter().map(ToString::to_string).collect(),
        created_at: Some(timestamp(group.created_at)),
    }
}

fn contact_to_pb(contact: Contact) -> pb::Contact {
    pb::Contact {
        id: contact.id.to_string(),
        name: contact.name,
        emails: contact
            .emails
            .into_iter()
            .map(|e| pb::ContactEmail {
                address: e.address,
                primary: e.primary,
                verified: e.verified,
                deliverable: e.deliverable,
            })
            .collect(),
        external_identities: contact
            .identities
            .into_iter()
            .map(|i| pb::ExternalIdentity {
                provider: i.provider,
                subject: i.subject,
            })
            .collect(),
        status: match contact.status {
            ContactStatus::PendingActivation => pb::ContactStatus::PendingActivation,
            ContactStatus::Active => pb::ContactStatus::Active,
            ContactStatus::Blocked => pb::ContactStatus::Blocked,
        } as i32,
        group_ids: contact.group_ids.iter().map(ToString::to_string).collect(),
        has_account: contact.has_account,
        created_at: Some(timestamp(contact.created_at)),
        merged_into_contact_id: contact.merged_into.map(|id| id.to_string()).unwrap_or_default(),
    }
}
