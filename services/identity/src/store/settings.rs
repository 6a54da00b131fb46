//! The portal settings row. Read on every use (one indexed row), so a change is seen at once by
//! every identity replica; `PortalSettingsChanged` tells the other services.

use anyhow::Context;
use chrono::{DateTime, Utc};
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{PortalSettingsChanged, event::Payload};

use super::{Result, Store};
use crate::domain::settings::PortalSettings;

impl Store {
    pub async fn portal_settings(&self) -> Result<PortalSettings> {
        let row: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT settings, updated_at FROM portal_settings WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((json, updated_at)) => {
                let mut settings: PortalSettings =
                    serde_json::from_str(&json).context("reading the stored portal settings")?;
                settings.updated_at = Some(updated_at);
                settings
            }
            None => PortalSettings::default(),
        })
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn save_portal_settings(&self, settings: &PortalSettings) -> Result<PortalSettings> {
        let json = serde_json::to_string(settings).context("writing the portal settings")?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO portal_settings (id, settings, updated_at) VALUES (1, $1, now())
             ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()",
        )
        .bind(json)
        .execute(&mut *tx)
        .await?;
        let changed = PortalSettingsChanged {
            contacts_may_close_tickets: Some(settings.contacts_may_close_tickets),
        };
        outbox::enqueue(&mut tx, Payload::PortalSettingsChanged(changed)).await?;
        tx.commit().await?;
        self.relay.wake();
        self.portal_settings().await
    }
}
