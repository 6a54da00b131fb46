//! Ticket mail out: a durable consumer of tickets' events (on kit's runner) that mails the
//! contact — an acknowledgement of a new ticket (not for automatic mail; configurable), each
//! agent reply, and completion. Every mail carries our Message-ID with the ticket's signed reply
//! token in it, In-Reply-To to the customer's latest mail and References from the first one
//! (both learned from tickets' events; malformed ids left out), a `Reply-To` plus-address with
//! the same token, and RFC 3834 headers when it is automatic. Nothing goes to do-not-mail
//! patterns; at most `per_recipient_per_hour` mails go to one address in an hour, and at most
//! `acknowledgements_per_sender` acknowledgements within `acknowledgement_window_secs`.
//! The outbound ledger (keyed by event id) makes a redelivered event send nothing twice.
//!
//! A mail that does not go out — the relay refused it for good, the address is undeliverable, a
//! limit held it back — is recorded once in the ledger with the reason and as an internal entry on
//! the ticket ("reply not mailed: …"), written with our service token so agents see it; an address
//! the relay refused is flagged undeliverable at identity, so later mail to it is skipped. Only
//! failures that may pass (4xx, the relay unreachable) are retried.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::Message;
use helpdesk_kit::{
    auth::{bearer, reply_token, service_token::ServiceTokens},
    consumer::{Durable, Failure, Handled, Handler},
    nats::{Subjects, durable},
};
use helpdesk_proto::{
    events::v1::{Event, event::Payload},
    identity::v1::{GetContactRequest, MarkEmailUndeliverableRequest, contact_service_client::ContactServiceClient},
    tickets::v1::{self as pb, ticket_service_client::TicketServiceClient},
};
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

/// The ticket mail consumer's settings (the back-off is account mail's).
pub fn durable(subjects: &Subjects, config: &MailConfig) -> Durable {
    Durable {
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_deliver: Some(config.max_deliver),
        backoff: super::BACKOFF,
        ..Durable::new(subjects.events_stream(), durable::MAIL_TICKET_MAIL, subjects.event("tickets", ">"))
    }
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

impl Handler for TicketMail {
    type Message = Event;

    fn decode(&self, message: &Message) -> Result<Event, Failure> {
        super::decode_event(message)
    }

    async fn handle(&self, event: Event) -> Handled {
        self.process(event).await
    }
}

impl TicketMail {
    async fn process(&self, event: Event) -> Handled {
        let event_id = Uuid::parse_str(&event.id).map_err(|_| Failure::poison("event without an id"))?;
        let mail = match event.payload {
            Some(Payload::TicketCreated(created)) => {
                let ticket = parse_id(&created.ticket_id)?;
                if !created.inbound_external_id.is_empty() && created.channel == pb::Channel::Email as i32 {
                    self.ledger.set_thread_root(ticket, &created.inbound_external_id).await?;
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
                    .await?;
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

    async fn send(&self, event_id: Uuid, mail: Mail) -> Result<(), Failure> {
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
        match claim? {
            Claim::Send => {}
            Claim::AlreadySent | Claim::NotSent { noted: true, .. } => return Ok(()),
            Claim::NotSent { reason, noted: false } => {
                tracing::info!(%ticket, kind = mail.kind.as_str(), %reason, "ticket mail skipped");
                return self.note_not_sent(event_id, ticket, mail.kind, &reason).await;
            }
        }
        let from = self.sender.sender_address();
        let (local, from_domain) = from.split_once('@').unwrap_or((from.as_str(), domain.as_str()));
        let (in_reply_to, references) = match self.ledger.thread(ticket).await? {
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
                self.ledger.sent(event_id).await?;
                tracing::info!(%ticket, kind = mail.kind.as_str(), "ticket mail sent");
                Ok(())
            }
            Err(SendError::Refused(refusal)) => self.refused(event_id, ticket, mail.kind, &address, refusal).await,
            Err(error) => Err(error.into()),
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
    async fn refused(&self, event_id: Uuid, ticket: Uuid, kind: Kind, address: &str, refusal: Refusal) -> Result<(), Failure> {
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
        self.ledger.refused(event_id, &refusal.reason).await?;
        self.note_not_sent(event_id, ticket, kind, &refusal.reason).await
    }

    /// The internal entry on the ticket saying which mail did not go out and why.
    async fn note_not_sent(&self, event_id: Uuid, ticket: Uuid, kind: Kind, reason: &str) -> Result<(), Failure> {
        let request = pb::AddNoteRequest { ticket_id: ticket.to_string(), text: kind.not_sent(reason) };
        self.tickets.clone().add_note(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?;
        self.ledger.noted(event_id).await.map_err(Failure::from)
    }

    async fn token(&self) -> Result<String, Failure> {
        self.tokens.token().await.map_err(|e| Failure::retry(format!("identity: {e}")))
    }

    async fn ticket(&self, id: Uuid) -> Result<(i64, String), Failure> {
        let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(id.to_string())) };
        let ticket = self.tickets.clone().get_ticket(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?.into_inner();
        Ok((ticket.number, ticket.subject))
    }

    async fn message_text(&self, ticket: Uuid, message: &str) -> Result<String, Failure> {
        let token = self.token().await?;
        let messages = helpdesk_kit::pages::all_messages(&mut self.tickets.clone(), &token, &ticket.to_string()).await.map_err(grpc)?;
        messages
            .into_iter()
            .find(|m| m.id == message)
            .map(|m| m.text)
            .ok_or_else(|| Failure::retry("the reply is not readable yet"))
    }

    /// The ticket contact's primary address, and whether it is deliverable.
    async fn recipient(&self, ticket: Uuid) -> Result<Recipient, Failure> {
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

fn parse_id(raw: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(raw).map_err(|_| Failure::poison(format!("bad id {raw:?}")))
}

/// A peer that cannot find or read what the event names will not later: give up; else retry.
fn grpc(status: tonic::Status) -> Failure {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument => Failure::poison(status.to_string()),
        _ => Failure::retry(status.to_string()),
    }
}
