//! Linking an external identity (a Discord user) to an email address by a mailed link, and the
//! merge of two contacts such a link proves to be one person.
//!
//! A link is stored as the SHA-256 of its token with the identity, the address and the contact
//! that held the identity; it is consumed by one `UPDATE … WHERE used_at IS NULL AND expires_at >
//! now() RETURNING` in the same transaction as what it does, so two concurrent uses cannot both
//! win and a failure leaves the link unused. Used and expired rows stay, so a second use is told
//! "used", not "unknown".
//!
//! What a confirmed link does, decided under row locks on both contacts:
//! - nobody holds the address: it becomes the identity's contact's verified primary address;
//! - the identity's contact holds it already: it is marked verified;
//! - another contact holds it: that contact takes the identity — and with it every address,
//!   identity and group membership of the identity's contact, which is kept, marked
//!   `merged_into`, for history. `ContactsMerged` tells tickets to move its tickets.
//!
//! A blocked contact on either side links nothing: a merge must never lift a block (the blocked
//! Discord user would reach support again as the good contact), nor spread one to a contact staff
//! did not block. Staff can still link by hand (`LinkExternalIdentity`).

use anyhow::anyhow;
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, ContactUpdated, ContactsMerged, event::Payload};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, accounts::MAX_LINK_MAILS_PER_HOUR, groups, sessions};
use crate::domain::{EmailAddress, ExternalIdentity, IdentityError};

/// A link to store and mail.
pub struct LinkRequest<'a> {
    pub token_hash: &'a [u8],
    /// The contact holding `identity`.
    pub contact_id: Uuid,
    pub identity: &'a ExternalIdentity,
    pub address: &'a EmailAddress,
    pub link: &'a str,
    pub ttl: chrono::Duration,
}

/// A live link, as the portal shows it before it is used.
pub struct PendingLink {
    pub address: String,
    pub provider: String,
}

/// What a confirmed link did; each carries the contact that now holds the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The address was nobody's: it is the contact's verified primary address now.
    AddressAdded(Uuid),
    /// The address was the contact's already (another link did it, or it was given earlier).
    AlreadyLinked(Uuid),
    /// The address's contact took the identity and everything of `from`.
    Merged { from: Uuid, into: Uuid },
}

impl LinkOutcome {
    pub fn contact_id(self) -> Uuid {
        match self {
            Self::AddressAdded(id) | Self::AlreadyLinked(id) => id,
            Self::Merged { into, .. } => into,
        }
    }
}

