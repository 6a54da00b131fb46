//! Group support time (HappyFox's "contact group available time"): admins grant minutes, agents'
//! time entries on members' tickets draw them down, and the balance has an alert state.

use super::{TicketError, invalid};

/// Longest single time entry: a working day and then some.
pub const MAX_ENTRY_MINUTES: i32 = 24 * 60;
pub const MAX_GRANT_MINUTES: i64 = 1_000_000;

/// `tickets.v1.TimeAlert` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    Ok = 1,
    Low = 2,
    Exhausted = 3,
}

impl Alert {
    pub fn from_i16(raw: i16) -> Self {
        match raw {
            2 => Self::Low,
            3 => Self::Exhausted,
            _ => Self::Ok,
        }
    }
}

/// Exhausted at or below zero, low under the threshold, otherwise fine.
pub fn alert(remaining: i64, threshold: i64) -> Alert {
    if remaining <= 0 {
        Alert::Exhausted
    } else if remaining < threshold {
        Alert::Low
    } else {
        Alert::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub granted: i64,
    pub used: i64,
}

impl Balance {
    pub fn remaining(&self) -> i64 {
        self.granted - self.used
    }
}

pub fn parse_entry_minutes(raw: i32) -> Result<i32, TicketError> {
    if !(1..=MAX_ENTRY_MINUTES).contains(&raw) {
        return Err(invalid("minutes", format!("must be 1-{MAX_ENTRY_MINUTES}")));
    }
    Ok(raw)
}

/// A grant may be negative (a correction) but not zero.
pub fn parse_grant_minutes(raw: i64) -> Result<i64, TicketError> {
    if raw == 0 || raw.abs() > MAX_GRANT_MINUTES {
        return Err(invalid("minutes", format!("must be non-zero and within ±{MAX_GRANT_MINUTES}")));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_follow_the_remaining_balance() {
        assert_eq!(alert(600, 60), Alert::Ok);
        assert_eq!(alert(60, 60), Alert::Ok);
        assert_eq!(alert(59, 60), Alert::Low);
        assert_eq!(alert(1, 60), Alert::Low);
        assert_eq!(alert(0, 60), Alert::Exhausted);
        assert_eq!(alert(-30, 60), Alert::Exhausted);
    }

    #[test]
    fn the_balance_is_grants_minus_use() {
        let balance = Balance { granted: 120, used: 45 };
        assert_eq!(balance.remaining(), 75);
        assert_eq!(alert(balance.remaining(), 60), Alert::Ok);
        assert_eq!(alert(Balance { granted: 120, used: 130 }.remaining(), 60), Alert::Exhausted);
    }

    #[test]
    fn minutes_are_bounded() {
        assert!(parse_entry_minutes(0).is_err());
        assert!(parse_entry_minutes(-5).is_err());
        assert!(parse_entry_minutes(1441).is_err());
        assert!(matches!(parse_entry_minutes(90), Ok(90)));
        assert!(parse_grant_minutes(0).is_err());
        assert!(matches!(parse_grant_minutes(-15), Ok(-15)));
    }
}
