//! The kb service's SQL: articles here, categories and feedback beside. Every change to an article
//! writes its `ArticleChanged` event to the outbox in the same transaction, which is what keeps
//! every replica's search index current. Visibility filters are applied in the queries, so a
//! hidden article is never fetched.
//!
//! Store methods answer [`KbError`]: an unexpected database failure becomes its `Database`
//! variant through `?`, and a violated constraint the caller can cause becomes the domain error it
//! means by the constraint's name, here beside the SQL that can violate it
//! ([`ConstraintExt::on_constraint`]).

mod categories;
mod feedback;

pub use categories::Category;
pub use feedback::Deflection;

use chrono::{DateTime, Utc};
use helpdesk_kit::{error::ConstraintExt, outbox};
use helpdesk_proto::events::v1::{ArticleChanged, event::Payload};
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::domain::{Audience, KbError, Status, Visibility};

type Result<T> = std::result::Result<T, KbError>;

/// The foreign key of an article's category: violated when the category named does not exist
/// (or was deleted while the article was written).
fn missing_category(constraint: &str) -> Option<KbError> {
    (constraint == "articles_category_id_fkey")
        .then(|| KbError::Invalid { field: "category_id", reason: "no such category".into() })
}

#[derive(Debug, Clone)]
pub struct Article {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub status: Status,
    pub visibility: Visibility,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The editable part of an article, complete (an update reads the article and changes fields).
#[derive(Debug, Clone)]
pub struct ArticleFields {
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub status: Status,
    pub visibility: Visibility,
}

const COLUMNS: &str =
    "id, slug, title, body_markdown, body_html, category_id, tags, status, visibility, created_at, updated_at";

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    relay: outbox::Waker,
}

async fn article_changed(tx: &mut PgConnection, id: Uuid, deleted: bool) -> sqlx::Result<()> {
    let payload = Payload::ArticleChanged(ArticleChanged { article_id: id.to_string(), deleted });
    outbox::enqueue(tx, payload).await.map(|_| ())
}

impl Store {
    pub fn new(pool: PgPool, relay: outbox::Waker) -> Self {
        Self { pool, relay }
    }

    /// Inserts the article under `slug`; `None` when another article has that slug.
    #[tracing::instrument(skip_all, err)]
    pub async fn create(&self, slug: &str, new: &ArticleFields) -> Result<Option<Article>> {
        let id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        let insert = sqlx::query(
            "INSERT INTO articles (id, slug, title, body_markdown, body_html, category_id, tags, status, visibility)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(id)
        .bind(slug);
        let inserted = bind_fields(insert, new).execute(&mut *tx).await.on_constraint(missing_category)?.rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        article_changed(&mut tx, id, false).await?;
        let article = fetch(&mut tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        self.relay.wake();
        Ok(Some(article))
    }

    /// Reads the article locked, lets `change` edit its fields, and writes them back with the
    /// event. `None` when there is no such article.
    #[tracing::instrument(skip_all, err)]
    pub async fn update(&self, id: Uuid, change: impl FnOnce(ArticleFields) -> ArticleFields) -> Result<Option<Article>> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM articles WHERE id = $1 FOR UPDATE");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let current = article_from_row(&row)?;
        let fields = ArticleFields {
            title: current.title,
            body_markdown: current.body_markdown,
            body_html: current.body_html,
            category_id: current.category_id,
            tags: current.tags,
            status: current.status,
            visibility: current.visibility,
        };
        let new = change(fields);
        let update = sqlx::query(
            "UPDATE articles SET title = $2, body_markdown = $3, body_html = $4, category_id = $5, tags = $6,
                    status = $7, visibility = $8, updated_at = now()
             WHERE id = $1",
        )
        .bind(id);
        bind_fields(update, &new).execute(&mut *tx).await.on_constraint(missing_category)?;
        article_changed(&mut tx, id, false).await?;
        let article = fetch(&mut tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        self.relay.wake();
        Ok(Some(article))
    }

    /// Deletes the article (and its feedback); false when there was none.
    #[tracing::instrument(skip(self), err)]
    pub async fn delete(&self, id: Uuid) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM articles WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        article_changed(&mut tx, id, true).await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }

    pub async fn by_id(&self, id: Uuid) -> Result<Option<Article>> {
        fetch(&mut *self.pool.acquire().await?, id).await
    }

    pub async fn by_slug(&self, slug: &str) -> Result<Option<Article>> {
        let sql = format!("SELECT {COLUMNS} FROM articles WHERE slug = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&self.pool).await?;
        row.map(|row| article_from_row(&row)).transpose()
    }

    /// A page of the articles `audience` may read, oldest first, after the article `after`.
    #[tracing::instrument(skip(self), err)]
    pub async fn list(
        &self,
        audience: Audience,
        category: Option<Uuid>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Article>> {
        let (statuses, visibilities) = audience.readable();
        let sql = format!(
            "SELECT {COLUMNS} FROM articles
             WHERE status = ANY($1) AND visibility = ANY($2)
               AND ($3::uuid IS NULL OR category_id = $3) AND ($4::uuid IS NULL OR id > $4)
             ORDER BY id LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&statuses)
            .bind(&visibilities)
            .bind(category)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(article_from_row).collect()
    }

    /// Every article, for rebuilding the search index.
    #[tracing::instrument(skip(self), err)]
    pub async fn all(&self) -> Result<Vec<Article>> {
        let sql = format!("SELECT {COLUMNS} FROM articles");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(article_from_row).collect()
    }
}

/// Binds the editable fields, in `ArticleFields` order, after the parameters already bound.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    new: &'q ArticleFields,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&new.title)
        .bind(&new.body_markdown)
        .bind(&new.body_html)
        .bind(new.category_id)
        .bind(&new.tags)
        .bind(new.status as i16)
        .bind(new.visibility as i16)
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Option<Article>> {
    let sql = format!("SELECT {COLUMNS} FROM articles WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.map(|row| article_from_row(&row)).transpose()
}

fn article_from_row(row: &PgRow) -> Result<Article> {
    Ok(Article {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        body_markdown: row.try_get("body_markdown")?,
        body_html: row.try_get("body_html")?,
        category_id: row.try_get("category_id")?,
        tags: row.try_get("tags")?,
        status: Status::from_stored(row.try_get("status")?),
        visibility: Visibility::from_stored(row.try_get("visibility")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
