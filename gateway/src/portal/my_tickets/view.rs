//! What the My Tickets template shows, made from the services' answers: the rows, the queue and
//! category links with their counts, and the support-time alerts. Only data and *kinds* —
//! the template has every word.

use helpdesk_proto::tickets::v1 as pb;

use crate::{api::tickets::{status_kind, time_alert}, portal::views::Moment};

/// One ticket in the list.
pub struct Row {
    pub id: String,
    pub number: i64,
    pub subject: String,
    pub status: String,
    /// `pending` or `completed`: the pill's colour.
    pub status_kind: &'static str,
    pub priority: String,
    /// The category's name; empty when the ticket has none.
    pub category: String,
    pub created: Option<Moment>,
    pub updated: Option<Moment>,
    pub due: Option<Moment>,
    /// Filed by the signed-in contact (the group view says who: "you" or "a colleague").
    pub mine: bool,
}

impl Row {
    pub fn new(ticket: pb::Ticket, categories: &[pb::Category], me: &str) -> Self {
        let status = ticket.status.unwrap_or_default();
        let category = categories.iter().find(|c| c.id == ticket.category_id).map(|c| c.name.clone()).unwrap_or_default();
        Self {
            created: Moment::from_timestamp(ticket.created_at.as_ref()),
            updated: Moment::from_timestamp(ticket.updated_at.as_ref()),
            due: Moment::from_timestamp(ticket.due_at.as_ref()),
            mine: ticket.contact_id == me,
            id: ticket.id,
            number: ticket.number,
            subject: ticket.subject,
            status_kind: status_kind(status.kind),
            status: status.name,
            priority: ticket.priority.map(|p| p.name).unwrap_or_default(),
            category,
        }
    }
}

/// A queue link: `pending`, `completed` or `all` (the template words it) and its count.
pub struct QueueLink {
    pub name: &'static str,
    pub count: u64,
    pub href: String,
}

pub struct CategoryLink {
    pub id: String,
    pub name: String,
    pub count: u64,
    pub href: String,
    /// Still offered for new tickets (a retired one is listed while tickets carry it).
    pub active: bool,
}

/// A contact group's support time when it needs saying: `low` or `exhausted`, and the balance.
pub struct TimeAlert {
    pub kind: &'static str,
    /// The balance in whole hours and minutes, without its sign…
    pub hours: i64,
    pub minutes: i64,
    /// …which this carries: more time was used than granted.
    pub overdrawn: bool,
}

impl TimeAlert {
    /// The alert tickets computed against its `time_alert_threshold` setting (60 minutes by
    /// default); `None` when the time is fine, or when the group has no support-time ledger at
    /// all (nothing granted, nothing used: the group does not buy time, so "exhausted" would be
    /// noise).
    pub fn of(balance: &pb::GroupTimeBalance) -> Option<Self> {
        let kind = time_alert(balance.alert);
        if kind == "ok" || (balance.granted_minutes == 0 && balance.used_minutes == 0) {
            return None;
        }
        let remaining = balance.remaining_minutes;
        Some(Self { kind, hours: remaining.abs() / 60, minutes: remaining.abs() % 60, overdrawn: remaining < 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balance(granted: i64, used: i64, alert: pb::TimeAlert) -> pb::GroupTimeBalance {
        pb::GroupTimeBalance {
            granted_minutes: granted,
            used_minutes: used,
            remaining_minutes: granted - used,
            alert_threshold_minutes: 60,
            alert: alert as i32,
            ..Default::default()
        }
    }

    #[test]
    fn time_alerts_show_low_and_exhausted_balances_with_the_time_left() {
        let low = TimeAlert::of(&balance(120, 100, pb::TimeAlert::Low)).expect("low");
        assert_eq!((low.kind, low.hours, low.minutes, low.overdrawn), ("low", 0, 20, false));
        let over = TimeAlert::of(&balance(60, 150, pb::TimeAlert::Exhausted)).expect("exhausted");
        assert_eq!((over.kind, over.hours, over.minutes, over.overdrawn), ("exhausted", 1, 30, true));
        assert!(TimeAlert::of(&balance(600, 10, pb::TimeAlert::Ok)).is_none());
        assert!(TimeAlert::of(&balance(0, 0, pb::TimeAlert::Exhausted)).is_none(), "a group without a time budget");
    }
}
