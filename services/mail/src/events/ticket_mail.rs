//! Ticket mail out: a durable consumer of tickets' events that mails the contact — an
//! acknowledgement of a new ticket (not for automatic mail; configurable), each agent reply, and
//! completion. Every mail carries our Message-ID with the ticket's signed reply token in it,
//! In-Reply-To to the customer's latest mail and References from the first one (both learned from
//! tickets' events; malformed ids left out), a `Reply-To` plus-address with the same token, and
//! RFC 3834 headers when it is automatic. Nothing goes to do-not-mail patterns; at most
//! `per_recipient_per_hour` mails go to one address in an hour, and at most
//! `acknowledgements_per_sender` acknowledgements within `acknowledgement_window_secs`.
//! The outbound ledger (keyed by event id) makes a redelivered event send nothing twice.
//!
//! A mail that does not go out — the relay refused it for good, the address is undeliverable, a
//! limit held it back — is recorded once in the ledger with the reason and as an internal entry on
//! the ticket ("reply not mailed: …"), written with our service token so agents see it; an address
//! the relay refused is flagged undeliverable at identity, so later mail to it is skipped. Only
//! failures that may pass (4xx, the relay unreachable) are retried.

use std::sync::Arc;

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use helpdesk_kit::{
    CancellationToken,
    auth::{bearer, reply_token, service_token::ServiceTokens},
    nats::Nats,
};
use helpdesk_proto::{
    events::v1::{Event, event::Payload},
    identity::v1::{GetContactRequest, MarkEmailUndeliverableRequest, contact_service_client::ContactServiceClient},
    tickets::v1::{self as pb, ticket_service_client::TicketServiceClient},
};
use prost::Message as _;
use secrecy::SecretString;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    config::MailConfig,
    domain::{
        templates::Rendered,
        ticket_mail::{self, Kind, Skip},
    },
    sender::{Headers, Outgoing, Refusal, SendError, Sender},
    store::{Claim, Entry, Ledger, RateLimits},
};

const DURABLE: &str = "mail-ticket-mail";
/// tickets.v1 numbers carried in the events.
const REPLY: i32 = 1;
const BY_AGENT: i32 = 2;
const COMPLETED: i32 = 2;

pub struct TicketMail {
    pub ledger: Ledger,
    pub sender: Arc<Sender>,
    pub tickets: TicketServiceClient<Channel>,
    pub contacts: ContactServiceClient<Channel>,
    pub tokens: Arc<ServiceTokens>,
    pub reply_secret: SecretString,
    pub config: MailConfig,
}

pub async fn durable_consumer(nats: &Nats, config: &MailConfig) -> anyhow::Result<PullConsumer> {
    let stream = nats.jetstream.get_stream(nats.subjects.events_stream()).await?;
    Ok(stream
        .get_or_create_consumer(
            DURABLE,
            pull::Config {
                durable_name: Some(DURABLE.into()),
                filter_subject: nats.subjects.event("tickets", ">"),
                ack_policy: AckPolicy::Explicit,
                ack_wait: std::time::Duration::from_secs(config.ack_wait_secs),
                max_deliver: config.max_deliver,
                ..Default::default()
            },
        )
        .await?)
}

/// What one event asks to mail.
struct Mail {
    ticket_id: Uuid,
    body: Rendered,
    automatic: bool,
    kind: Kind,
}

/// Where a ticket's mail goes.
enum Recipient {
    /// The contact's primary address, and their name.
    Address(String, String),
    /// The primary address is flagged undeliverable.
    Undeliverable(String),
    /// The contact has no email address (a chat contact, an unknown sender).
    None,
}

impl TicketMail {
    pub async fn run(self, consumer: PullConsumer, shutdown: CancellationToken) {
        helpdesk_kit::consumer::run(DURABLE, consumer, shutdown, |message| self.handle(message)).await;
    }

    async fn handle(&self, message: Message) {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let ack = match self.process(&message.payload).await {
            Ok(()) => AckKind::Ack,
            Err(SendError::Permanent(reason)) => {
                tracing::error!(%reason, "ticket mail cannot be sent; skipping it");
                AckKind::Term
            }
            // `send` records refusals; one reaching here could not be tied to a ticket.
            Err(SendError::Refused(refusal)) => {
                tracing::warn!(reason = %refusal.reason, "ticket mail refused; not retrying it");
                AckKind::Term
            }
            Err(SendError::Transient(reason)) if delivered < self.config.max_deliver => {
                tracing::warn!(%reason, delivered, "ticket mail not sent; will retry");
                AckKind::Nak(Some(std::time::Duration::from_secs(2u64.saturating_pow(delivered.clamp(0, 8) as u32))))
            }
            Err(SendError::Transient(reason)) => {
                tracing::error!(%reason, delivered, "ticket mail not sent after the last attempt");
                AckKind::Term
            }
        };
        if let Err(error) = message.ack_with(ack).await {
            tracing::warn!(%error, "could not acknowledge a ticket event");
        }
    }

