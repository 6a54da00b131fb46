//! SMTP out through lettre. Every mail gets our own Message-ID (lettre sets none unless asked),
//! derived from the event id so a retried send carries the same id and clients de-duplicate it.
//! Automatic mail carries `Auto-Submitted` (RFC 3834) and `X-Auto-Response-Suppress` so
//! auto-responders do not answer it; ticket mail also carries `In-Reply-To`/`References` and a
//! `Reply-To` plus-address with the ticket's reply token.
//!
//! A failed send is judged here, once: a permanent refusal (5xx, or an address the relay cannot
//! take) is given up at once — and flagged as the address's fault only when the reply says the
//! address is the problem — while a 4xx, a network fault or our own relay set-up (authentication,
//! TLS) is retried with back-off.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};
use secrecy::ExposeSecret;

use crate::{
    config::{MailConfig, SmtpTls},
    domain::templates::Rendered,
};

pub struct Outgoing<'a> {
    pub to_address: &'a str,
    pub to_name: &'a str,
    pub message_id: &'a str,
    pub body: Rendered,
    pub headers: Headers,
}

/// What makes a mail thread and tells robots apart from people.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// RFC 3834: `auto-generated` (account mail), `auto-replied` (acknowledgements, completion);
    /// `None` for an agent's reply, which a person wrote.
    pub auto_submitted: Option<&'static str>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// The plus-address that carries the reply token.
    pub reply_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The event cannot become a mail (it does not decode, or names nothing): retrying will not
    /// help.
    #[error("the mail cannot be built: {0}")]
    Permanent(String),
    /// The relay refused this mail for good, or its address cannot be used: give up at once and
    /// record why.
    #[error("the mail was refused: {}", .0.reason)]
    Refused(Refusal),
    /// The relay was unreachable or refused for now: retry later.
    #[error("the SMTP relay did not take the mail: {0}")]
    Transient(String),
}

/// A permanent refusal: the relay's words (or ours, for an address that cannot be sent to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    /// The refusal is about the recipient's address (no such user, non-ASCII without SMTPUTF8),
    /// so later mail to it is pointless: flag it undeliverable.
    pub address: bool,
}

/// What a negative SMTP reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Retry,
    GiveUp,
    AddressRefused,
}

/// Judges a negative reply by its enhanced status code (RFC 3463) when it has one, else by the
/// basic code. 5.1.x (addressing), 5.2.1 (mailbox disabled) and 5.6.7 (non-ASCII address not
/// allowed) blame the address; 550/551/553 without an enhanced code do too (RFC 5321's "mailbox
/// unavailable", "user not local", "mailbox name not allowed"). Authentication and TLS problems
/// (530, 534, 535, 538, 5.7.0, 5.7.8, 5.7.9, 5.7.11, 5.1.7/5.1.8 about our sender) are our relay's
/// set-up, which an admin fixes: retried like a 4xx.
fn judge(code: u16, text: &str) -> Verdict {
    if !(500..600).contains(&code) {
        return Verdict::Retry;
    }
    let enhanced = text.split_whitespace().next().and_then(|word| {
        let mut parts = word.split('.').map(|p| p.parse::<u16>().ok());
        match (parts.next().flatten(), parts.next().flatten(), parts.next().flatten(), parts.next()) {
            (Some(5), Some(subject), Some(detail), None) => Some((subject, detail)),
            _ => None,
        }
    });
    match enhanced {
        Some((1, 7 | 8) | (7, 0 | 8 | 9 | 11)) => Verdict::Retry,
        Some((1, _) | (2, 1) | (6, 7)) => Verdict::AddressRefused,
        Some(_) => Verdict::GiveUp,
        None => match code {
            530 | 534 | 535 | 538 => Verdict::Retry,
            550 | 551 | 553 => Verdict::AddressRefused,
            _ => Verdict::GiveUp,
        },
    }
}

