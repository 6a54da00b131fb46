//! Mapping failures to `tonic::Status`, and database errors to domain errors. Internal errors are
//! logged with their whole cause chain and a reference id and returned opaque, so nothing about the
//! database or the code leaks to a caller. A violated constraint becomes a domain error by the
//! constraint's name ([`ConstraintExt::on_constraint`]), never by comparing SQLSTATEs by hand.

use tonic::Status;
use uuid::Uuid;

/// Logs the error with its whole cause chain (`{:#}`: an `anyhow::Error` prints every cause) and
/// returns an opaque `INTERNAL` naming only a reference id, which the log line carries too.
pub fn internal(error: impl std::fmt::Display) -> Status {
    let reference = Uuid::new_v4();
    tracing::error!(%reference, error = format!("{error:#}"), "internal error");
    Status::internal(format!("internal error (reference {reference})"))
}

/// Turning a violated constraint into the domain's own error.
pub trait ConstraintExt<T> {
    /// `known` is asked for the name of the constraint a failure violated and answers the domain
    /// error it means (or `None`); any other failure becomes `E` through `From<sqlx::Error>`,
    /// which every domain error enum has for unexpected failures.
    ///
    /// ```ignore
    /// store.insert(&contact).await.on_constraint(|name| match name {
    ///     "contact_emails_address_key" => Some(IdentityError::AlreadyExists("email")),
    ///     _ => None,
    /// })?;
    /// ```
    fn on_constraint<E: From<sqlx::Error>>(self, known: impl FnOnce(&str) -> Option<E>) -> Result<T, E>;
}

impl<T> ConstraintExt<T> for Result<T, sqlx::Error> {
    fn on_constraint<E: From<sqlx::Error>>(self, known: impl FnOnce(&str) -> Option<E>) -> Result<T, E> {
        self.map_err(|error| {
            violated_constraint(&error)
                .and_then(known)
                .unwrap_or_else(|| E::from(error))
        })
    }
}

/// The name of the constraint a database error violated, if it violated one.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error()?.constraint()
}

/// A failure the database will answer the same way every time: a data exception (SQLSTATE class
/// 22), an integrity violation other than a unique conflict (class 23 but 23505, where a
/// concurrent writer won and the next attempt sees its row), or a program limit (class 54).
/// Connections, timeouts, serialization failures and pool errors may pass. Consumers use this to
/// tell poison from a reason to retry.
pub fn is_permanent_data_error(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| is_permanent_sqlstate(&code))
}

fn is_permanent_sqlstate(code: &str) -> bool {
    match code.get(..2) {
        Some("22" | "54") => true,
        Some("23") => code != "23505",
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_permanent_and_outages_transient() {
        for code in ["22021", "22001", "23502", "23503", "23514", "54000"] {
            assert!(is_permanent_sqlstate(code), "{code}");
        }
        for code in ["23505", "08006", "40001", "40P01", "53300", "57014", "57P01", "XX000", ""] {
            assert!(!is_permanent_sqlstate(code), "{code}");
        }
    }
}