    async fn process(&self, payload: &[u8]) -> Result<(), SendError> {
        let event = Event::decode(payload).map_err(|e| SendError::Permanent(format!("not an event: {e}")))?;
        let event_id = Uuid::parse_str(&event.id).map_err(|_| SendError::Permanent("event without an id".into()))?;
        let mail = match event.payload {
            Some(Payload::TicketCreated(created)) => {
                let ticket = parse_id(&created.ticket_id)?;
                if !created.inbound_external_id.is_empty() && created.channel == pb::Channel::Email as i32 {
                    self.ledger.set_thread_root(ticket, &created.inbound_external_id).await.map_err(transient)?;
                }
                if created.automatic || !self.config.acknowledge_new_tickets {
                    return Ok(());
                }
                Mail {
                    ticket_id: ticket,
                    body: ticket_mail::acknowledgement(created.number, &created.subject),
                    automatic: true,
                    kind: Kind::Acknowledgement,
                }
            }
            Some(Payload::MessageAdded(added)) if !added.inbound_external_id.is_empty() && added.channel == pb::Channel::Email as i32 => {
                self.ledger
                    .set_thread_latest(parse_id(&added.ticket_id)?, &added.inbound_external_id)
                    .await
                    .map_err(transient)?;
                return Ok(());
            }
            Some(Payload::MessageAdded(added)) if added.kind == REPLY && added.author_kind == BY_AGENT => {
                let ticket = parse_id(&added.ticket_id)?;
                let (number, subject) = self.ticket(ticket).await?;
                let text = self.message_text(ticket, &added.message_id).await?;
                Mail { ticket_id: ticket, body: ticket_mail::agent_reply(number, &subject, &text), automatic: false, kind: Kind::AgentReply }
            }
            Some(Payload::TicketUpdated(updated))
                if updated.status_kind == COMPLETED && updated.changed_fields.iter().any(|f| f == "status") =>
            {
                let ticket = parse_id(&updated.ticket_id)?;
                let (number, subject) = self.ticket(ticket).await?;
                Mail { ticket_id: ticket, body: ticket_mail::completed(number, &subject), automatic: true, kind: Kind::Completed }
            }
            _ => return Ok(()),
        };
        self.send(event_id, mail).await
    }

    async fn send(&self, event_id: Uuid, mail: Mail) -> Result<(), SendError> {
        let ticket = mail.ticket_id;
        let (address, name, deliverable) = match self.recipient(ticket).await? {
            Recipient::Address(address, name) => (address, name, true),
            Recipient::Undeliverable(address) => (address, String::new(), false),
            Recipient::None => {
                tracing::info!(%ticket, "the contact has no email address; no mail");
                return Ok(());
            }
        };
        if ticket_mail::do_not_mail(&address, &self.config.do_not_mail) {
            tracing::info!(%ticket, "recipient matches a do-not-mail pattern; no mail");
            return Ok(());
        }
        let token = reply_token::sign(&self.reply_secret, ticket);
        let domain = &self.config.message_id_domain;
        let message_id = format!("<{token}.{event_id}@{domain}>");
        let entry = Entry { event_id, ticket, kind: mail.kind.as_str(), recipient: &address, message_id: &message_id };
        let claim = if deliverable {
            self.ledger.claim(&entry, &self.limits(mail.kind)).await
        } else {
            self.ledger.skip(&entry, &Skip::Undeliverable.to_string()).await
        };
        match claim.map_err(transient)? {
            Claim::Send => {}
            Claim::AlreadySent | Claim::NotSent { noted: true, .. } => return Ok(()),
            Claim::NotSent { reason, noted: false } => {
                tracing::info!(%ticket, kind = mail.kind.as_str(), %reason, "ticket mail skipped");
                return self.note_not_sent(event_id, ticket, mail.kind, &reason).await;
            }
        }
        let from = self.sender.sender_address();
        let (local, from_domain) = from.split_once('@').unwrap_or((from.as_str(), domain.as_str()));
        let (in_reply_to, references) = match self.ledger.thread(ticket).await.map_err(transient)? {
            Some((root, latest)) => ticket_mail::thread_headers(&root, latest.as_deref()),
            None => (None, None),
        };
        let sent = self
            .sender
            .send(Outgoing {
                to_address: &address,
                to_name: &name,
                message_id: &message_id,
                body: mail.body,
                headers: Headers {
                    auto_submitted: mail.automatic.then_some("auto-replied"),
                    in_reply_to,
                    references,
                    reply_to: Some(format!("{local}+{token}@{from_domain}")),
                },
            })
            .await;
        match sent {
            Ok(()) => {
                self.ledger.sent(event_id).await.map_err(transient)?;
                tracing::info!(%ticket, kind = mail.kind.as_str(), "ticket mail sent");
                Ok(())
            }
            Err(SendError::Refused(refusal)) => self.refused(event_id, ticket, mail.kind, &address, refusal).await,
            Err(error) => Err(error),
        }
    }

