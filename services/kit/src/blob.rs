//! The blob store for everything too large to ride on NATS or sit in a row: attachments and raw
//! mail. `object_store` behind one small type, so the parts never see which backend holds the
//! bytes; a local directory by default.

use std::sync::Arc;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, local::LocalFileSystem, path::Path};

use crate::config::BlobConfig;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
}

impl BlobStore {
    pub fn from_config(config: &BlobConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| anyhow::anyhow!("cannot create the blob directory {}: {e}", config.dir.display()))?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(&config.dir)?),
        })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> object_store::Result<()> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> object_store::Result<Bytes> {
        self.store.get(&Path::from(key)).await?.bytes().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_put_comes_back_and_absent_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::from_config(&BlobConfig { dir: dir.path().join("blobs") }).expect("store");
        blobs.put("attachments/a/b", Bytes::from_static(b"hello")).await.expect("put");
        assert_eq!(blobs.get("attachments/a/b").await.expect("get"), Bytes::from_static(b"hello"));
        assert!(blobs.get("attachments/none").await.is_err());
    }
}