impl Store {
    /// Stores the link and asks the mail service (through the outbox) to send it. Earlier live
    /// links of the identity expire. Returns whether a mail was requested: not for a blocked
    /// contact on either side, nor over `MAX_LINK_MAILS_PER_HOUR` per identity or per address.
    /// The mail greets the address's owner by the name identity knows, never by the Discord
    /// user's display name, which anyone can choose.
    #[tracing::instrument(skip_all, fields(contact = %r.contact_id), err)]
    pub async fn request_identity_link(&self, r: LinkRequest<'_>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Serialise per identity's contact, so concurrent requests cannot all pass the count.
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(r.contact_id)
            .fetch_optional(&mut *tx)
            .await?;
        let owner: Option<(String, String)> = sqlx::query_as(
            "SELECT c.name, c.status FROM contact_emails e JOIN contacts c ON c.id = e.contact_id
             WHERE e.address_normalized = $1",
        )
        .bind(r.address.normalized())
        .fetch_optional(&mut *tx)
        .await?;
        let blocked = |status: Option<&str>| status.is_none_or(|s| s == "blocked");
        if blocked(status.as_deref()) || owner.as_ref().is_some_and(|(_, status)| status == "blocked") {
            tracing::info!("identity link asked for by or for a blocked contact; nothing sent");
            return Ok(false);
        }
        let (by_identity, by_address): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE provider = $1 AND subject = $2),
                    count(*) FILTER (WHERE address_normalized = $3)
             FROM identity_links
             WHERE ((provider = $1 AND subject = $2) OR address_normalized = $3)
               AND created_at > now() - interval '1 hour'",
        )
        .bind(&r.identity.provider)
        .bind(&r.identity.subject)
        .bind(r.address.normalized())
        .fetch_one(&mut *tx)
        .await?;
        if by_identity >= MAX_LINK_MAILS_PER_HOUR || by_address >= MAX_LINK_MAILS_PER_HOUR {
            tracing::warn!(by_identity, by_address, "identity link mail limit reached; not sending");
            return Ok(false);
        }
        sqlx::query(
            "UPDATE identity_links SET expires_at = now()
             WHERE provider = $1 AND subject = $2 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(&r.identity.provider)
        .bind(&r.identity.subject)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO identity_links (token_hash, contact_id, provider, subject, address, address_normalized, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + $7)",
        )
        .bind(r.token_hash)
        .bind(r.contact_id)
        .bind(&r.identity.provider)
        .bind(&r.identity.subject)
        .bind(r.address.as_str())
        .bind(r.address.normalized())
        .bind(r.ttl)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Payload::AccountMailRequested(AccountMailRequested {
                kind: AccountMailKind::IdentityLink as i32,
                to_address: r.address.as_str().to_string(),
                to_name: owner.map(|(name, _)| name).unwrap_or_default(),
                link: r.link.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }

    /// The live link with this token; `LinkNotFound`, `LinkUsed` or `LinkExpired` otherwise.
    #[tracing::instrument(skip_all, err)]
    pub async fn identity_link(&self, token_hash: &[u8]) -> Result<PendingLink> {
        let row: Option<(String, String, bool, bool)> = sqlx::query_as(
            "SELECT address, provider, used_at IS NOT NULL, expires_at <= now() FROM identity_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Err(IdentityError::LinkNotFound),
            Some((_, _, true, _)) => Err(IdentityError::LinkUsed),
            Some((_, _, false, true)) => Err(IdentityError::LinkExpired),
            Some((address, provider, false, false)) => Ok(PendingLink { address, provider }),
        }
    }

    /// Uses the link: links the identity to the address (merging contacts where the address has
    /// one), see the module's header. The link stays unused when this fails.
    #[tracing::instrument(skip_all, err)]
    pub async fn confirm_identity_link(&self, token_hash: &[u8]) -> Result<LinkOutcome> {
        let mut tx = self.pool.begin().await?;
        let redeemed: Option<(String, String, String, String)> = sqlx::query_as(
            "UPDATE identity_links SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING provider, subject, address, address_normalized",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((provider, subject, address, address_normalized)) = redeemed else {
            tx.rollback().await?;
            // Not live: say why (or that there is no such link).
            self.identity_link(token_hash).await?;
            return Err(IdentityError::LinkUsed);
        };
        // The identity's holder now, which may differ from the one that asked (a merge since),
        // and the address's; both locked, in id order, so two links on the same pair cannot
        // deadlock. Another link may have moved either in between: then this one stays unused.
        let (from, owner) = holders(&mut tx, &provider, &subject, &address_normalized).await?;
        let from = from.ok_or(IdentityError::LinkRefused)?;
        let ids: Vec<Uuid> = std::iter::once(from).chain(owner).collect();
        let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = ANY ($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        if holders(&mut tx, &provider, &subject, &address_normalized).await? != (Some(from), owner) {
            return Err(anyhow!("another link moved the identity or the address meanwhile; try again").into());
        }
        if statuses.iter().any(|s| s == "blocked") {
            tracing::info!(contact = %from, "identity link refused: a blocked contact on one side");
            return Err(IdentityError::LinkRefused);
        }
        let linked = match owner {
            None => {
                add_verified_primary(&mut tx, from, &address, &address_normalized).await?;
                LinkOutcome::AddressAdded(from)
            }
            Some(owner) if owner == from => {
                sqlx::query("UPDATE contact_emails SET verified = true WHERE address_normalized = $1")
                    .bind(&address_normalized)
                    .execute(&mut *tx)
                    .await?;
                LinkOutcome::AlreadyLinked(from)
            }
            Some(into) => {
                merge(&mut tx, from, into, &address_normalized).await?;
                LinkOutcome::Merged { from, into }
            }
        };
        outbox::enqueue(&mut tx, Payload::ContactUpdated(ContactUpdated { contact_id: linked.contact_id().to_string() }))
            .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(linked)
    }
}

/// Who holds the identity, and who the address.
async fn holders(conn: &mut PgConnection, provider: &str, subject: &str, address: &str) -> Result<(Option<Uuid>, Option<Uuid>)> {
    let identity = sqlx::query_scalar("SELECT contact_id FROM external_identities WHERE provider = $1 AND subject = $2")
        .bind(provider)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await?;
    let address = sqlx::query_scalar("SELECT contact_id FROM contact_emails WHERE address_normalized = $1")
        .bind(address)
        .fetch_optional(&mut *conn)
        .await?;
    Ok((identity, address))
}

/// The proven address, nobody's before, as the contact's verified primary one; it may put the
/// contact in a group that auto-joins its domain.
async fn add_verified_primary(conn: &mut PgConnection, contact: Uuid, address: &str, normalized: &str) -> Result<()> {
    let added = sqlx::query(
        "INSERT INTO contact_emails (address_normalized, address, contact_id, is_primary, verified)
         VALUES ($1, $2, $3, true, true) ON CONFLICT DO NOTHING",
    )
    .bind(normalized)
    .bind(address)
    .bind(contact)
    .execute(&mut *conn)
    .await?;
    if added.rows_affected() == 0 {
        // Another contact took the address since it was looked up: the link stays unused, and
        // following it again merges into that contact.
        return Err(anyhow!("the address was claimed by another contact while the link was used").into());
    }
    sqlx::query("UPDATE contact_emails SET is_primary = (address_normalized = $2) WHERE contact_id = $1")
        .bind(contact)
        .bind(normalized)
        .execute(&mut *conn)
        .await?;
    groups::auto_join(conn, contact, &EmailAddress::parse(address)?).await?;
    Ok(())
}

/// Merges `from` into `into`: addresses (no longer primary), identities and group memberships
/// move; `from`'s sessions end; its row stays, marked, and so do the contacts merged into it
/// before (so `merged_into` always names a contact that is not merged itself). `into` takes
/// `from`'s name if it has none.
async fn merge(conn: &mut PgConnection, from: Uuid, into: Uuid, proven_address: &str) -> Result<()> {
    sqlx::query("UPDATE contact_emails SET verified = true WHERE address_normalized = $1")
        .bind(proven_address)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE external_identities SET contact_id = $2 WHERE contact_id = $1")
        .bind(from)
        .bind(into)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE contact_emails SET contact_id = $2, is_primary = false WHERE contact_id = $1")
        .bind(from)
        .bind(into)
        .execute(&mut *conn)
        .await?;
    groups::move_memberships(conn, from, into).await?;
    sessions::delete_all(conn, from, None).await?;
    sqlx::query(
        "UPDATE contacts SET name = (SELECT name FROM contacts WHERE id = $1), updated_at = now()
         WHERE id = $2 AND name = ''",
    )
    .bind(from)
    .bind(into)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE contacts SET merged_into = $2, updated_at = now(),
                merged_at = CASE WHEN id = $1 THEN now() ELSE merged_at END
         WHERE id = $1 OR merged_into = $1",
    )
    .bind(from)
    .bind(into)
    .execute(&mut *conn)
    .await?;
    outbox::enqueue(
        conn,
        Payload::ContactsMerged(ContactsMerged { from_contact_id: from.to_string(), into_contact_id: into.to_string() }),
    )
    .await?;
    tracing::info!(%from, %into, "contacts merged by an identity link");
    Ok(())
}
