//! Search, suggestions and their analytics. Search and suggest run on this instance's tantivy
//! index with the caller's audience as a filter; suggest treats the last word as still being
//! typed. Feedback is accepted only on articles the caller may read (else `NOT_FOUND`); the
//! deflection report is for staff.

use anyhow::Context;
use helpdesk_kit::auth::caller;
use helpdesk_proto::kb::v1 as pb;
use tonic::{Request, Response};

use super::{Answer, KbGrpc, convert};
use crate::{
    domain::{Audience, FeedbackKind, KbError, article_id, may_write, parse_query, result_limit},
    index::Mode,
};

impl KbGrpc {
    #[tracing::instrument(skip_all, fields(?mode))]
    pub(super) async fn find(
        &self,
        request: Request<pb::SearchArticlesRequest>,
        mode: Mode,
    ) -> Answer<pb::SearchArticlesResponse> {
        let audience = Audience::of(&caller(&request));
        let request = request.into_inner();
        let query = parse_query(&request.query)?;
        let hits = self
            .index
            .search(&query, mode, audience, result_limit(request.limit))
            .context("searching the index")?;
        Ok(Response::new(pb::SearchArticlesResponse { hits: hits.into_iter().map(convert::hit).collect() }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Answer<pb::RecordFeedbackResponse> {
        let audience = Audience::of(&caller(&request));
        let request = request.into_inner();
        let id = article_id(&request.article_id)?;
        let kind = FeedbackKind::from_number(request.kind)?;
        let query = parse_query(&request.query)?;
        let article = self.store.by_id(id).await?;
        if !article.is_some_and(|a| audience.may_read(a.status, a.visibility)) {
            return Err(KbError::NotFound("article"));
        }
        self.store.record_feedback(id, kind, query.trim()).await?;
        Ok(Response::new(pb::RecordFeedbackResponse {}))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn deflection_report(
        &self,
        request: Request<pb::DeflectionReportRequest>,
    ) -> Answer<pb::DeflectionReportResponse> {
        may_write(&caller(&request))?;
        let since = match request.into_inner().since {
            None => None,
            Some(at) => Some(
                chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
                    .ok_or_else(|| KbError::Invalid { field: "since", reason: "is not a valid time".into() })?,
            ),
        };
        let rows = self.store.deflection(since).await?;
        Ok(Response::new(pb::DeflectionReportResponse { articles: rows.into_iter().map(convert::deflection).collect() }))
    }
}
