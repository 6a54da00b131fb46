//! The kb service's SQL. Search is Postgres full text (`websearch_to_tsquery`, title weighted
//! above body) with visibility applied in the query itself, so a hidden article is never fetched.

use chrono::{DateTime, Utc};
use helpdesk_kit::outbox;
use helpdesk_proto::events::v1::{ArticleChanged, event::Payload};
use sqlx::{PgPool, Row, postgres::PgRow};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Article {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub status: i16,
    pub visibility: i16,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewArticle {
    pub slug: String,
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub status: i16,
    pub visibility: i16,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    /// `ts_headline` output with `\u{1}`/`\u{2}` around matches, not yet escaped.
    pub marked_snippet: String,
    pub score: f32,
}

/// Statuses and visibilities the caller may read.
pub struct Readable<'a> {
    pub statuses: &'a [i16],
    pub visibilities: &'a [i16],
}

const COLUMNS: &str =
    "id, slug, title, body_markdown, body_html, category_id, tags, status, visibility, created_at, updated_at";

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    relay: outbox::Waker,
}

impl Store {
    pub fn new(pool: PgPool, relay: outbox::Waker) -> Self {
        Self { pool, relay }
    }

    /// Inserts the article; if its slug is taken, retries once with a short unique suffix.
    #[tracing::instrument(skip_all, err)]
    pub async fn create(&self, mut new: NewArticle) -> sqlx::Result<Article> {
        let id = Uuid::now_v7();
        for attempt in 0..2 {
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO articles (id, slug, title, body_markdown, body_html, category_id, tags, status, visibility)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (slug) DO NOTHING",
            )
            .bind(id)
            .bind(&new.slug)
            .bind(&new.title)
            .bind(&new.body_markdown)
            .bind(&new.body_html)
            .bind(new.category_id)
            .bind(&new.tags)
            .bind(new.status)
            .bind(new.visibility)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 && attempt == 0 {
                tx.rollback().await?;
                let simple = id.simple().to_string();
                new.slug = format!("{}-{}", new.slug, &simple[simple.len() - 6..]);
                continue;
            }
            outbox::enqueue(
                &mut tx,
                Payload::ArticleChanged(ArticleChanged {
                    article_id: id.to_string(),
                    deleted: false,
                }),
            )
            .await?;
            tx.commit().await?;
            self.relay.wake();
            break;
        }
        self.by_id(id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn by_id(&self, id: Uuid) -> sqlx::Result<Option<Article>> {
        let sql = format!("SELECT {COLUMNS} FROM articles WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| article_from_row(&row))
            .transpose()
    }

    pub async fn by_slug(&self, slug: &str) -> sqlx::Result<Option<Article>> {
        let sql = format!("SELECT {COLUMNS} FROM articles WHERE slug = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| article_from_row(&row))
            .transpose()
    }

    #[tracing::instrument(skip(self, readable), err)]
    pub async fn search(&self, query: &str, readable: Readable<'_>, limit: u32) -> sqlx::Result<Vec<Hit>> {
        sqlx::query(
            "SELECT a.id, a.slug, a.title,
                    ts_headline('english', a.body_markdown, q,
                                'StartSel=\u{1}, StopSel=\u{2}, MaxWords=30, MinWords=12, MaxFragments=1') AS snippet,
                    ts_rank(a.search, q) AS score
             FROM articles a, websearch_to_tsquery('english', $1) q
             WHERE a.search @@ q AND a.status = ANY($2) AND a.visibility = ANY($3)
             ORDER BY score DESC, a.id
             LIMIT $4",
        )
        .bind(query)
        .bind(readable.statuses)
        .bind(readable.visibilities)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Hit {
                id: row.try_get("id")?,
                slug: row.try_get("slug")?,
                title: row.try_get("title")?,
                marked_snippet: row.try_get("snippet")?,
                score: row.try_get("score")?,
            })
        })
        .collect()
    }
}

fn article_from_row(row: &PgRow) -> sqlx::Result<Article> {
    Ok(Article {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        body_markdown: row.try_get("body_markdown")?,
        body_html: row.try_get("body_html")?,
        category_id: row.try_get("category_id")?,
        tags: row.try_get("tags")?,
        status: row.try_get("status")?,
        visibility: row.try_get("visibility")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
