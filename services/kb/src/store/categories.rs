//! KB categories: created by staff, listed by everyone, in their `position` order then by name.

use sqlx::Row;
use uuid::Uuid;

use super::Store;

#[derive(Debug, Clone)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub position: i32,
}

impl Store {
    /// Inserts the category under `slug`, or under the slug plus part of its id when taken. It is
    /// placed after the existing ones.
    #[tracing::instrument(skip(self, description), err)]
    pub async fn create_category(&self, name: &str, slug: &str, description: &str) -> sqlx::Result<Category> {
        let id = Uuid::now_v7();
        let simple = id.simple().to_string();
        let unique = format!("{slug}-{}", &simple[simple.len() - 8..]);
        let mut tx = self.pool.begin().await?;
        for slug in [slug, unique.as_str()] {
            let inserted = sqlx::query(
                "INSERT INTO categories (id, name, slug, description, position)
                 SELECT $1, $2, $3, $4, coalesce(max(position) + 1, 0) FROM categories
                 ON CONFLICT (slug) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(slug)
            .bind(description)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                break;
            }
        }
        let row = sqlx::query("SELECT id, name, slug, description, position FROM categories WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        category_from_row(&row)
    }

    pub async fn categories(&self) -> sqlx::Result<Vec<Category>> {
        sqlx::query("SELECT id, name, slug, description, position FROM categories ORDER BY position, name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(category_from_row)
            .collect()
    }
}

fn category_from_row(row: &sqlx::postgres::PgRow) -> sqlx::Result<Category> {
    Ok(Category {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        description: row.try_get("description")?,
        position: row.try_get("position")?,
    })
}
