//! Single sign-on state: pending logins keyed by the hash of their `state` (taken exactly once),
//! links between provider subjects and contacts, sign-ins that wait for a verified address, and
//! the sign-in transaction itself.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Store, accounts::NewSession, sessions};

/// A pending login, returned once when its state comes back.
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
}

pub struct PendingIdentity {
    pub provider: String,
    pub subject: String,
    pub name: String,
}

/// Opens a session for a contact signed in by a provider: the contact must not be blocked; a
/// pending contact becomes active (the provider vouched for it); a verified address is marked so.
async fn sign_in(
    conn: &mut PgConnection,
    contact_id: Uuid,
    verified_address: Option<&str>,
    session: NewSession<'_>,
) -> sqlx::Result<Option<sessions::SessionTimes>> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
        .bind(contact_id)
        .fetch_optional(&mut *conn)
        .await?;
    if status.as_deref() != Some("active") && status.as_deref() != Some("pending_activation") {
        return Ok(None);
    }
    sqlx::query("UPDATE contacts SET status = 'active', updated_at = now() WHERE id = $1 AND status = 'pending_activation'")
        .bind(contact_id)
        .execute(&mut *conn)
        .await?;
    if let Some(address) = verified_address {
        sqlx::query("UPDATE contact_emails SET verified = true WHERE contact_id = $1 AND address_normalized = lower($2)")
            .bind(contact_id)
            .bind(address)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(sessions::create(conn, session.id_hash, contact_id, session.idle, session.absolute).await?))
}

/// Links a subject to a contact; false when the subject already belongs to another contact.
async fn link(conn: &mut PgConnection, contact_id: Uuid, provider: &str, subject: &str) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO external_identities (provider, subject, contact_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(subject)
    .bind(contact_id)
    .execute(&mut *conn)
    .await?;
    let owner: Option<Uuid> =
        sqlx::query_scalar("SELECT contact_id FROM external_identities WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(owner == Some(contact_id))
}

impl Store {
    pub async fn begin_sso_login(
        &self,
        state_hash: &[u8],
        provider: &str,
        pending: &PendingLogin,
        ttl: chrono::Duration,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sso_logins WHERE expires_at < now()")
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sso_logins (state_hash, provider, nonce, pkce_verifier, redirect_uri, expires_at)
             VALUES ($1, $2, $3, $4, $5, now() + $6)",
        )
        .bind(state_hash)
        .bind(provider)
        .bind(&pending.nonce)
        .bind(&pending.pkce_verifier)
        .bind(&pending.redirect_uri)
        .bind(ttl)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pending login of this state, consumed: a state works once, for its own provider, in time.
    pub async fn take_sso_login(&self, state_hash: &[u8], provider: &str) -> sqlx::Result<Option<PendingLogin>> {
        let row: Option<(String, String, String, String, bool)> = sqlx::query_as(
            "DELETE FROM sso_logins WHERE state_hash = $1
             RETURNING provider, nonce, pkce_verifier, redirect_uri, expires_at > now()",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .filter(|(p, _, _, _, live)| p == provider && *live)
            .map(|(_, nonce, pkce_verifier, redirect_uri, _)| PendingLogin {
                nonce,
                pkce_verifier,
                redirect_uri,
            }))
    }

    pub async fn contact_by_identity(&self, provider: &str, subject: &str) -> sqlx::Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT contact_id FROM external_identities WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
    }

    /// Links the subject to the contact (unless it is someone else's) and opens a session.
    #[tracing::instrument(skip(self, session), err)]
    pub async fn sso_sign_in(
        &self,
        contact_id: Uuid,
        provider: &str,
        subject: &str,
        verified_address: Option<&str>,
        session: NewSession<'_>,
    ) -> sqlx::Result<Option<sessions::SessionTimes>> {
        let mut tx = self.pool.begin().await?;
        if !link(&mut tx, contact_id, provider, subject).await? {
            return Ok(None);
        }
        let times = sign_in(&mut tx, contact_id, verified_address, session).await?;
        if times.is_some() {
            tx.commit().await?;
        }
        Ok(times)
    }

    pub async fn save_pending_identity(
        &self,
        ticket_hash: &[u8],
        pending: &PendingIdentity,
        ttl: chrono::Duration,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sso_pending_identities WHERE expires_at < now()")
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sso_pending_identities (ticket_hash, provider, subject, name, expires_at)
             VALUES ($1, $2, $3, $4, now() + $5)",
        )
        .bind(ticket_hash)
        .bind(&pending.provider)
        .bind(&pending.subject)
        .bind(&pending.name)
        .bind(ttl)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn take_pending_identity(&self, ticket_hash: &[u8]) -> sqlx::Result<Option<PendingIdentity>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "DELETE FROM sso_pending_identities WHERE ticket_hash = $1 AND expires_at > now()
             RETURNING provider, subject, name",
        )
        .bind(ticket_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(provider, subject, name)| PendingIdentity { provider, subject, name }))
    }

    /// Redeems an email-verification link: links the SSO subject it carries to the address's
    /// contact and signs in.
    #[tracing::instrument(skip_all, err)]
    pub async fn redeem_email_verification(
        &self,
        token_hash: &[u8],
        session: NewSession<'_>,
    ) -> sqlx::Result<Option<(Uuid, sessions::SessionTimes)>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(Uuid, String, Option<String>, Option<String>)> = sqlx::query_as(
            "UPDATE link_tokens SET used_at = now()
             WHERE token_hash = $1 AND kind = 'email_verification' AND used_at IS NULL AND expires_at > now()
             RETURNING contact_id, address, sso_provider, sso_subject",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((contact_id, address, Some(provider), Some(subject))) = row else {
            return Ok(None);
        };
        if !link(&mut tx, contact_id, &provider, &subject).await? {
            return Ok(None);
        }
        let Some(times) = sign_in(&mut tx, contact_id, Some(&address), session).await? else {
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some((contact_id, times)))
    }
}