/// The relay's text as a one-line reason for the ledger and the ticket (it is not ours: bounded,
/// no control characters).
fn one_line(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn classify(error: &lettre::transport::smtp::Error, to_address: &str) -> SendError {
    let detail = std::error::Error::source(error).map(|s| one_line(&s.to_string())).unwrap_or_default();
    if let Some(code) = error.status() {
        let code = u16::from(code);
        let reason = format!("the mail server refused it: {code} {detail}");
        return match judge(code, &detail) {
            Verdict::Retry => SendError::Transient(reason),
            Verdict::GiveUp => SendError::Refused(Refusal { reason, address: false }),
            Verdict::AddressRefused => SendError::Refused(Refusal { reason, address: true }),
        };
    }
    // lettre refuses, before MAIL FROM, to put a non-ASCII address to a relay without SMTPUTF8
    // (RFC 6531); any other client error is our relay's set-up (STARTTLS, authentication).
    if error.is_client() && detail.to_ascii_lowercase().contains("non-ascii") {
        let address = !to_address.is_ascii();
        let reason = if address {
            "the address has non-ASCII characters and the mail server does not accept them (no SMTPUTF8)".to_string()
        } else {
            format!("the mail server cannot take it: {detail}")
        };
        return SendError::Refused(Refusal { reason, address });
    }
    SendError::Transient(error.to_string())
}

pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Sender {
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let tls = match config.smtp_tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(TlsParameters::new(config.smtp_host.clone())?),
            SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(config.smtp_host.clone())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.smtp_host.clone())
            .port(config.smtp_port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.smtp_timeout_secs)));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.expose_secret().to_string(),
            ));
        }
        let from = Mailbox::new(
            Some(config.from_name.clone()).filter(|n| !n.is_empty()),
            config
                .from_address
                .parse()
                .map_err(|e| anyhow::anyhow!("mail.from_address `{}`: {e}", config.from_address))?,
        );
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    pub fn sender_address(&self) -> String {
        self.from.email.to_string()
    }

    pub fn build(&self, mail: Outgoing<'_>) -> Result<Message, SendError> {
        let to = Mailbox::new(
            Some(mail.to_name.trim().to_string()).filter(|n| !n.is_empty()),
            mail.to_address
                .parse()
                .map_err(|e| SendError::Refused(Refusal { reason: format!("the address is not valid: {e}"), address: true }))?,
        );
        let header = |name: &'static str, value: &str| HeaderValue::new(HeaderName::new_from_ascii_str(name), value.into());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.body.subject)
            .message_id(Some(mail.message_id.to_string()))
            // Our own mail coming back (a forward loop) is recognised by this header.
            .raw_header(header(crate::domain::classify::LOOP_HEADER, "1"));
        if let Some(kind) = mail.headers.auto_submitted {
            builder = builder
                .raw_header(header("Auto-Submitted", kind))
                .raw_header(header("X-Auto-Response-Suppress", "All"));
        }
        if let Some(id) = mail.headers.in_reply_to {
            builder = builder.in_reply_to(id);
        }
        if let Some(ids) = mail.headers.references {
            builder = builder.references(ids);
        }
        if let Some(reply_to) = mail.headers.reply_to {
            let mailbox: Mailbox = reply_to.parse().map_err(|e| SendError::Permanent(format!("reply-to: {e}")))?;
            builder = builder.reply_to(mailbox);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(mail.body.text, mail.body.html))
            .map_err(|e| SendError::Permanent(e.to_string()))
    }

    #[tracing::instrument(skip_all, fields(message_id = %mail.message_id), err)]
    pub async fn send(&self, mail: Outgoing<'_>) -> Result<(), SendError> {
        let to_address = mail.to_address;
        let message = self.build(mail)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| classify(&e, to_address))
    }
}

#[cfg(test)]
mod tests {
    use super::{Verdict, judge, one_line};

    #[test]
    fn a_refused_address_is_the_addresses_fault() {
        assert_eq!(judge(550, "5.1.1 <ann@example.org>: Recipient address rejected: User unknown"), Verdict::AddressRefused);
        assert_eq!(judge(553, "5.6.7 envelope contains non-ASCII"), Verdict::AddressRefused);
        assert_eq!(judge(550, "5.2.1 mailbox disabled"), Verdict::AddressRefused);
        assert_eq!(judge(550, "no such user here"), Verdict::AddressRefused);
        assert_eq!(judge(553, "mailbox name not allowed"), Verdict::AddressRefused);
    }

    #[test]
    fn a_refused_mail_is_given_up_without_blaming_the_address() {
        assert_eq!(judge(554, "5.7.1 Message rejected as spam"), Verdict::GiveUp);
        assert_eq!(judge(552, "5.3.4 Message too big"), Verdict::GiveUp);
        assert_eq!(judge(550, "5.7.1 Relay access denied"), Verdict::GiveUp);
        assert_eq!(judge(554, "Transaction failed"), Verdict::GiveUp);
    }

    #[test]
    fn temporary_failures_and_our_relay_set_up_are_retried() {
        assert_eq!(judge(451, "4.3.0 try again later"), Verdict::Retry);
        assert_eq!(judge(421, "service closing"), Verdict::Retry);
        assert_eq!(judge(535, "5.7.8 Authentication credentials invalid"), Verdict::Retry);
        assert_eq!(judge(530, "Must issue a STARTTLS command first"), Verdict::Retry);
        assert_eq!(judge(553, "5.1.8 sender address domain does not exist"), Verdict::Retry);
    }

    #[test]
    fn the_relays_words_become_one_bounded_line() {
        assert_eq!(one_line("5.1.1 no\r\n  such\tuser"), "5.1.1 no such user");
        assert_eq!(one_line(&"x".repeat(1000)).len(), 300);
    }
}
