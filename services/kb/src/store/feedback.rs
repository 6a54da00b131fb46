//! Suggestion analytics: impressions, clicks and "this answered my question" per article, and the
//! deflection report over them. One row per signal keeps recording a plain insert; the report
//! aggregates.

use chrono::{DateTime, Utc};
use helpdesk_kit::error::ConstraintExt;
use sqlx::Row;
use uuid::Uuid;

use super::{Result, Store};
use crate::domain::{FeedbackKind, KbError};

#[derive(Debug, Clone)]
pub struct Deflection {
    pub article_id: Uuid,
    pub title: String,
    pub impressions: i64,
    pub clicks: i64,
    pub answered: i64,
}

impl Store {
    /// `NotFound("article")` when the article is gone (deleted since the caller looked).
    #[tracing::instrument(skip(self, query), err)]
    pub async fn record_feedback(&self, article_id: Uuid, kind: FeedbackKind, query: &str) -> Result<()> {
        sqlx::query("INSERT INTO feedback (article_id, kind, query) VALUES ($1, $2, $3)")
            .bind(article_id)
            .bind(kind as i16)
            .bind(query)
            .execute(&self.pool)
            .await
            .on_constraint(|name| (name == "feedback_article_id_fkey").then_some(KbError::NotFound("article")))?;
        Ok(())
    }

    /// Per article with any feedback since `since`: the counts, most answered first.
    #[tracing::instrument(skip(self), err)]
    pub async fn deflection(&self, since: Option<DateTime<Utc>>) -> Result<Vec<Deflection>> {
        sqlx::query(
            "SELECT a.id, a.title,
                    count(*) FILTER (WHERE f.kind = 1) AS impressions,
                    count(*) FILTER (WHERE f.kind = 2) AS clicks,
                    count(*) FILTER (WHERE f.kind = 3) AS answered
             FROM feedback f JOIN articles a ON a.id = f.article_id
             WHERE $1::timestamptz IS NULL OR f.created_at >= $1
             GROUP BY a.id, a.title
             ORDER BY answered DESC, clicks DESC, impressions DESC, a.id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Deflection {
                article_id: row.try_get("id")?,
                title: row.try_get("title")?,
                impressions: row.try_get("impressions")?,
                clicks: row.try_get("clicks")?,
                answered: row.try_get("answered")?,
            })
        })
        .collect()
    }
}
