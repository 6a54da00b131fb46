//! Live updates of the ticket page (DESIGN.md §7): `GET /tickets/{id}/events` is a Server-Sent
//! Events stream that sends `event: changed` (data `message` or `status`) when the ticket gets a
//! public message or a status change; the page's script then fetches the conversation fragment.
//!
//! The signal comes from NATS, not from this process: tickets publishes `MessageAdded` and
//! `TicketUpdated` through its outbox, and every gateway replica follows
//! `<prefix>.events.tickets.*` with one core-NATS subscription ([`Live::start`]) whose signals
//! each open stream filters by its ticket id. So a reply shows whichever replica the browser
//! reached, and a thousand open pages cost one subscription, not a thousand. Only the signal
//! leaves: no message text rides on the stream, and internal notes send nothing at all.
//!
//! A stream is opened only after `GetTicket` with the contact's own token succeeded, and lasts
//! at most [`LIFETIME`]: the browser's `EventSource` then reconnects (after `retry`), which asks
//! again — so a contact who lost access stops getting even the signal. Shutdown ends every stream
//! (axum's graceful shutdown waits for open responses).

use std::{convert::Infallible, time::Duration};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use helpdesk_kit::{CancellationToken, nats::Subjects};
use helpdesk_proto::{
    events::v1::{Event, event::Payload},
    tickets::v1::MessageKind,
};
use prost::Message;
use tokio::sync::broadcast;

/// How long one stream lasts before the browser reconnects (and its access is checked again).
pub const LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Comments that keep proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How soon a browser reconnects after a stream ended.
const RETRY: Duration = Duration::from_secs(2);
/// Signals buffered for slow streams; one that falls behind gets a `changed` (it refetches).
const BUFFER: usize = 1024;

/// What changed on which ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub ticket_id: String,
    /// `message` or `status`.
    pub what: &'static str,
}

/// The gateway's follower of ticket events, shared by every open stream.
#[derive(Clone)]
pub struct Live {
    signals: broadcast::Sender<Signal>,
    stop: CancellationToken,
}

impl Live {
    /// Follows the tickets events on `client` until `stop`, which also ends every stream.
    pub fn start(client: async_nats::Client, subjects: &Subjects, stop: CancellationToken) -> Self {
        let (signals, _) = broadcast::channel(BUFFER);
        tokio::spawn(follow(client, subjects.event("tickets", "*"), signals.clone(), stop.clone()));
        Self { signals, stop }
    }

    /// Subscribes before the caller checks access, so nothing between the check and the first
    /// signal is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    /// The event stream of one ticket, from a subscription taken with [`Live::subscribe`].
    pub fn stream(
        &self,
        ticket_id: String,
        signals: broadcast::Receiver<Signal>,
    ) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
        let hello = futures::stream::once(async { Ok(SseEvent::default().retry(RETRY).comment("ready")) });
        let changes = futures::stream::unfold((signals, ticket_id), |(mut signals, ticket_id)| async move {
            loop {
                match signals.recv().await {
                    Ok(signal) if signal.ticket_id == ticket_id => {
                        let event = SseEvent::default().event("changed").data(signal.what);
                        return Some((Ok(event), (signals, ticket_id)));
                    }
                    Ok(_) => continue,
                    // Fell behind: one of the missed signals may have been ours.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let event = SseEvent::default().event("changed").data("message");
                        return Some((Ok(event), (signals, ticket_id)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let stop = self.stop.clone();
        let end = async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(LIFETIME) => {}
            }
        };
        Sse::new(hello.chain(changes).take_until(end)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
    }
}

/// One subscription, renewed after an error; async-nats itself reconnects a dropped connection
/// and resubscribes.
async fn follow(client: async_nats::Client, subject: String, signals: broadcast::Sender<Signal>, stop: CancellationToken) {
    loop {
        match client.subscribe(subject.clone()).await {
            Ok(mut subscription) => loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    message = subscription.next() => match message {
                        Some(message) => {
                            if let Some(signal) = signal_of(&message.payload) {
                                // No stream open is no error.
                                let _ = signals.send(signal);
                            }
                        }
                        None => break,
                    },
                }
            },
            Err(error) => tracing::warn!(%error, %subject, "live updates cannot subscribe to ticket events; retrying"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The signal an event gives the ticket page, if any: a public message (a reply or a system
/// entry — never an internal note) or a status change.
pub fn signal_of(payload: &[u8]) -> Option<Signal> {
    match Event::decode(payload).ok()?.payload? {
        Payload::MessageAdded(m) if m.kind != MessageKind::InternalNote as i32 => {
            Some(Signal { ticket_id: m.ticket_id, what: "message" })
        }
        Payload::TicketUpdated(t) if t.changed_fields.iter().any(|f| f == "status") => {
            Some(Signal { ticket_id: t.ticket_id, what: "status" })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use helpdesk_proto::events::v1::{MessageAdded, TicketUpdated};

    use super::*;

    fn encoded(payload: Payload) -> Vec<u8> {
        helpdesk_kit::events::new_event(payload).encode_to_vec()
    }

    #[test]
    fn public_messages_and_status_changes_signal_and_internal_notes_never_do() {
        let added = |kind: MessageKind| {
            encoded(Payload::MessageAdded(MessageAdded { ticket_id: "t".into(), kind: kind as i32, ..Default::default() }))
        };
        assert_eq!(signal_of(&added(MessageKind::Reply)), Some(Signal { ticket_id: "t".into(), what: "message" }));
        assert_eq!(signal_of(&added(MessageKind::System)).map(|s| s.what), Some("message"));
        assert_eq!(signal_of(&added(MessageKind::InternalNote)), None);
        let updated = |field: &str| {
            encoded(Payload::TicketUpdated(TicketUpdated {
                ticket_id: "t".into(),
                changed_fields: vec![field.into()],
                ..Default::default()
            }))
        };
        assert_eq!(signal_of(&updated("status")).map(|s| s.what), Some("status"));
        assert_eq!(signal_of(&updated("assignee")), None);
        assert_eq!(signal_of(b"not an event"), None);
    }
}
