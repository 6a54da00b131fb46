//! Listing and changing contacts: search by name or address with keyset pages, replacing a
//! contact's addresses (an address belongs to one contact: a clash is refused, never moved
//! silently), choosing the primary one, and linking external identities.

use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{ContactUpdated, event::Payload};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store};
use crate::domain::{Contact, EmailAddress, ExternalIdentity};

/// Why a change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ContactChange {
    Done,
    NotFound,
    /// An address or identity belongs to another contact.
    Taken,
    /// The primary address is not one of the contact's.
    PrimaryNotOwned,
}

pub struct ContactUpdate {
    pub name: Option<String>,
    /// The complete new set of addresses, when given.
    pub emails: Option<Vec<EmailAddress>>,
    pub primary: Option<EmailAddress>,
}

fn like_pattern(query: &str) -> String {
    let escaped = query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}

async fn updated_event(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    outbox::enqueue(conn, Payload::ContactUpdated(ContactUpdated { contact_id: id.to_string() })).await?;
    Ok(())
}

impl Store {
    #[tracing::instrument(skip(self), err)]
    pub async fn list_contacts(&self, query: &str, limit: i64, after: Option<Uuid>) -> Result<Vec<Contact>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT c.id FROM contacts c
             WHERE c.merged_into IS NULL
               AND ($1 = '%%' OR lower(c.name) LIKE $1
                    OR EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id AND e.address_normalized LIKE $1))
               AND ($2::uuid IS NULL OR c.id > $2)
             ORDER BY c.id LIMIT $3",
        )
        .bind(like_pattern(query.trim()))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut contacts = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(contact) = self.contact(id).await? {
                contacts.push(contact);
            }
        }
        Ok(contacts)
    }

    #[tracing::instrument(skip(self, update), err)]
    pub async fn update_contact(&self, id: Uuid, update: ContactUpdate) -> Result<ContactChange> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(ContactChange::NotFound);
        }
        if let Some(name) = &update.name {
            sqlx::query("UPDATE contacts SET name = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(emails) = &update.emails {
            let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_string()).collect();
            sqlx::query("DELETE FROM contact_emails WHERE contact_id = $1 AND NOT (address_normalized = ANY ($2))")
                .bind(id)
                .bind(&normalized)
                .execute(&mut *tx)
                .await?;
            for email in emails {
                sqlx::query(
                    "INSERT INTO contact_emails (address_normalized, address, contact_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(email.normalized())
                .bind(email.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            let taken: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM contact_emails WHERE address_normalized = ANY ($1) AND contact_id <> $2",
            )
            .bind(&normalized)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if taken > 0 {
                return Ok(ContactChange::Taken);
            }
            // A new address may put the contact in a group that auto-joins its domain.
            for email in emails {
                super::groups::auto_join(&mut tx, id, email).await?;
            }
        }
        if let Some(primary) = &update.primary {
            let owned = sqlx::query(
                "UPDATE contact_emails SET is_primary = (address_normalized = $2) WHERE contact_id = $1",
            )
            .bind(id)
            .bind(primary.normalized())
            .execute(&mut *tx)
            .await?;
            let is_own: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM contact_emails WHERE contact_id = $1 AND address_normalized = $2)",
            )
            .bind(id)
            .bind(primary.normalized())
            .fetch_one(&mut *tx)
            .await?;
            if owned.rows_affected() == 0 || !is_own {
                return Ok(ContactChange::PrimaryNotOwned);
            }
        } else if update.emails.is_some() {
            // Keep exactly one primary address if any remain.
            sqlx::query(
                "UPDATE contact_emails SET is_primary = true WHERE address_normalized = (
                     SELECT address_normalized FROM contact_emails WHERE contact_id = $1
                     ORDER BY is_primary DESC, created_at LIMIT 1)
                 AND NOT EXISTS (SELECT 1 FROM contact_emails WHERE contact_id = $1 AND is_primary)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        updated_event(&mut tx, id).await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(ContactChange::Done)
    }

    /// Marks an address as bouncing; the contact it belongs to, if any.
    #[tracing::instrument(skip(self, address, reason), err)]
    pub async fn mark_undeliverable(&self, address: &EmailAddress, reason: &str) -> Result<Option<Uuid>> {
        let mut tx = self.pool.begin().await?;
        let contact: Option<Uuid> = sqlx::query_scalar(
            "UPDATE contact_emails SET deliverable = false WHERE address_normalized = $1 RETURNING contact_id",
        )
        .bind(address.normalized())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(contact_id) = contact else {
            return Ok(None);
        };
        outbox::enqueue(
            &mut tx,
            Payload::EmailUndeliverable(helpdesk_proto::events::v1::EmailUndeliverable {
                contact_id: contact_id.to_string(),
                address: address.as_str().to_string(),
                reason: reason.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(Some(contact_id))
    }

    #[tracing::instrument(skip(self), err)]
    pub async fn link_external_identity(&self, id: Uuid, identity: &ExternalIdentity) -> Result<ContactChange> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(ContactChange::NotFound);
        }
        sqlx::query(
            "INSERT INTO external_identities (provider, subject, contact_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&identity.provider)
        .bind(&identity.subject)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let owner: Option<Uuid> =
            sqlx::query_scalar("SELECT contact_id FROM external_identities WHERE provider = $1 AND subject = $2")
                .bind(&identity.provider)
                .bind(&identity.subject)
                .fetch_optional(&mut *tx)
                .await?;
        if owner != Some(id) {
            return Ok(ContactChange::Taken);
        }
        updated_event(&mut tx, id).await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(ContactChange::Done)
    }
}
