//! The `[mail]` section of the config file and `HELPDESK_MAIL__…` variables: the admin gRPC's
//! listen address, the SMTP relay and sender, ticket-mail rules, and the support mailboxes read
//! over IMAP (`[[mail.mailboxes]]`). The `helpdesk` crate reads it with the rest of the
//! configuration and hands it to `App::build`. The defaults send to the local stack's SMTP sink
//! (`deploy/stack.sh`, 127.0.0.1:55025, no TLS) and read no mailbox.

use std::net::SocketAddr;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same host or the test sink.
    None,
    /// STARTTLS on the submission port (587), required.
    Starttls,
    /// Implicit TLS (465).
    Tls,
}

/// How to reach an IMAP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// Plain IMAP: only for a server on the same host or the test Dovecot.
    None,
    /// STARTTLS on port 143, required.
    Starttls,
    /// Implicit TLS (993).
    Tls,
}

/// One support mailbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// A stable name: the key of its cursor and lease, and the `source` of its messages. Changing
    /// it makes the mailbox look new (its mail is read again; tickets drop what they already have).
    pub name: String,
    /// The support address that receives this mail: one of our own addresses (loop detection and
    /// plus-address reply tokens).
    pub address: String,
    pub host: String,
    pub port: u16,
    pub tls: ImapTls,
    /// A PEM file of CA certificates to trust for this server besides the public roots (a
    /// private CA); empty: the public roots only.
    pub ca_file: String,
    pub username: String,
    /// Never serialized or logged.
    #[serde(skip_serializing)]
    pub password: SecretString,
    pub folder: String,
    /// Imported mail is moved to this folder; when empty it is flagged `\Seen` and
    /// `$HelpdeskImported` and left where it is.
    pub move_to: String,
    /// The key of the category tickets from this mailbox get (empty: none).
    pub default_category: String,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            address: String::new(),
            host: "127.0.0.1".into(),
            port: 993,
            tls: ImapTls::Tls,
            ca_file: String::new(),
            username: String::new(),
            password: SecretString::from(""),
            folder: "INBOX".into(),
            move_to: String::new(),
            default_category: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The admin gRPC's listen address (quarantined mail; port 0: any free port).
    pub listen: SocketAddr,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    /// Never serialized or logged.
    #[serde(skip_serializing)]
    pub smtp_password: SecretString,
    pub from_address: String,
    pub from_name: String,
    /// The right-hand side of our Message-IDs (`<event-id@domain>`).
    pub message_id_domain: String,
    /// Deliveries of one event before the sender gives up on it (logged as an error). Only for
    /// failures that may pass (4xx, the relay unreachable): a permanent refusal (5xx) is given up
    /// at once, recorded in the ledger and on the ticket, and the address flagged when it is at fault.
    pub max_deliver: i64,
    pub ack_wait_secs: u64,
    pub smtp_timeout_secs: u64,
    /// Mail the contact an acknowledgement of each new ticket (never for automatic mail).
    pub acknowledge_new_tickets: bool,
    /// Local parts never mailed (`no-reply@…`, `mailer-daemon@…`): substrings, case-insensitive.
    pub do_not_mail: Vec<String>,
    /// Ticket mails one recipient gets at most per hour; the rest are skipped (recorded in the
    /// ledger and on the ticket).
    pub per_recipient_per_hour: i64,
    /// Acknowledgements of new tickets one sender gets at most within
    /// `acknowledgement_window_secs`: a feed or a robot that opens many tickets in minutes gets
    /// this many, and the rest of its tickets are acknowledged by no mail (recorded as skipped in
    /// the ledger and on the ticket). 0 turns the limit off.
    pub acknowledgements_per_sender: i64,
    /// The window of `acknowledgements_per_sender`, in seconds.
    pub acknowledgement_window_secs: u64,
    /// The mailboxes read for tickets; none by default.
    pub mailboxes: Vec<MailboxConfig>,
    /// Mails fetched per IMAP round trip (and published before one flag/cursor update).
    pub imap_batch: usize,
    /// How long one IDLE waits before checking anyway; also the polling interval on servers
    /// without IDLE.
    pub imap_poll_secs: u64,
    /// A mailbox lease lives this long without renewal (another replica takes over after it).
    pub imap_lease_secs: u64,
    /// Connect and command timeout towards IMAP servers.
    pub imap_timeout_secs: u64,
    /// Largest mail accepted; bigger ones are quarantined (kept in the mailbox and the archive).
    pub inbound_max_bytes: usize,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50054)),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 55025,
            smtp_tls: SmtpTls::None,
            smtp_username: String::new(),
            smtp_password: SecretString::from(""),
            from_address: "support@helpdesk.localhost".into(),
            from_name: "Help desk".into(),
            message_id_domain: "helpdesk.localhost".into(),
            max_deliver: 10,
            acknowledge_new_tickets: true,
            do_not_mail: ["no-reply", "noreply", "do-not-reply", "donotreply", "mailer-daemon", "postmaster", "bounce"]
                .map(String::from)
                .to_vec(),
            per_recipient_per_hour: 20,
            acknowledgements_per_sender: 1,
            acknowledgement_window_secs: 600,
            ack_wait_secs: 60,
            smtp_timeout_secs: 30,
            mailboxes: Vec::new(),
            imap_batch: 200,
            imap_poll_secs: 60,
            imap_lease_secs: 30,
            imap_timeout_secs: 60,
            inbound_max_bytes: 25 * 1024 * 1024,
        }
    }
}
