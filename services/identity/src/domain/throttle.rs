//! Login throttling. Failures are counted per (account, client address), per client address and
//! per account over a sliding window. The per-account limit — the one an attacker could use to
//! lock a user out — does not apply to addresses the account has signed in from before, so its
//! owner keeps getting in while someone hammers the account from elsewhere. Accounts are counted
//! by the address as typed, whether or not it exists, so throttling reveals nothing either.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window: Duration,
    pub per_account_and_ip: i64,
    pub per_ip: i64,
    pub per_account: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_account_and_ip: 5,
            per_ip: 30,
            per_account: 20,
        }
    }
}

/// Failures within the window, and whether this client address is one the account knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recent {
    pub account_and_ip: i64,
    pub ip: i64,
    pub account: i64,
    pub known_ip: bool,
}

impl ThrottlePolicy {
    pub fn allows(&self, recent: Recent) -> bool {
        recent.account_and_ip < self.per_account_and_ip
            && recent.ip < self.per_ip
            && (recent.known_ip || recent.account < self.per_account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_from_one_address_are_throttled() {
        let policy = ThrottlePolicy::default();
        assert!(policy.allows(Recent { account_and_ip: 4, ..Default::default() }));
        assert!(!policy.allows(Recent { account_and_ip: 5, ..Default::default() }));
    }

    #[test]
    fn one_address_trying_many_accounts_is_throttled() {
        assert!(!ThrottlePolicy::default().allows(Recent { ip: 30, ..Default::default() }));
    }

    #[test]
    fn an_attack_from_elsewhere_does_not_lock_the_owner_out_of_a_known_address() {
        let policy = ThrottlePolicy::default();
        let hammered = Recent { account: 500, ..Default::default() };
        assert!(!policy.allows(hammered));
        assert!(policy.allows(Recent { known_ip: true, ..hammered }));
    }
}
