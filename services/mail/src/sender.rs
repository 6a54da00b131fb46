//! SMTP out through lettre. Every mail gets our own Message-ID (lettre sets none unless asked),
//! derived from the event id so a retried send carries the same id and clients de-duplicate it.
//! Automatic mail carries `Auto-Submitted` (RFC 3834) and `X-Auto-Response-Suppress` so
//! auto-responders do not answer it; ticket mail also carries `In-Reply-To`/`References` and a
//! `Reply-To` plus-address with the ticket's reply token.

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
    /// The mail cannot be built (a malformed recipient): retrying will not help.
    #[error("the mail cannot be built: {0}")]
    Permanent(String),
    /// The relay was unreachable or refused for now: retry later.
    #[error("the SMTP relay did not take the mail: {0}")]
    Transient(String),
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
                .map_err(|e| SendError::Permanent(format!("recipient: {e}")))?,
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
        let message = self.build(mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| if e.is_permanent() { SendError::Permanent(e.to_string()) } else { SendError::Transient(e.to_string()) })
    }
}
