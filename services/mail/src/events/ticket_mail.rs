//! Ticket mail out: a durable consumer of tickets' events that mails the contact — an
//! acknowledgement of a new ticket (not for automatic mail; configurable), each agent reply, and
//! completion. Every mail carries our Message-ID with the ticket's signed reply token in it,
//! In-Reply-To to the customer's latest mail and References from the first one (both learned from
//! tickets' events), a `Reply-To` plus-address with the same
//! token, and RFC 3834 headers when it is automatic. Nothing goes to undeliverable addresses or to
//! do-not-mail patterns, and at most `per_recipient_per_hour` mails go to one address in an hour.
//! The outbound ledger (keyed by event id) makes a redelivered event send nothing twice.

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
    identity::v1::{GetContactRequest, contact_service_client::ContactServiceClient},
    tickets::v1::{self as pb, ticket_service_client::TicketServiceClient},
};
use prost::Message as _;
use secrecy::SecretString;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    config::MailConfig,
    domain::{templates::Rendered, ticket_mail},
    sender::{Headers, Outgoing, SendError, Sender},
    store::{Claim, Ledger},
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
    kind: &'static str,
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
                    kind: "ticket_acknowledgement",
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
                Mail { ticket_id: ticket, body: ticket_mail::agent_reply(number, &subject, &text), automatic: false, kind: "agent_reply" }
            }
            Some(Payload::TicketUpdated(updated))
                if updated.status_kind == COMPLETED && updated.changed_fields.iter().any(|f| f == "status") =>
            {
                let ticket = parse_id(&updated.ticket_id)?;
                let (number, subject) = self.ticket(ticket).await?;
                Mail { ticket_id: ticket, body: ticket_mail::completed(number, &subject), automatic: true, kind: "ticket_completed" }
            }
            _ => return Ok(()),
        };
        self.send(event_id, mail).await
    }

    async fn send(&self, event_id: Uuid, mail: Mail) -> Result<(), SendError> {
        let Some((address, name)) = self.recipient(mail.ticket_id).await? else {
            tracing::info!(ticket = %mail.ticket_id, "no deliverable address; no mail");
            return Ok(());
        };
        if ticket_mail::do_not_mail(&address, &self.config.do_not_mail) {
            tracing::info!(ticket = %mail.ticket_id, "recipient matches a do-not-mail pattern; no mail");
            return Ok(());
        }
        if self.ledger.sent_last_hour(&address).await.map_err(transient)? >= self.config.per_recipient_per_hour {
            tracing::warn!(ticket = %mail.ticket_id, "per-recipient rate limit reached; mail skipped");
            return Ok(());
        }
        let token = reply_token::sign(&self.reply_secret, mail.ticket_id);
        let domain = &self.config.message_id_domain;
        let message_id = format!("<{token}.{event_id}@{domain}>");
        if self.ledger.begin(event_id, mail.kind, &address, &message_id).await.map_err(transient)? == Claim::AlreadySent {
            return Ok(());
        }
        let from = self.sender.sender_address();
        let (local, from_domain) = from.split_once('@').unwrap_or((from.as_str(), domain.as_str()));
        let (in_reply_to, references) = threading(self.ledger.thread(mail.ticket_id).await.map_err(transient)?);
        self.sender
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
            .await?;
        self.ledger.sent(event_id).await.map_err(transient)?;
        tracing::info!(ticket = %mail.ticket_id, kind = mail.kind, "ticket mail sent");
        Ok(())
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

    /// The ticket contact's primary address, if it is deliverable.
    async fn recipient(&self, ticket: Uuid) -> Result<Option<(String, String)>, SendError> {
        let request = pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(ticket.to_string())) };
        let contact_id = self.tickets.clone().get_ticket(bearer(request, &self.token().await?).map_err(grpc)?).await.map_err(grpc)?.into_inner().contact_id;
        let contact = self
            .contacts
            .clone()
            .get_contact(bearer(GetContactRequest { id: contact_id }, &self.token().await?).map_err(grpc)?)
            .await
            .map_err(grpc)?
            .into_inner();
        Ok(contact
            .emails
            .iter()
            .find(|e| e.primary && e.deliverable)
            .map(|e| (e.address.clone(), contact.name.clone())))
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

/// In-Reply-To (the customer's latest mail, else the first) and References (the first, then the
/// latest) for a ticket's thread, so the customer's client files our mail under the conversation.
fn threading(thread: Option<(String, Option<String>)>) -> (Option<String>, Option<String>) {
    let Some((root, latest)) = thread else { return (None, None) };
    let bracket = |id: &str| format!("<{}>", id.trim().trim_matches(['<', '>']));
    let root = bracket(&root);
    match latest.map(|l| bracket(&l)).filter(|l| *l != root) {
        Some(latest) => (Some(latest.clone()), Some(format!("{root} {latest}"))),
        None => (Some(root.clone()), Some(root)),
    }
}

#[cfg(test)]
mod tests {
    use super::threading;

    #[test]
    fn answers_reply_to_the_latest_mail_and_reference_the_root() {
        assert_eq!(threading(None), (None, None));
        let only_root = threading(Some(("a@x".into(), None)));
        assert_eq!(only_root, (Some("<a@x>".into()), Some("<a@x>".into())));
        let same = threading(Some(("<a@x>".into(), Some("a@x".into()))));
        assert_eq!(same, only_root);
        let later = threading(Some(("a@x".into(), Some("c@x".into()))));
        assert_eq!(later, (Some("<c@x>".into()), Some("<a@x> <c@x>".into())));
    }
}
