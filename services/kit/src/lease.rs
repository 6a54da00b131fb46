//! Work that one replica at a time must do — read a mailbox (mail), hold the bot's Discord
//! connection (chat) — behind a lease in a NATS key-value bucket, so any number of replicas can
//! run and exactly one of them does it. The lease is a key whose value names its holder; the
//! bucket's `max_age` expires it when the holder stops renewing (crash, partition), and renewals
//! are compare-and-set on the revision, so two replicas can never both believe they hold it.

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use crate::nats::Nats;

pub struct Leases {
    store: kv::Store,
    /// This replica's identity in the lease values.
    holder: String,
}

/// A held lease: renew it before `ttl` runs out, release it when done.
pub struct Lease {
    key: String,
    revision: u64,
}

impl Leases {
    /// Opens (creating if needed) `bucket` (one of `Subjects`' lease buckets), whose keys expire
    /// after `ttl`.
    pub async fn open(nats: &Nats, bucket: String, ttl: Duration) -> anyhow::Result<Self> {
        let store = nats
            .jetstream
            .create_or_update_key_value(kv::Config {
                bucket,
                history: 1,
                max_age: ttl,
                ..Default::default()
            })
            .await?;
        Ok(Self {
            store,
            holder: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The lease on `name`, or `None` while another replica holds it.
    pub async fn acquire(&self, name: &str) -> anyhow::Result<Option<Lease>> {
        let key = lease_key(name);
        match self.store.create(&key, Bytes::from(self.holder.clone())).await {
            Ok(revision) => Ok(Some(Lease { key, revision })),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Extends the lease; `false` when it was lost (expired and taken by another replica).
    pub async fn renew(&self, lease: &mut Lease) -> anyhow::Result<bool> {
        match self.store.update(&lease.key, Bytes::from(self.holder.clone()), lease.revision).await {
            Ok(revision) => {
                lease.revision = revision;
                Ok(true)
            }
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Gives the lease up so another replica may take over at once.
    pub async fn release(&self, lease: Lease) {
        if let Err(error) = self.store.delete_expect_revision(&lease.key, Some(lease.revision)).await {
            tracing::debug!(%error, key = lease.key, "lease not released; it expires by itself");
        }
    }
}

/// Key-value keys allow `[-/_=.a-zA-Z0-9]`: anything else becomes `_`, and a hash of the name
/// keeps two names that map to the same characters apart.
fn lease_key(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let readable: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || "-_=".contains(c) { c } else { '_' })
        .collect();
    let hash: String = Sha256::digest(name.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{readable}.{hash}")
}

#[cfg(test)]
mod tests {
    use super::lease_key;

    #[test]
    fn lease_keys_are_valid_and_distinct() {
        let a = lease_key("support@example.com");
        let b = lease_key("support_example_com");
        assert_ne!(a, b);
        for key in [a, b, lease_key(""), lease_key("a b*>/ü")] {
            assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || "-/_=.".contains(c)), "{key}");
        }
    }
}
