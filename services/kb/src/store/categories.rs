//! KB categories: created by staff, listed by everyone, in their `position` order then by name.

use sqlx::Row;
use uuid::Uuid;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub position: i32,
}

impl Store {
    /// Inserts the category under `slug`, placed after the existing ones; `None` when another
    /// category has that slug.
    #[tracing::instrument(skip(self, description), err)]
    pub async fn create_category(&self, name: &str, slug: &str, description: &str) -> Result<Option<Category>> {
        let row = sqlx::query(
            "INSERT INTO categories (id, name, slug, description, position)
             SELECT $1, $2, $3, $4, coalesce(max(position) + 1, 0) FROM categories
             ON CONFLICT (slug) DO NOTHING
             RETURNING id, name, slug, description, position",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(slug)
        .bind(description)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(category_from_row).transpose()
    }

    pub async fn categories(&self) -> Result<Vec<Category>> {
        sqlx::query("SELECT id, name, slug, description, position FROM categories ORDER BY position, name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(category_from_row)
            .collect()
    }
}

fn category_from_row(row: &sqlx::postgres::PgRow) -> Result<Category> {
    Ok(Category {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        description: row.try_get("description")?,
        position: row.try_get("position")?,
    })
}
