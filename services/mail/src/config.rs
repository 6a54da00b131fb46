//! The `[mail]` section of the config file and `HELPDESK_MAIL__…` variables. The defaults send to
//! the local stack's SMTP sink (`deploy/stack.sh`, 127.0.0.1:55025, no TLS).

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
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
    /// Deliveries of one event before the sender gives up on it (logged as an error).
    pub max_deliver: i64,
    pub ack_wait_secs: u64,
    pub smtp_timeout_secs: u64,
    /// Mail the contact an acknowledgement of each new ticket (never for automatic mail).
    pub acknowledge_new_tickets: bool,
    /// Local parts never mailed (`no-reply@…`, `mailer-daemon@…`): substrings, case-insensitive.
    pub do_not_mail: Vec<String>,
    /// Ticket mails one recipient gets at most per hour; the rest are skipped and logged.
    pub per_recipient_per_hour: i64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
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
            ack_wait_secs: 60,
            smtp_timeout_secs: 30,
        }
    }
}

impl MailConfig {
    /// Defaults, then the `[mail]` section of `file`, then `HELPDESK_MAIL__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Figment::from(Toml::file_exact(file)).focus("mail"));
        }
        figment
            .merge(Env::prefixed("HELPDESK_MAIL__").split("__"))
            .extract()
            .map_err(Box::new)
    }
}
