//! Contact groups and their members. Membership changes (explicit or by email-domain auto-join)
//! publish `GroupMembershipChanged` in the same transaction, so tickets can enforce group
//! visibility from events alone.

use helpdesk_kit::{error::ConstraintExt, outbox};
use helpdesk_proto::events::v1::{GroupMembershipChanged, GroupUpdated, event::Payload};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::{Result, Store};
use crate::domain::{EmailAddress, IdentityError, groups::Group};

/// The unique index on a group's lower-cased name.
fn name_taken(constraint: &str) -> Option<IdentityError> {
    (constraint == "contact_groups_name").then_some(IdentityError::AlreadyExists("a group with this name"))
}

fn group_from_row(row: &PgRow, member_ids: Vec<Uuid>) -> Group {
    Group {
        id: row.get("id"),
        name: row.get("name"),
        share_tickets: row.get("share_tickets"),
        auto_join_domains: row.get("auto_join_domains"),
        member_ids,
        created_at: row.get("created_at"),
    }
}

async fn membership_event(conn: &mut PgConnection, group_id: Uuid, contact_id: Uuid, member: bool) -> sqlx::Result<()> {
    outbox::enqueue(
        conn,
        Payload::GroupMembershipChanged(GroupMembershipChanged {
            group_id: group_id.to_string(),
            contact_id: contact_id.to_string(),
            member,
        }),
    )
    .await?;
    Ok(())
}

async fn updated_event(conn: &mut PgConnection, group: &PgRow) -> sqlx::Result<()> {
    outbox::enqueue(
        conn,
        Payload::GroupUpdated(GroupUpdated {
            group_id: group.get::<Uuid, _>("id").to_string(),
            name: group.get("name"),
            share_tickets: group.get("share_tickets"),
        }),
    )
    .await?;
    Ok(())
}

/// Adds a new contact to every group whose auto-join domains include its address's domain.
pub async fn auto_join(conn: &mut PgConnection, contact_id: Uuid, address: &EmailAddress) -> sqlx::Result<()> {
    let joined: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO group_members (group_id, contact_id)
         SELECT id, $1 FROM contact_groups WHERE $2 = ANY (auto_join_domains)
         ON CONFLICT DO NOTHING RETURNING group_id",
    )
    .bind(contact_id)
    .bind(address.domain())
    .fetch_all(&mut *conn)
    .await?;
    for group_id in joined {
        membership_event(conn, group_id, contact_id, true).await?;
    }
    Ok(())
}

/// A merge (`identity_links`): `from`'s memberships become `into`'s, each change announced.
pub async fn move_memberships(conn: &mut PgConnection, from: Uuid, into: Uuid) -> sqlx::Result<()> {
    let left: Vec<Uuid> = sqlx::query_scalar("DELETE FROM group_members WHERE contact_id = $1 RETURNING group_id")
        .bind(from)
        .fetch_all(&mut *conn)
        .await?;
    for &group_id in &left {
        membership_event(conn, group_id, from, false).await?;
    }
    let joined: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO group_members (group_id, contact_id) SELECT unnest($1::uuid[]), $2
         ON CONFLICT DO NOTHING RETURNING group_id",
    )
    .bind(&left)
    .bind(into)
    .fetch_all(&mut *conn)
    .await?;
    for group_id in joined {
        membership_event(conn, group_id, into, true).await?;
    }
    Ok(())
}

/// Adds every existing contact with an address in `domains` to the group.
async fn join_existing(conn: &mut PgConnection, group_id: Uuid, domains: &[String]) -> sqlx::Result<()> {
    if domains.is_empty() {
        return Ok(());
    }
    let joined: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO group_members (group_id, contact_id)
         SELECT DISTINCT $1::uuid, contact_id FROM contact_emails
         WHERE split_part(address_normalized, '@', 2) = ANY ($2)
         ON CONFLICT DO NOTHING RETURNING contact_id",
    )
    .bind(group_id)
    .bind(domains)
    .fetch_all(&mut *conn)
    .await?;
    for contact_id in joined {
        membership_event(conn, group_id, contact_id, true).await?;
    }
    Ok(())
}

