//! Accounts: password hashes, the single-use link tokens of activation and reset mail, and the
//! transactions of the account flows. A link token is consumed by an `UPDATE … WHERE used_at IS
//! NULL AND expires_at > now()`, so two concurrent uses cannot both succeed.

use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, event::Payload};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, sessions};
use crate::domain::ContactStatus;

/// Link mails of one kind to one contact per hour.
pub const MAX_LINK_MAILS_PER_HOUR: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Activation,
    PasswordReset,
    /// Proves an address for a single sign-on whose provider gave no verified email.
    EmailVerification,
}

impl LinkKind {
    fn as_db(self) -> &'static str {
        match self {
            Self::Activation => "activation",
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }

    fn mail_kind(self) -> AccountMailKind {
        match self {
            Self::Activation => AccountMailKind::Activation,
            Self::PasswordReset => AccountMailKind::PasswordReset,
            Self::EmailVerification => AccountMailKind::EmailVerification,
        }
    }
}

/// What a link mail needs: the token already drawn, where it goes, and the link carrying it.
pub struct LinkMail<'a> {
    pub kind: LinkKind,
    pub token_hash: &'a [u8],
    pub contact_id: Uuid,
    pub to_address: &'a str,
    pub to_name: &'a str,
    pub link: &'a str,
    pub ttl: chrono::Duration,
    /// For email verification: the (provider, subject) to link once the address is proven.
    pub sso: Option<(&'a str, &'a str)>,
}

/// A new session to open in the same transaction as the change that signs the contact in.
pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub idle: chrono::Duration,
    pub absolute: chrono::Duration,
}

/// The stored login data of an address.
pub struct Credentials {
    pub contact_id: Uuid,
    pub password_hash: String,
    pub active: bool,
}

