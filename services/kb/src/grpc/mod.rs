//! The kb service's gRPC surface: `KbService`, whose methods delegate to the handlers in
//! `articles`, `categories` and `search`; the one mapping from [`KbError`] to `Status`; and
//! proto ⇄ domain conversions in `convert`. Every handler decides from the caller what it may
//! read or do — the gateway only forwards the caller's token.

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
        }
    }
}

/// Database errors: a missing category is the caller's mistake, anything else is ours.
fn db_error(error: sqlx::Error) -> Status {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            KbError::Invalid { field: "category_id", reason: "no such category".into() }.into()
        }
        _ => helpdesk_kit::error::internal(error),
    }
}

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
        self.create_category(request).await
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        self.list_categories(request).await
    }

    async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        self.create_article(request).await
    }

    async fn update_article(&self, request: Request<pb::UpdateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        self.update_article(request).await
    }

    async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> Result<Response<pb::Article>, Status> {
        self.get_article(request).await
    }

    async fn delete_article(
        &self,
        request: Request<pb::DeleteArticleRequest>,
    ) -> Result<Response<pb::DeleteArticleResponse>, Status> {
        self.delete_article(request).await
    }

    async fn list_articles(
        &self,
        request: Request<pb::ListArticlesRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, Status> {
        self.list_articles(request).await
    }

    async fn search_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        self.find(request, crate::index::Mode::Search).await
    }

    async fn suggest_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        self.find(request, crate::index::Mode::Suggest).await
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        self.record_feedback(request).await
    }

    async fn deflection_report(
        &self,
        request: Request<pb::DeflectionReportRequest>,
    ) -> Result<Response<pb::DeflectionReportResponse>, Status> {
        self.deflection_report(request).await
    }
}