/// What an update changes; `None` leaves a field alone.
pub struct GroupChanges {
    pub name: Option<String>,
    pub share_tickets: Option<bool>,
    pub auto_join_domains: Option<Vec<String>>,
}

impl Store {
    /// `None` when a group with this name (case-insensitively) exists.
    #[tracing::instrument(skip(self), err)]
    pub async fn create_group(&self, name: &str, share_tickets: bool, domains: &[String]) -> Result<Option<Group>> {
        let mut tx = self.pool.begin().await?;
        let id = Uuid::now_v7();
        let row = sqlx::query(
            "INSERT INTO contact_groups (id, name, share_tickets, auto_join_domains) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING id, name, share_tickets, auto_join_domains, created_at",
        )
        .bind(id)
        .bind(name)
        .bind(share_tickets)
        .bind(domains)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        updated_event(&mut tx, &row).await?;
        join_existing(&mut tx, id, domains).await?;
        tx.commit().await?;
        self.relay.wake();
        self.group(id).await
    }

    pub async fn group(&self, id: Uuid) -> Result<Option<Group>> {
        let Some(row) = sqlx::query("SELECT id, name, share_tickets, auto_join_domains, created_at FROM contact_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let members = sqlx::query_scalar("SELECT contact_id FROM group_members WHERE group_id = $1 ORDER BY added_at, contact_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(Some(group_from_row(&row, members)))
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM contact_groups ORDER BY lower(name)")
            .fetch_all(&self.pool)
            .await?;
        let mut groups = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(group) = self.group(id).await? {
                groups.push(group);
            }
        }
        Ok(groups)
    }

    /// `None` when no such group; a rename onto another group's name (case-insensitively) is
    /// `AlreadyExists`.
    #[tracing::instrument(skip(self, changes), err)]
    pub async fn update_group(&self, id: Uuid, changes: GroupChanges) -> Result<Option<Group>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE contact_groups SET name = COALESCE($2, name), share_tickets = COALESCE($3, share_tickets),
                 auto_join_domains = COALESCE($4, auto_join_domains)
             WHERE id = $1 RETURNING id, name, share_tickets, auto_join_domains, created_at",
        )
        .bind(id)
        .bind(changes.name)
        .bind(changes.share_tickets)
        .bind(changes.auto_join_domains.as_deref())
        .fetch_optional(&mut *tx)
        .await
        .on_constraint(name_taken)?;
        let Some(row) = row else { return Ok(None) };
        updated_event(&mut tx, &row).await?;
        if let Some(domains) = &changes.auto_join_domains {
            join_existing(&mut tx, id, domains).await?;
        }
        tx.commit().await?;
        self.relay.wake();
        self.group(id).await
    }

    /// Adds or removes a member; `None` when the group or the contact does not exist.
    #[tracing::instrument(skip(self), err)]
    pub async fn set_member(&self, group_id: Uuid, contact_id: Uuid, member: bool) -> Result<Option<Group>> {
        let mut tx = self.pool.begin().await?;
        let both_exist: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM contact_groups WHERE id = $1) AND EXISTS (SELECT 1 FROM contacts WHERE id = $2)",
        )
        .bind(group_id)
        .bind(contact_id)
        .fetch_one(&mut *tx)
        .await?;
        if !both_exist {
            return Ok(None);
        }
        let changed = if member {
            sqlx::query("INSERT INTO group_members (group_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        } else {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND contact_id = $2")
        }
        .bind(group_id)
        .bind(contact_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if changed {
            membership_event(&mut tx, group_id, contact_id, member).await?;
        }
        tx.commit().await?;
        self.relay.wake();
        self.group(group_id).await
    }
}
