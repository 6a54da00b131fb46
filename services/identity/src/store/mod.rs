//! Identity's SQL. Find-or-create relies on the unique keys (normalized address; provider +
//! subject): a racing second insert waits for the first transaction, then does nothing, and the
//! loser reads the winner's contact — never a duplicate.
//!
//! Submodules: `staff`, `accounts` (passwords and link tokens), `sessions`, `throttle`,
//! `settings`, `groups`, `guest` (confirmation links of guests' tickets), `identity_links` (linking
//! an external identity to an address by mail, and merging contacts), `revocations` (whose
//! tokens every part refuses). Every change that others must hear about writes its event to the
//! outbox in the same transaction.
//!
//! `Store` methods answer [`IdentityError`], so handlers use bare `?`: an unexpected database
//! failure becomes its `Database` variant, and a violated constraint a caller can cause becomes
//! the domain error it means by the constraint's name, beside the SQL that can violate it
//! (`ConstraintExt::on_constraint`). The helpers that run inside a caller's transaction
//! (`sessions::create`, `groups::auto_join`, `revocations::record`, …) stay on `sqlx::Result`:
//! they are building blocks of those methods, and `?` converts at the method. (`sso`'s methods
//! still answer `sqlx::Result` until single sign-on moves onto `openidconnect`.)

pub mod accounts;
mod captcha;
pub mod contacts;
pub mod groups;
pub mod guest;
pub mod identity_links;
mod revocations;
pub mod sessions;
pub mod sso;
mod settings;
mod staff;
mod throttle;

pub use accounts::LinkKind;

use anyhow::anyhow;
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{ContactCreated, event::Payload};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::{Contact, ContactEmail, ContactStatus, EmailAddress, ExternalIdentity, IdentityError};

/// What every `Store` method answers.
pub type Result<T> = std::result::Result<T, IdentityError>;

/// Which unique key a find-or-create goes by.
pub enum ContactKey<'a> {
    Email(&'a EmailAddress),
    External(&'a ExternalIdentity),
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    relay: outbox::Waker,
}

impl Store {
    pub fn new(pool: PgPool, relay: outbox::Waker) -> Self {
        Self { pool, relay }
    }

    #[tracing::instrument(skip(self, key), err)]
    pub async fn find_or_create(&self, key: ContactKey<'_>, name: &str) -> Result<(Contact, bool)> {
        if let Some(id) = self.find_id(&key).await? {
            return Ok((self.expect_contact(id).await?, false));
        }
        let mut tx = self.pool.begin().await?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO contacts (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if !claim_key(&mut tx, &key, id).await? {
            // Another request created this contact between our lookup and our insert.
            tx.rollback().await?;
            let id = self
                .find_id(&key)
                .await?
                .ok_or_else(|| anyhow!("the contact that won the race for its key is gone"))?;
            return Ok((self.expect_contact(id).await?, false));
        }
        let email = match &key {
            ContactKey::Email(address) => address.as_str().to_string(),
            ContactKey::External(_) => String::new(),
        };
        outbox::enqueue(
            &mut tx,
            Payload::ContactCreated(ContactCreated {
                contact_id: id.to_string(),
                name: name.to_string(),
                email,
            }),
        )
        .await?;
        if let ContactKey::Email(address) = &key {
            groups::auto_join(&mut tx, id, address).await?;
        }
        tx.commit().await?;
        self.relay.wake();
        Ok((self.expect_contact(id).await?, true))
    }

    async fn find_id(&self, key: &ContactKey<'_>) -> Result<Option<Uuid>> {
        let id = match key {
            ContactKey::Email(address) => {
                sqlx::query_scalar("SELECT contact_id FROM contact_emails WHERE address_normalized = $1")
                    .bind(address.normalized())
                    .fetch_optional(&self.pool)
                    .await?
            }
            ContactKey::External(identity) => {
                sqlx::query_scalar(
                    "SELECT contact_id FROM external_identities WHERE provider = $1 AND subject = $2",
                )
                .bind(&identity.provider)
                .bind(&identity.subject)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        Ok(id)
    }

    pub async fn find_by_email(&self, address: &EmailAddress) -> Result<Option<Contact>> {
        match self.find_id(&ContactKey::Email(address)).await? {
            Some(id) => self.contact(id).await,
            None => Ok(None),
        }
    }

    async fn expect_contact(&self, id: Uuid) -> Result<Contact> {
        Ok(self.contact(id).await?.ok_or_else(|| anyhow!("contact {id} is gone right after it was found or created"))?)
    }

    #[tracing::instrument(skip(self), err)]
    pub async fn contact(&self, id: Uuid) -> Result<Option<Contact>> {
        let Some(row) = sqlx::query("SELECT id, name, status, created_at, merged_into FROM contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let emails = sqlx::query(
            "SELECT address, is_primary, verified, deliverable FROM contact_emails
             WHERE contact_id = $1 ORDER BY is_primary DESC, created_at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| ContactEmail {
            address: r.get("address"),
            primary: r.get("is_primary"),
            verified: r.get("verified"),
            deliverable: r.get("deliverable"),
        })
        .collect();
        let identities = sqlx::query(
            "SELECT provider, subject FROM external_identities WHERE contact_id = $1 ORDER BY created_at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| ExternalIdentity {
            provider: r.get("provider"),
            subject: r.get("subject"),
        })
        .collect();
        let group_ids = sqlx::query_scalar("SELECT group_id FROM group_members WHERE contact_id = $1 ORDER BY group_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let has_account: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE contact_id = $1)")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(Contact {
            id: row.get("id"),
            name: row.get("name"),
            status: ContactStatus::from_db(row.get("status")),
            emails,
            identities,
            group_ids,
            has_account,
            created_at: row.get("created_at"),
            merged_into: row.get("merged_into"),
        }))
    }
}

/// Inserts the unique key for a new contact; false when another contact already holds it.
async fn claim_key(conn: &mut PgConnection, key: &ContactKey<'_>, id: Uuid) -> sqlx::Result<bool> {
    let result = match key {
        ContactKey::Email(address) => {
            sqlx::query(
                "INSERT INTO contact_emails (address_normalized, address, contact_id, is_primary)
                 VALUES ($1, $2, $3, true) ON CONFLICT DO NOTHING",
            )
            .bind(address.normalized())
            .bind(address.as_str())
            .bind(id)
            .execute(conn)
            .await?
        }
        ContactKey::External(identity) => {
            sqlx::query(
                "INSERT INTO external_identities (provider, subject, contact_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(&identity.provider)
            .bind(&identity.subject)
            .bind(id)
            .execute(conn)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}
