//! The mail part: the email channel. In: the support mailboxes read over IMAP into
//! `InboundMessage`s for tickets. Out: account mail (activation, password reset, email
//! verification) that identity asks for, and ticket mail (acknowledgement, agent replies,
//! completion) on tickets' events.
//!
//! - `config`: the `[mail]` settings (SMTP relay, sender address, Message-ID domain, mailboxes);
//! - `domain`: the mail templates (text + HTML), and inbound parsing and classification — pure,
//!   no I/O — and `MailError`, the part's one error enum;
//! - `grpc`: the admin service — list and retry quarantined mail;
//! - `ingest`: one raw mail → archived bytes + a published `InboundMessage`, or poison;
//! - `mailbox`: the IMAP readers — lease, cursor, batches, IDLE;
//! - `store`: the outbound ledger, the mailbox cursors and the quarantine in the schema `mail`;
//! - `sender`: SMTP through lettre, with our own Message-ID;
//! - `events`: the durable JetStream consumer, acked only after the mail left and the ledger
//!   says so;
//! - `app`: wiring.

mod app;
mod config;
mod domain;
mod events;
mod grpc;
mod ingest;
mod mailbox;
mod sender;
mod store;

pub use app::App;
/// Inbound mail parsing and classification, public for the mailbox ingester, the corpus test and
/// the fuzz target.
pub use domain::{
    classify::{Classification, LOOP_HEADER},
    inbound::{Attachment, Limits, ParseError, ParsedMail, parse, to_inbound},
    strip_reply,
};
pub use config::{ImapTls, MailConfig, MailboxConfig, SmtpTls};
