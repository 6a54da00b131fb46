//! The inbound consumer's memory of which contact an address (or chat handle) belongs to, so a
//! burst of mail from known senders does not ask identity once per message. Entries live a short
//! time: an address moved to another contact in identity is picked up within that time, and a
//! miss only costs the find-or-create call it saves.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// Entries kept at most; beyond it the cache starts over (cheap, and bounds memory).
const MAX_ENTRIES: usize = 100_000;

pub struct ContactCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Uuid, Instant)>>,
}

impl ContactCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key: &str) -> Option<Uuid> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(id, _)| *id)
    }

    pub fn put(&self, key: String, contact: Uuid) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (contact, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let cache = ContactCache::new(Duration::from_millis(50));
        let id = Uuid::now_v7();
        cache.put("email:ann@example.org".into(), id);
        assert_eq!(cache.get("email:ann@example.org"), Some(id));
        assert_eq!(cache.get("email:bob@example.org"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("email:ann@example.org"), None, "expired");
        for i in 0..=MAX_ENTRIES {
            cache.put(format!("k{i}"), id);
        }
        assert!(cache.entries.lock().expect("lock").len() <= MAX_ENTRIES);
    }
}