impl Store {
    /// Stores the link token and asks the mail service (through the outbox) to send the link.
    /// Earlier unused links of the same kind for the contact stop working. At most
    /// `MAX_LINK_MAILS_PER_HOUR` of a kind go to one contact per hour, so nobody can flood an
    /// inbox through the sign-up or reset form; over that, nothing is sent (the caller still
    /// answers as always). Returns whether a mail was requested.
    #[tracing::instrument(skip_all, fields(kind = ?mail.kind), err)]
    pub async fn send_link(&self, mail: LinkMail<'_>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Serialise per contact, so concurrent requests cannot all pass the count.
        sqlx::query("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(mail.contact_id)
            .execute(&mut *tx)
            .await?;
        let recent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM link_tokens WHERE contact_id = $1 AND kind = $2 AND created_at > now() - interval '1 hour'",
        )
        .bind(mail.contact_id)
        .bind(mail.kind.as_db())
        .fetch_one(&mut *tx)
        .await?;
        if recent >= MAX_LINK_MAILS_PER_HOUR {
            tracing::warn!(contact = %mail.contact_id, kind = ?mail.kind, "link mail limit reached; not sending");
            return Ok(false);
        }
        sqlx::query("UPDATE link_tokens SET used_at = now() WHERE contact_id = $1 AND kind = $2 AND used_at IS NULL")
            .bind(mail.contact_id)
            .bind(mail.kind.as_db())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, kind, contact_id, address, expires_at, sso_provider, sso_subject)
             VALUES ($1, $2, $3, $4, now() + $5, $6, $7)",
        )
        .bind(mail.token_hash)
        .bind(mail.kind.as_db())
        .bind(mail.contact_id)
        .bind(mail.to_address)
        .bind(mail.ttl)
        .bind(mail.sso.map(|(provider, _)| provider))
        .bind(mail.sso.map(|(_, subject)| subject))
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Payload::AccountMailRequested(AccountMailRequested {
                kind: mail.kind.mail_kind() as i32,
                to_address: mail.to_address.to_string(),
                to_name: mail.to_name.to_string(),
                link: mail.link.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }

    /// Redeems a link token and sets the password: activation also activates the contact and
    /// verifies the address; both kinds end every other session and open a new one. `None` when
    /// the token is unknown, used, expired, of another kind, or the contact is blocked.
    #[tracing::instrument(skip_all, fields(kind = ?kind), err)]
    pub async fn redeem_link(
        &self,
        kind: LinkKind,
        token_hash: &[u8],
        password_hash: &str,
        session: NewSession<'_>,
    ) -> Result<Option<(Uuid, sessions::SessionTimes)>> {
        let mut tx = self.pool.begin().await?;
        let redeemed: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE link_tokens SET used_at = now()
             WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > now()
             RETURNING contact_id, address",
        )
        .bind(token_hash)
        .bind(kind.as_db())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((contact_id, address)) = redeemed else {
            return Ok(None);
        };
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact_id)
            .fetch_optional(&mut *tx)
            .await?;
        match (kind, status.as_deref()) {
            (_, None | Some("blocked")) => return Ok(None),
            (LinkKind::PasswordReset, Some("pending_activation")) => return Ok(None),
            _ => {}
        }
        if kind == LinkKind::Activation {
            sqlx::query("UPDATE contacts SET status = 'active', updated_at = now() WHERE id = $1")
                .bind(contact_id)
                .execute(&mut *tx)
                .await?;
        }
        // Following the link proves the address, for resets as much as for activation.
        sqlx::query("UPDATE contact_emails SET verified = true WHERE contact_id = $1 AND address_normalized = lower($2)")
            .bind(contact_id)
            .bind(&address)
            .execute(&mut *tx)
            .await?;
        set_password(&mut tx, contact_id, password_hash).await?;
        sessions::delete_all(&mut tx, contact_id, None).await?;
        let times = sessions::create(&mut tx, session.id_hash, contact_id, session.idle, session.absolute).await?;
        tx.commit().await?;
        Ok(Some((contact_id, times)))
    }

    /// The login data of the contact holding this address, if it has an account.
    pub async fn credentials(&self, address_normalized: &str) -> Result<Option<Credentials>> {
        let row: Option<(Uuid, String, String)> = sqlx::query_as(
            "SELECT c.id, a.password_hash, c.status
             FROM contact_emails e JOIN contacts c ON c.id = e.contact_id JOIN accounts a ON a.contact_id = c.id
             WHERE e.address_normalized = $1",
        )
        .bind(address_normalized)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(contact_id, password_hash, status)| Credentials {
            contact_id,
            password_hash,
            active: status == "active",
        }))
    }

    pub async fn password_hash_of(&self, contact_id: Uuid) -> Result<Option<String>> {
        let hash = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE contact_id = $1")
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(hash)
    }

    pub async fn open_session(&self, contact_id: Uuid, session: NewSession<'_>) -> Result<sessions::SessionTimes> {
        let mut conn = self.pool.acquire().await?;
        Ok(sessions::create(&mut conn, session.id_hash, contact_id, session.idle, session.absolute).await?)
    }

    /// Sets a new password and ends every session but `keep`.
    #[tracing::instrument(skip_all, err)]
    pub async fn change_password(&self, contact_id: Uuid, password_hash: &str, keep: Option<&[u8]>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        set_password(&mut tx, contact_id, password_hash).await?;
        sessions::delete_all(&mut tx, contact_id, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An admin's "set this contact's password": activates a contact pending activation, sets the
    /// password and ends every session. Returns the contact's status before, `None` for no such
    /// contact; a blocked contact is left as it is.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_password_for(&self, contact_id: Uuid, password_hash: &str) -> Result<Option<ContactStatus>> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(status) = status.as_deref().map(ContactStatus::from_db) else {
            return Ok(None);
        };
        if status == ContactStatus::Blocked {
            return Ok(Some(status));
        }
        sqlx::query("UPDATE contacts SET status = 'active', updated_at = now() WHERE id = $1")
            .bind(contact_id)
            .execute(&mut *tx)
            .await?;
        set_password(&mut tx, contact_id, password_hash).await?;
        sessions::delete_all(&mut tx, contact_id, None).await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// Blocks or unblocks a contact; blocking ends all its sessions in the same transaction.
    /// Unblocking returns it to active if it has an account, else to pending. A change of the
    /// block state goes on the revocation list, so its tokens stop (or, once unblocked, new ones
    /// start) working everywhere.
    #[tracing::instrument(skip(self), err)]
    pub async fn set_blocked(&self, contact_id: Uuid, blocked: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(status) = status else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE contacts SET updated_at = now(), status = CASE
                 WHEN $2 THEN 'blocked'
                 WHEN EXISTS (SELECT 1 FROM accounts WHERE contact_id = $1) THEN 'active'
                 ELSE 'pending_activation' END
             WHERE id = $1",
        )
        .bind(contact_id)
        .bind(blocked)
        .execute(&mut *tx)
        .await?;
        if blocked {
            sessions::delete_all(&mut tx, contact_id, None).await?;
        }
        if (status == "blocked") != blocked {
            super::revocations::record(&mut tx, contact_id, blocked).await?;
        }
        outbox::enqueue(
            &mut tx,
            Payload::ContactUpdated(helpdesk_proto::events::v1::ContactUpdated {
                contact_id: contact_id.to_string(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }
}

async fn set_password(conn: &mut PgConnection, contact_id: Uuid, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO accounts (contact_id, password_hash) VALUES ($1, $2)
         ON CONFLICT (contact_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()",
    )
    .bind(contact_id)
    .bind(password_hash)
    .execute(conn)
    .await?;
    Ok(())
}
