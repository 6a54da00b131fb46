//! What a mail says, both ways, as pure functions: the templates of account mail (subject,
//! plain-text and HTML body, everything interpolated escaped); and for inbound mail, parsing under
//! limits (`inbound`, which ties together `body`, `transfer`, `charset`, `reply_text`,
//! `message_ids` and `clean`) and classification of automatic mail (`classify`, `dsn`). And
//! [`MailError`], how the mail part's own calls fail.

mod body;
mod charset;
pub mod classify;
mod clean;
mod dsn;
pub mod inbound;
mod message_ids;
mod reply_text;
pub mod templates;
pub mod ticket_mail;
mod transfer;

pub use reply_text::strip_reply;

/// How a call to the mail part fails: `grpc` maps each to one `Status`.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("this call needs a caller token")]
    Unauthenticated,
    #[error("the caller may not do this")]
    PermissionDenied,
    /// No quarantined mail with that id (or a malformed id).
    #[error("quarantined mail not found")]
    QuarantinedNotFound,
    /// A quarantined mail that still cannot become a message under the current limits.
    #[error("the mail still cannot be imported: {0}")]
    StillUnimportable(String),
    /// An unexpected database failure: logged with its cause and a reference id, answered opaque.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Any other unexpected failure (blob store, stream), with its cause chain: logged, answered
    /// opaque.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
