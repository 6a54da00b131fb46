//! Mapping failures to `tonic::Status`. Internal errors are logged in full with a reference id and
//! returned opaque, so nothing about the database or the code leaks to a caller.

use tonic::Status;
use uuid::Uuid;

/// Logs the error in full and returns an opaque `INTERNAL` naming only a reference id.
pub fn internal(error: impl std::fmt::Display) -> Status {
    let reference = Uuid::new_v4();
    tracing::error!(%reference, %error, "internal error");
    Status::internal(format!("internal error (reference {reference})"))
}

/// For a contact asking about something that is not theirs as much as for something absent: the
/// answer must not reveal which.
pub fn not_found(what: &str) -> Status {
    Status::not_found(format!("{what} not found"))
}

pub fn unauthenticated() -> Status {
    Status::unauthenticated("this call needs a caller token")
}

pub fn permission_denied() -> Status {
    Status::permission_denied("the caller may not do this")
}

/// A malformed id on the wire reads as "no such thing", not as a validation error, so probing
/// with junk ids tells nothing.
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(raw).map_err(|_| not_found(what))
}
