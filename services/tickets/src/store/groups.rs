//! Identity's contact groups, memberships and the settings tickets acts on, as tickets keeps them:
//! written only by the consumer of identity's events, read by visibility checks and self-close.

use uuid::Uuid;

use super::Store;
use crate::domain::TicketError;

impl Store {
    pub async fn set_group(&self, group: Uuid, share_tickets: bool) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO contact_groups (id, share_tickets) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET share_tickets = $2",
        )
        .bind(group)
        .bind(share_tickets)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_membership(&self, group: Uuid, contact: Uuid, member: bool) -> sqlx::Result<()> {
        if member {
            sqlx::query("INSERT INTO contact_groups (id) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(group)
                .execute(&self.pool)
                .await?;
            sqlx::query("INSERT INTO group_members (group_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(group)
                .bind(contact)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND contact_id = $2")
                .bind(group)
                .bind(contact)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Whether the contact is a member of the group (for group-scoped reads such as support time).
    pub async fn is_member(&self, group: Uuid, contact: Uuid) -> Result<bool, TicketError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND contact_id = $2)")
            .bind(group)
            .bind(contact)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Whether identity's events have told tickets about this group.
    pub async fn group_known(&self, group: Uuid) -> Result<bool, TicketError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact_groups WHERE id = $1)")
            .bind(group)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn set_contacts_may_close(&self, allowed: bool) -> sqlx::Result<()> {
        sqlx::query("UPDATE settings SET contacts_may_close = $1")
            .bind(allowed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
