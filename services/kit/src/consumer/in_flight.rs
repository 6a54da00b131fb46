//! Messages sharing a key run in stream order: each message in flight is registered under its
//! keys with its turn, and a later one sharing any key waits until the earlier ones are done (for
//! tickets' inbound consumer: a reply waits for the mail it answers, a second copy for the first,
//! a parent for the reply taken before it). A message only ever waits for ones registered before
//! it, so nothing can deadlock; messages with no key in common run side by side.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio_util::sync::CancellationToken;

/// The messages in flight, under every key they were registered with.
#[derive(Default)]
pub struct InFlight(Mutex<Registry>);

#[derive(Default)]
struct Registry {
    turns: u64,
    /// Per key: the turn of each message registered under it, and its done-token.
    keys: HashMap<String, Vec<(u64, CancellationToken)>>,
}

/// One message's place: wait for [`Turn::earlier_done`] before handling it; dropping the turn
/// (also on a panic) lets the messages waiting for it go.
pub struct Turn {
    in_flight: Arc<InFlight>,
    keys: Vec<String>,
    turn: u64,
    done: CancellationToken,
    earlier: Vec<CancellationToken>,
}

impl InFlight {
    /// Registers the next message under `keys`.
    pub fn enter(self: &Arc<Self>, keys: Vec<String>) -> Turn {
        let done = CancellationToken::new();
        let mut registry = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        registry.turns += 1;
        let turn = registry.turns;
        let mut earlier = Vec::new();
        for key in &keys {
            let entries = registry.keys.entry(key.clone()).or_default();
            earlier.extend(entries.iter().map(|(_, token)| token.clone()));
            entries.push((turn, done.clone()));
        }
        drop(registry);
        Turn { in_flight: self.clone(), keys, turn, done, earlier }
    }
}

impl Turn {
    /// Waits until every earlier message sharing a key is done.
    pub async fn earlier_done(&mut self) {
        for earlier in self.earlier.drain(..) {
            earlier.cancelled().await;
        }
    }

    /// How many earlier messages this one still has to wait for.
    pub fn waits_for(&self) -> usize {
        self.earlier.iter().filter(|token| !token.is_cancelled()).count()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.done.cancel();
        let mut registry = self.in_flight.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in &self.keys {
            if let Some(entries) = registry.keys.get_mut(key) {
                entries.retain(|(turn, _)| *turn != self.turn);
                if entries.is_empty() {
                    registry.keys.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|k| (*k).to_string()).collect()
    }

    #[test]
    fn a_later_message_sharing_a_key_waits_for_the_earlier_one() {
        let in_flight = Arc::new(InFlight::default());
        let reply = in_flight.enter(keys(&["r@x", "p@x", "q@x"]));
        assert_eq!(reply.waits_for(), 0);
        let parent = in_flight.enter(keys(&["p@x"]));
        assert_eq!(parent.waits_for(), 1, "the parent waits for the reply taken before it");
        let stranger = in_flight.enter(keys(&["s@x"]));
        assert_eq!(stranger.waits_for(), 0, "no key in common: side by side");
        drop(reply);
        assert_eq!(parent.waits_for(), 0);
        let later = in_flight.enter(keys(&["r@x"]));
        assert_eq!(later.waits_for(), 0, "a finished message is forgotten");
        assert!(!in_flight.0.lock().expect("lock").keys.contains_key("q@x"));
    }
}