    fn limits(&self, kind: Kind) -> RateLimits {
        let window = i64::try_from(self.config.acknowledgement_window_secs).unwrap_or(i64::MAX);
        let per_sender = self.config.acknowledgements_per_sender;
        RateLimits {
            per_hour: self.config.per_recipient_per_hour,
            acknowledgements: (kind == Kind::Acknowledgement && per_sender > 0 && window > 0).then_some((per_sender, window)),
        }
    }

    /// A permanent refusal: the address flagged first when it is at fault (a failure there is
    /// retried, and the relay asked once more), then the ledger row (never sent again), then the
    /// ticket's entry.
    async fn refused(&self, event_id: Uuid, ticket: Uuid, kind: Kind, address: &str, refusal: Refusal) -> Result<(), SendError> {
        tracing::warn!(%ticket, kind = kind.as_str(), reason = %refusal.reason, "the mail server refused ticket mail; not retrying it");
        if refusal.address {
            let request = MarkEmailUndeliverableRequest { address: address.to_string(), reason: refusal.reason.clone() };
            match self.contacts.clone().mark_email_undeliverable(bearer(request, &self.token().await?).map_err(grpc)?).await {
                // Identity cannot parse the address (or no longer has it): nothing to flag there.
                Err(status) if matches!(status.code(), tonic::Code::InvalidArgument | tonic::Code::NotFound) => {
                    tracing::warn!(%ticket, %status, "the refused address could not be flagged at identity");
                }
                Err(status) => return Err(grpc(status)),
                Ok(_) => {}
            }
        }
        self.ledger.refused(event_id, &refusal.reason).await.map_err(transient)?;
        self.note_not_sent(event_id, ticket, kind, &refusal.reason).await
    }

    /// The internal entry on the ticket saying which mail did not go out and why.
    async fn note_not_sent(&self, event_id: Uuid, ticket: Uuid, kind: Kind, reason: &str) -> Result<(), SendError> {
        let request = pb::AddNoteRequest { ticket_id: ticket.to_string(), text: kind.not_sent(reason) };
        self.tickets.clone().add_note(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?;
        self.ledger.noted(event_id).await.map_err(transient)
    }

    async fn token(&self) -> Result<String, SendError> {
        self.tokens.token().await.map_err(|e| SendError::Transient(format!("identity: {e}")))
    }

    async fn ticket(&self, id: Uuid) -> Result<(i64, String), SendError> {
        let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(id.to_string())) };
        let ticket = self.tickets.clone().get_ticket(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?.into_inner();
        Ok((ticket.number, ticket.subject))
    }

    async fn message_text(&self, ticket: Uuid, message: &str) -> Result<String, SendError> {
        let token = self.token().await?;
        let messages = helpdesk_kit::pages::all_messages(&mut self.tickets.clone(), &token, &ticket.to_string()).await.map_err(grpc)?;
        messages
            .into_iter()
            .find(|m| m.id == message)
            .map(|m| m.text)
            .ok_or_else(|| SendError::Transient("the reply is not readable yet".into()))
    }

    /// The ticket contact's primary address, and whether it is deliverable.
    async fn recipient(&self, ticket: Uuid) -> Result<Recipient, SendError> {
        let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(ticket.to_string())) };
        let contact_id = self.tickets.clone().get_ticket(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?.into_inner().contact_id;
        let contact = self
            .contacts
            .clone()
            .get_contact(bearer(GetContactRequest { id: contact_id }, &self.token().await?).map_err(grpc)?)
            .await
            .map_err(grpc)?
            .into_inner();
        Ok(match contact.emails.into_iter().find(|e| e.primary) {
            Some(email) if email.deliverable => Recipient::Address(email.address, contact.name),
            Some(email) => Recipient::Undeliverable(email.address),
            None => Recipient::None,
        })
    }
}

fn parse_id(raw: &str) -> Result<Uuid, SendError> {
    Uuid::parse_str(raw).map_err(|_| SendError::Permanent(format!("bad id {raw:?}")))
}

fn transient(error: sqlx::Error) -> SendError {
    SendError::Transient(format!("ledger: {error}"))
}

fn grpc(status: tonic::Status) -> SendError {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument => SendError::Permanent(status.to_string()),
        _ => SendError::Transient(status.to_string()),
    }
}
