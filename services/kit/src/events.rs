//! Building events: every event gets a fresh UUIDv7 id (also its `Nats-Msg-Id`, so the stream drops
//! duplicates) and its subject under `<prefix>.events.<part>.<name>`.

use helpdesk_proto::events::v1::{Event, event::Payload};
use uuid::Uuid;

use crate::nats::Subjects;

/// A new event with a fresh id, stamped now.
pub fn new_event(payload: Payload) -> Event {
    Event {
        id: Uuid::now_v7().to_string(),
        occurred_at: Some(timestamp(chrono::Utc::now())),
        payload: Some(payload),
    }
}

/// The subject an event is published on: part and name come from the payload, so a publisher
/// cannot put an event on the wrong subject.
pub fn subject_of(subjects: &Subjects, payload: &Payload) -> String {
    let (part, name) = match payload {
        Payload::ContactCreated(_) => ("identity", "contact_created"),
        Payload::ContactUpdated(_) => ("identity", "contact_updated"),
        Payload::EmailUndeliverable(_) => ("identity", "email_undeliverable"),
        Payload::GroupMembershipChanged(_) => ("identity", "group_membership_changed"),
        Payload::GroupUpdated(_) => ("identity", "group_updated"),
        Payload::PortalSettingsChanged(_) => ("identity", "portal_settings_changed"),
        Payload::AccountMailRequested(_) => ("identity", "account_mail_requested"),
        Payload::GuestTicketConfirmed(_) => ("identity", "guest_ticket_confirmed"),
        Payload::SubjectAccessChanged(_) => ("identity", "subject_access_changed"),
        Payload::ContactsMerged(_) => ("identity", "contacts_merged"),
        Payload::TicketCreated(_) => ("tickets", "ticket_created"),
        Payload::TicketUpdated(_) => ("tickets", "ticket_updated"),
        Payload::MessageAdded(_) => ("tickets", "message_added"),
        Payload::TimeLogged(_) => ("tickets", "time_logged"),
        Payload::GroupTimeAlertChanged(_) => ("tickets", "group_time_alert_changed"),
        Payload::ArticleChanged(_) => ("kb", "article_changed"),
    };
    subjects.event(part, name)
}

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
