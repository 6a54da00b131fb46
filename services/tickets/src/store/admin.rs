//! Statuses, priorities and categories (with their custom-field definitions): read by everyone
//! who files or views tickets, written by admins.

use sqlx::Row;
use uuid::Uuid;

use super::Store;
use crate::domain::{TicketError, fields::FieldDefinition};

#[derive(Debug, Clone)]
pub struct StatusRow {
    pub id: String,
    pub name: String,
    pub kind: i16,
    pub position: i32,
}

#[derive(Debug, Clone)]
pub struct PriorityRow {
    pub id: String,
    pub name: String,
    pub rank: i16,
    pub is_default: bool,
}

#[derive(Debug, Clone)]
pub struct CategoryRow {
    pub id: Uuid,
    pub name: String,
    pub fields: Vec<FieldDefinition>,
    pub active: bool,
}

impl Store {
    pub async fn statuses(&self) -> Result<Vec<StatusRow>, TicketError> {
        sqlx::query("SELECT id, name, kind, position FROM statuses ORDER BY position, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(StatusRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    position: r.try_get("position")?,
                })
            })
            .collect()
    }

    /// Creates or renames a status; changing its kind moves its tickets between the contact's
    /// queues at once.
    pub async fn upsert_status(&self, status: &StatusRow) -> Result<(), TicketError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO statuses (id, name, kind, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = $2, kind = $3, position = $4",
        )
        .bind(&status.id)
        .bind(&status.name)
        .bind(status.kind)
        .bind(status.position)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE tickets SET status_kind = $2 WHERE status = $1 AND status_kind <> $2")
            .bind(&status.id)
            .bind(status.kind)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    pub async fn priorities(&self) -> Result<Vec<PriorityRow>, TicketError> {
        sqlx::query("SELECT id, name, rank, is_default FROM priorities ORDER BY rank, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(PriorityRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    rank: r.try_get("rank")?,
                    is_default: r.try_get("is_default")?,
                })
            })
            .collect()
    }

    pub async fn upsert_priority(&self, priority: &PriorityRow) -> Result<(), TicketError> {
        let mut tx = self.pool.begin().await?;
        if priority.is_default {
            sqlx::query("UPDATE priorities SET is_default = false WHERE is_default AND id <> $1")
                .bind(&priority.id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO priorities (id, name, rank, is_default) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = $2, rank = $3, is_default = $4",
        )
        .bind(&priority.id)
        .bind(&priority.name)
        .bind(priority.rank)
        .bind(priority.is_default)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE tickets SET priority_rank = $2 WHERE priority = $1 AND priority_rank <> $2")
            .bind(&priority.id)
            .bind(priority.rank)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    pub async fn priority_exists(&self, id: &str) -> Result<bool, TicketError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM priorities WHERE id = $1)")
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn categories(&self) -> Result<Vec<CategoryRow>, TicketError> {
        let rows = sqlx::query("SELECT id, name, fields, active FROM categories ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(category_from_row).collect::<sqlx::Result<_>>()?)
    }

    pub async fn category(&self, id: Uuid) -> Result<Option<CategoryRow>, TicketError> {
        let row = sqlx::query("SELECT id, name, fields, active FROM categories WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(category_from_row).transpose()?)
    }

    /// An active category by its id, or else by its name (case-insensitive).
    pub async fn active_category_by_id_or_name(&self, wanted: &str) -> sqlx::Result<Option<Uuid>> {
        let id = Uuid::parse_str(wanted).ok();
        sqlx::query_scalar(
            "SELECT id FROM categories WHERE active AND (id = $1 OR lower(name) = lower($2))
             ORDER BY id = $1 DESC NULLS LAST, id LIMIT 1",
        )
        .bind(id)
        .bind(wanted)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn upsert_category(&self, category: &CategoryRow) -> Result<(), TicketError> {
        sqlx::query(
            "INSERT INTO categories (id, name, fields, active) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = $2, fields = $3, active = $4",
        )
        .bind(category.id)
        .bind(&category.name)
        .bind(sqlx::types::Json(&category.fields))
        .bind(category.active)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn category_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<CategoryRow> {
    let fields: sqlx::types::Json<Vec<FieldDefinition>> = row.try_get("fields")?;
    Ok(CategoryRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        fields: fields.0,
        active: row.try_get("active")?,
    })
}
