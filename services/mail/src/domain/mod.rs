//! What a mail says, both ways, as pure functions: the templates of account mail (subject,
//! plain-text and HTML body, everything interpolated escaped); and for inbound mail, parsing under
//! limits (`inbound`, which ties together `body`, `transfer`, `charset`, `reply_text`,
//! `message_ids` and `clean`) and classification of automatic mail (`classify`, `dsn`).

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
