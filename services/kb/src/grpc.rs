//! The kb service's gRPC surface: `KbService` handlers, the one mapping from [`KbError`] to
//! `Status`, and store → proto conversions. Visibility is decided here from the caller.

use helpdesk_kit::{
    auth::caller,
    events::timestamp,
};
use helpdesk_proto::kb::v1::{self as pb, kb_service_server::KbService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{
        self, KbError, MAX_SEARCH_RESULTS, PUBLIC, PUBLISHED, may_write, parse_body, parse_query, parse_title,
        readable_by, render_markdown, slugify, snippet_html,
    },
    store::{Article, NewArticle, Readable, Store},
};

impl From<KbError> for Status {
    fn from(error: KbError) -> Self {
        match error {
            KbError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            KbError::NotFound => helpdesk_kit::error::not_found("article"),
            KbError::Unauthenticated => helpdesk_kit::error::unauthenticated(),
            KbError::PermissionDenied => helpdesk_kit::error::permission_denied(),
        }
    }
}

fn db_error(error: sqlx::Error) -> Status {
    helpdesk_kit::error::internal(error)
}

fn later() -> Status {
    Status::unimplemented("arrives with the knowledge-base issue (#6)")
}

fn article_to_pb(article: Article) -> pb::Article {
    pb::Article {
        id: article.id.to_string(),
        slug: article.slug,
        title: article.title,
        body_markdown: article.body_markdown,
        body_html: article.body_html,
        category_id: article.category_id.map(|id| id.to_string()).unwrap_or_default(),
        tags: article.tags,
        status: i32::from(article.status),
        visibility: i32::from(article.visibility),
        created_at: Some(timestamp(article.created_at)),
        updated_at: Some(timestamp(article.updated_at)),
    }
}

pub struct KbGrpc {
    store: Store,
}

impl KbGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl KbService for KbGrpc {
    async fn create_category(&self, _request: Request<pb::CreateCategoryRequest>) -> Result<Response<pb::KbCategory>, Status> {
        Err(later())
    }

    async fn list_categories(
        &self,
        _request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        Err(later())
    }

    #[tracing::instrument(skip_all)]
    async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        may_write(&caller(&request))?;
        let request = request.into_inner();
        let title = parse_title(&request.title)?;
        let body_markdown = parse_body(&request.body_markdown)?;
        let status = match pb::ArticleStatus::try_from(request.status) {
            Ok(pb::ArticleStatus::Draft) => domain::DRAFT,
            _ => PUBLISHED,
        };
        let visibility = match pb::Visibility::try_from(request.visibility) {
            Ok(pb::Visibility::SignedIn) => domain::SIGNED_IN,
            Ok(pb::Visibility::Internal) => domain::INTERNAL,
            _ => PUBLIC,
        };
        let slug = slugify(if request.slug.trim().is_empty() { &title } else { &request.slug });
        let category_id = match request.category_id.as_str() {
            "" => None,
            raw => Some(uuid::Uuid::parse_str(raw).map_err(|_| KbError::Invalid {
                field: "category_id",
                reason: "is not an id".into(),
            })?),
        };
        let article = self
            .store
            .create(NewArticle {
                slug,
                body_html: render_markdown(&body_markdown),
                title,
                body_markdown,
                category_id,
                tags: request.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).take(20).collect(),
                status,
                visibility,
            })
            .await
            .map_err(db_error)?;
        Ok(Response::new(article_to_pb(article)))
    }

    async fn update_article(&self, _request: Request<pb::UpdateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        Err(later())
    }

    #[tracing::instrument(skip_all)]
    async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> Result<Response<pb::Article>, Status> {
        let (statuses, visibilities) = readable_by(&caller(&request));
        let article = match request.into_inner().key {
            Some(pb::get_article_request::Key::Id(id)) => {
                self.store.by_id(helpdesk_kit::error::parse_id(&id, "article")?).await
            }
            Some(pb::get_article_request::Key::Slug(slug)) => self.store.by_slug(&slug).await,
            None => return Err(KbError::Invalid { field: "key", reason: "give id or slug".into() }.into()),
        }
        .map_err(db_error)?
        .filter(|a| statuses.contains(&a.status) && visibilities.contains(&a.visibility))
        .ok_or(KbError::NotFound)?;
        Ok(Response::new(article_to_pb(article)))
    }

    async fn delete_article(
        &self,
        _request: Request<pb::DeleteArticleRequest>,
    ) -> Result<Response<pb::DeleteArticleResponse>, Status> {
        Err(later())
    }

    async fn list_articles(
        &self,
        _request: Request<pb::ListArticlesRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, Status> {
        Err(later())
    }

    #[tracing::instrument(skip_all)]
    async fn search_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        let (statuses, visibilities) = readable_by(&caller(&request));
        let request = request.into_inner();
        let query = parse_query(&request.query)?;
        if query.is_empty() {
            return Ok(Response::new(pb::SearchArticlesResponse { hits: Vec::new() }));
        }
        let limit = match request.limit {
            0 => 10,
            n => n.min(MAX_SEARCH_RESULTS),
        };
        let hits = self
            .store
            .search(&query, Readable { statuses: &statuses, visibilities: &visibilities }, limit)
            .await
            .map_err(db_error)?;
        Ok(Response::new(pb::SearchArticlesResponse {
            hits: hits
                .into_iter()
                .map(|hit| pb::ArticleHit {
                    id: hit.id.to_string(),
                    slug: hit.slug,
                    title: hit.title,
                    snippet_html: snippet_html(&hit.marked_snippet),
                    score: hit.score,
                })
                .collect(),
        }))
    }

    async fn suggest_articles(
        &self,
        _request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        Err(later())
    }

    async fn record_feedback(
        &self,
        _request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        Err(later())
    }

    async fn deflection_report(
        &self,
        _request: Request<pb::DeflectionReportRequest>,
    ) -> Result<Response<pb::DeflectionReportResponse>, Status> {
        Err(later())
    }
}
