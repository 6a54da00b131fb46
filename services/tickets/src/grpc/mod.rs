//! Tickets' gRPC surface: handlers (`tickets`, `attachments`, `admin`), what they ask identity
//! (`directory`: active staff, existing groups), the one mapping from [`TicketError`] to
//! `Status`, who the caller is as the store sees it, and proto ⇄ domain conversions (`convert`).

mod admin;
mod attachments;
mod convert;
mod directory;
mod tickets;

pub use admin::AdminGrpc;
pub use directory::Directory;
pub use tickets::TicketsGrpc;

use helpdesk_kit::auth::{Caller, StaffRole};
use tonic::Status;
use uuid::Uuid;

use crate::{domain::TicketError, store::{Author, Viewer}};

impl From<TicketError> for Status {
    fn from(error: TicketError) -> Self {
        match error {
            TicketError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            TicketError::NotFound => helpdesk_kit::error::not_found("ticket"),
            TicketError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            TicketError::PermissionDenied => helpdesk_kit::error::permission_denied(),
            TicketError::FailedPrecondition(reason) => Status::failed_precondition(reason),
            TicketError::Database(error) => helpdesk_kit::error::internal(error),
            TicketError::Internal(error) => helpdesk_kit::error::internal(error),
        }
    }
}

/// The caller as the store sees it; anonymous callers must authenticate.
fn viewer(caller: &Caller) -> Result<Viewer, TicketError> {
    match caller {
        Caller::Anonymous => Err(TicketError::Unauthenticated),
        Caller::Contact { id } => Ok(Viewer::Contact(*id)),
        Caller::Staff { id, .. } => Ok(Viewer::Staff(Some(*id))),
        Caller::Service { .. } => Ok(Viewer::Staff(None)),
    }
}

fn author(caller: &Caller) -> Author {
    match caller {
        Caller::Contact { id } => Author::Contact(*id),
        Caller::Staff { id, .. } => Author::Agent(*id),
        Caller::Anonymous | Caller::Service { .. } => Author::System,
    }
}

/// Agents, admins and services; contacts are refused before anything is looked up.
fn require_staff(caller: &Caller) -> Result<(), TicketError> {
    match caller {
        Caller::Anonymous => Err(TicketError::Unauthenticated),
        Caller::Contact { .. } => Err(TicketError::PermissionDenied),
        Caller::Staff { .. } | Caller::Service { .. } => Ok(()),
    }
}

fn require_admin(caller: &Caller) -> Result<(), TicketError> {
    match caller {
        Caller::Anonymous => Err(TicketError::Unauthenticated),
        Caller::Staff { role: StaffRole::Admin, .. } | Caller::Service { .. } => Ok(()),
        Caller::Contact { .. } | Caller::Staff { .. } => Err(TicketError::PermissionDenied),
    }
}

fn actor_id(caller: &Caller) -> String {
    match caller {
        Caller::Contact { id } | Caller::Staff { id, .. } => id.to_string(),
        Caller::Service { name } => format!("service:{name}"),
        Caller::Anonymous => String::new(),
    }
}

/// A wire id that must name something: malformed reads as absent.
fn ticket_id(raw: &str) -> Result<Uuid, Status> {
    helpdesk_kit::error::parse_id(raw, "ticket")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference id in kit's opaque "internal error (reference <id>)".
    fn reference(status: &Status) -> Option<Uuid> {
        let id = status.message().strip_prefix("internal error (reference ")?.strip_suffix(')')?;
        Uuid::parse_str(id).ok()
    }

    #[test]
    fn an_unexpected_failure_is_answered_internal_with_a_reference_and_nothing_of_its_cause() {
        let database = TicketError::Database(sqlx::Error::Protocol(
            "relation \"tickets.messages\" does not exist: SELECT body_text FROM messages".into(),
        ));
        let other = TicketError::Internal(anyhow::anyhow!("connection refused by 10.0.0.3:5432").context("reading the blob"));
        for error in [database, other] {
            let status = Status::from(error);
            assert_eq!(status.code(), tonic::Code::Internal);
            assert!(reference(&status).is_some(), "{}", status.message());
            for leak in ["relation", "SELECT", "messages", "10.0.0.3", "blob"] {
                assert!(!status.message().contains(leak), "{}", status.message());
            }
        }
    }

    #[test]
    fn domain_errors_keep_their_codes_and_messages() {
        let status = Status::from(TicketError::Invalid { field: "subject", reason: "is required".into() });
        assert_eq!((status.code(), status.message()), (tonic::Code::InvalidArgument, "subject: is required"));
        assert_eq!(Status::from(TicketError::NotFound).code(), tonic::Code::NotFound);
        assert_eq!(Status::from(TicketError::Unauthenticated).code(), tonic::Code::Unauthenticated);
        assert_eq!(Status::from(TicketError::PermissionDenied).code(), tonic::Code::PermissionDenied);
        let status = Status::from(TicketError::FailedPrecondition("contacts may not close tickets here".into()));
        assert_eq!((status.code(), status.message()), (tonic::Code::FailedPrecondition, "contacts may not close tickets here"));
    }
}
