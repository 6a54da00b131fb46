//! Article handlers: staff create, update (which also publishes and unpublishes), delete; anyone
//! gets and lists what their audience may read — anything else is `NOT_FOUND`, as if absent, and
//! so is a malformed id or slug. A slug is taken as given or refused, and a taken one is
//! `ALREADY_EXISTS`: importers upsert by slug, so a silently renamed slug would duplicate articles.

use helpdesk_kit::auth::caller;
use helpdesk_proto::kb::v1 as pb;
use tonic::{Request, Response};

use super::{Answer, KbGrpc, convert};
use crate::{
    domain::{
        Audience, KbError, MAX_PAGE_SIZE, Status as ArticleStatus, Visibility, article_id, is_slug, may_write, parse_body,
        parse_optional_id, parse_slug, parse_tags, parse_title, render_markdown, slugify,
    },
    store::ArticleFields,
};

impl KbGrpc {
    #[tracing::instrument(skip_all)]
    pub(super) async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> Answer<pb::Article> {
        may_write(&caller(&request))?;
        let request = request.into_inner();
        let title = parse_title(&request.title)?;
        let body_markdown = parse_body(&request.body_markdown)?;
        let fields = ArticleFields {
            body_html: render_markdown(&body_markdown),
            body_markdown,
            category_id: parse_optional_id(&request.category_id, "category_id")?,
            tags: parse_tags(&request.tags)?,
            status: ArticleStatus::from_number(request.status)?.unwrap_or(ArticleStatus::Published),
            visibility: Visibility::from_number(request.visibility)?.unwrap_or(Visibility::Public),
            title,
        };
        let slug = if request.slug.is_empty() { slugify(&fields.title) } else { parse_slug(&request.slug)? };
        let article = self.store.create(&slug, &fields).await?.ok_or_else(|| KbError::Taken {
            field: "slug",
            reason: format!("{slug} is already another article's slug"),
        })?;
        self.reindex(article.id).await;
        Ok(Response::new(convert::article(article)))
    }

    /// Changes only what the request names: optional fields when present, tags when
    /// `replace_tags`, status and visibility when not unspecified.
    #[tracing::instrument(skip_all)]
    pub(super) async fn update_article(&self, request: Request<pb::UpdateArticleRequest>) -> Answer<pb::Article> {
        may_write(&caller(&request))?;
        let request = request.into_inner();
        let id = article_id(&request.id)?;
        let title = request.title.as_deref().map(parse_title).transpose()?;
        let body = request.body_markdown.as_deref().map(parse_body).transpose()?;
        let category = request.category_id.as_deref().map(|c| parse_optional_id(c, "category_id")).transpose()?;
        let tags = if request.replace_tags { Some(parse_tags(&request.tags)?) } else { None };
        let status = ArticleStatus::from_number(request.status)?;
        let visibility = Visibility::from_number(request.visibility)?;
        let updated = self
            .store
            .update(id, |mut fields| {
                if let Some(title) = title {
                    fields.title = title;
                }
                if let Some(body) = body {
                    fields.body_html = render_markdown(&body);
                    fields.body_markdown = body;
                }
                if let Some(category) = category {
                    fields.category_id = category;
                }
                if let Some(tags) = tags {
                    fields.tags = tags;
                }
                fields.status = status.unwrap_or(fields.status);
                fields.visibility = visibility.unwrap_or(fields.visibility);
                fields
            })
            .await?
            .ok_or(KbError::NotFound("article"))?;
        self.reindex(id).await;
        Ok(Response::new(convert::article(updated)))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> Answer<pb::Article> {
        let audience = Audience::of(&caller(&request));
        let article = match request.into_inner().key {
            Some(pb::get_article_request::Key::Id(id)) => self.store.by_id(article_id(&id)?).await,
            Some(pb::get_article_request::Key::Slug(slug)) if is_slug(&slug) => self.store.by_slug(&slug).await,
            Some(pb::get_article_request::Key::Slug(_)) => Ok(None),
            None => return Err(KbError::Invalid { field: "key", reason: "give id or slug".into() }),
        }?
        .filter(|a| audience.may_read(a.status, a.visibility))
        .ok_or(KbError::NotFound("article"))?;
        Ok(Response::new(convert::article(article)))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn delete_article(
        &self,
        request: Request<pb::DeleteArticleRequest>,
    ) -> Answer<pb::DeleteArticleResponse> {
        may_write(&caller(&request))?;
        let id = article_id(&request.into_inner().id)?;
        if !self.store.delete(id).await? {
            return Err(KbError::NotFound("article"));
        }
        self.reindex(id).await;
        Ok(Response::new(pb::DeleteArticleResponse {}))
    }

    /// Pages in creation order; the page token is the last article's id.
    #[tracing::instrument(skip_all)]
    pub(super) async fn list_articles(
        &self,
        request: Request<pb::ListArticlesRequest>,
    ) -> Answer<pb::ListArticlesResponse> {
        let audience = Audience::of(&caller(&request));
        let request = request.into_inner();
        let category = parse_optional_id(&request.category_id, "category_id")?;
        let after = parse_optional_id(&request.page_token, "page_token")?;
        let size = match request.page_size {
            0 => 50,
            n => n.min(MAX_PAGE_SIZE),
        };
        let articles = self.store.list(audience, category, after, size).await?;
        let next_page_token = match articles.last() {
            Some(last) if articles.len() == size as usize => last.id.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListArticlesResponse {
            articles: articles.into_iter().map(convert::article).collect(),
            next_page_token,
        }))
    }
}
