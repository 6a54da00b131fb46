//! The kb service's gRPC surface: `KbService`, whose methods delegate to the handlers in
//! `articles`, `categories` and `search`; the one mapping from [`KbError`] to `Status`; and
//! proto ⇄ domain conversions in `convert`. Every handler decides from the caller what it may
//! read or do — the gateway only forwards the caller's token.
//!
//! Handlers answer `Result<_, KbError>` and use bare `?` on the store, the index and the domain
//! rules alike; the trait methods here turn the error into a `Status` once. Unexpected failures
//! (`Database`, `Internal`) are logged in full and answered opaque with a reference id.

mod articles;
mod categories;
mod convert;
mod search;

use std::sync::Arc;

use helpdesk_proto::kb::v1::{self as pb, kb_service_server::KbService};
use tonic::{Request, Response, Status};

use crate::{domain::KbError, events::Indexer, index::SearchIndex, store::Store};

impl From<KbError> for Status {
    fn from(error: KbError) -> Self {
        match error {
            KbError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            KbError::NotFound(what) => helpdesk_kit::error::not_found(what),
            KbError::Taken { .. } => Status::already_exists(error.to_string()),
            KbError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            KbError::PermissionDenied => helpdesk_kit::error::permission_denied(),
            KbError::Database(error) => helpdesk_kit::error::internal(error),
            KbError::Internal(error) => helpdesk_kit::error::internal(error),
        }
    }
}

/// What every handler answers: its response, or the domain error the trait method maps.
type Answer<T> = Result<Response<T>, KbError>;

pub struct KbGrpc {
    store: Store,
    index: Arc<SearchIndex>,
    indexer: Indexer,
}

impl KbGrpc {
    pub fn new(store: Store, index: Arc<SearchIndex>, indexer: Indexer) -> Self {
        Self { store, index, indexer }
    }

    /// Updates this instance's index right after a write; the event does it everywhere else (and
    /// here too, harmlessly), so a failure here only delays the change.
    async fn reindex(&self, id: uuid::Uuid) {
        if let Err(error) = self.indexer.refresh(&[id].into()).await {
            tracing::warn!(%error, %id, "could not refresh the index now; the event will");
        }
    }
}

#[tonic::async_trait]
impl KbService for KbGrpc {
    async fn create_category(&self, request: Request<pb::CreateCategoryRequest>) -> Result<Response<pb::KbCategory>, Status> {
        Ok(self.create_category(request).await?)
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        Ok(self.list_categories(request).await?)
    }

    async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        Ok(self.create_article(request).await?)
    }

    async fn update_article(&self, request: Request<pb::UpdateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        Ok(self.update_article(request).await?)
    }

    async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> Result<Response<pb::Article>, Status> {
        Ok(self.get_article(request).await?)
    }

    async fn delete_article(
        &self,
        request: Request<pb::DeleteArticleRequest>,
    ) -> Result<Response<pb::DeleteArticleResponse>, Status> {
        Ok(self.delete_article(request).await?)
    }

    async fn list_articles(
        &self,
        request: Request<pb::ListArticlesRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, Status> {
        Ok(self.list_articles(request).await?)
    }

    async fn search_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        Ok(self.find(request, crate::index::Mode::Search).await?)
    }

    async fn suggest_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        Ok(self.find(request, crate::index::Mode::Suggest).await?)
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        Ok(self.record_feedback(request).await?)
    }

    async fn deflection_report(
        &self,
        request: Request<pb::DeflectionReportRequest>,
    ) -> Result<Response<pb::DeflectionReportResponse>, Status> {
        Ok(self.deflection_report(request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_failure_is_answered_internal_with_a_reference_and_nothing_of_the_database() {
        let failure = sqlx::Error::Protocol("relation \"kb.articles\" does not exist in SELECT id FROM articles".into());
        let status = Status::from(KbError::from(failure));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("reference"), "{}", status.message());
        for leak in ["articles", "SELECT", "relation"] {
            assert!(!status.message().contains(leak), "{leak} leaked: {}", status.message());
        }
    }

    #[test]
    fn any_other_unexpected_failure_is_answered_the_same_opaque_way() {
        let failure = anyhow::anyhow!("tantivy: the index writer panicked").context("searching the index");
        let status = Status::from(KbError::from(failure));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("reference"), "{}", status.message());
        assert!(!status.message().contains("tantivy") && !status.message().contains("index"), "{}", status.message());
    }

    #[test]
    fn the_callers_mistakes_keep_their_own_codes() {
        let missing = Status::from(KbError::NotFound("article"));
        assert_eq!((missing.code(), missing.message()), (tonic::Code::NotFound, "article not found"));
        let category = Status::from(KbError::Invalid { field: "category_id", reason: "no such category".into() });
        assert_eq!(category.code(), tonic::Code::InvalidArgument);
    }
}
