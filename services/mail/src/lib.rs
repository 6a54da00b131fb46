//! The mail part. Today: the SMTP sender of account mail (activation, password reset, email
//! verification) that identity asks for with `AccountMailRequested` events. The email channel
//! (IMAP in, ticket mail out) grows here too, on the same sender and ledger.
//!
//! - `config`: the `[mail]` settings (SMTP relay, sender address, Message-ID domain);
//! - `domain`: the mail templates (text + HTML), and inbound parsing and classification — pure,
//!   no I/O;
//! - `store`: the outbound ledger in the Postgres schema `mail`;
//! - `sender`: SMTP through lettre, with our own Message-ID;
//! - `events`: the durable JetStream consumer, acked only after the mail left and the ledger
//!   says so;
//! - `app`: wiring.

mod app;
mod config;
mod domain;
mod events;
mod sender;
mod store;

pub use app::App;
/// Inbound mail parsing and classification, public for the mailbox ingester, the corpus test and
/// the fuzz target.
pub use domain::{
    classify::{Classification, LOOP_HEADER},
    inbound::{Attachment, Limits, ParseError, ParsedMail, parse, strip_reply, to_inbound},
};
pub use config::{MailConfig, SmtpTls};
