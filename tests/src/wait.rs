//! The one way the tests wait for something asynchronous: [`wait_until`] looks again and again
//! until the observed value satisfies the condition, and on timeout **panics** with what it waited
//! for and the last value it saw — a wait never returns silently with the effect missing.
//! [`eventually`] and [`within`] are its yes/no forms.
//!
//! Checking that something did *not* happen is no wait at all: make it happen-or-not before a
//! later step through the same path (a sentinel message behind it in the same consumer), then
//! wait for the sentinel.

use std::{fmt::Debug, time::Duration};

/// How long an asynchronous effect may take by default (events, consumers, mail).
pub const EFFECT_LIMIT: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Observes every 100 ms, for at most `limit`, until `done` holds for the observed value, and
/// returns that value; panics with `what` and the last observed value otherwise.
pub async fn wait_until<T: Debug>(
    limit: Duration,
    what: &str,
    mut observe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let observed = observe().await;
        if done(&observed) {
            return observed;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting until {what}; last observed: {observed:#?}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Retries `check` until it returns true, for at most [`EFFECT_LIMIT`].
pub async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    within(EFFECT_LIMIT, what, check).await;
}

/// Retries `check` until it returns true, for at most `limit`.
pub async fn within(limit: Duration, what: &str, check: impl AsyncFnMut() -> bool) {
    wait_until(limit, what, check, |done| *done).await;
}
