//! Identity's gRPC surface: the handlers, the one mapping from [`IdentityError`] to `Status`, and
//! domain → proto conversions. Authorization is decided here, from the caller the interceptor found.

mod contacts;
mod tokens;

pub use contacts::ContactsGrpc;
pub use tokens::TokensGrpc;

use helpdesk_kit::events::timestamp;
use helpdesk_proto::identity::v1 as pb;
use tonic::Status;

use crate::domain::{Contact, ContactStatus, IdentityError};

impl From<IdentityError> for Status {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            IdentityError::ContactNotFound => helpdesk_kit::error::not_found("contact"),
            IdentityError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            IdentityError::PermissionDenied => helpdesk_kit::error::permission_denied(),
        }
    }
}

fn db_error(error: sqlx::Error) -> Status {
    helpdesk_kit::error::internal(error)
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
        group_ids: Vec::new(),
        has_account: false,
        created_at: Some(timestamp(contact.created_at)),
    }
}
