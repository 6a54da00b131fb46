//! `MailAdminService`: admins (and services) list the quarantined mail and retry it. A retry reads
//! the archived raw mail, parses it under the current limits and publishes it exactly as the
//! mailbox reader would (same deduplicating id); the row goes only after the stream acknowledged
//! the message. Everyone else gets PERMISSION_DENIED / UNAUTHENTICATED. The handlers' work
//! answers [`MailError`]; its one mapping to `Status` is here.

use std::sync::Arc;

use anyhow::Context;
use helpdesk_kit::{
    auth::{Caller, StaffRole, caller},
    error::{internal, not_found, parse_id, permission_denied, unauthenticated},
    events::timestamp,
};
use helpdesk_proto::mail::v1::{self as pb, mail_admin_service_server::MailAdminService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::MailError,
    ingest::{Ingest, Prepared, Source},
    store::{Mailboxes, Quarantined},
};

impl From<MailError> for Status {
    fn from(error: MailError) -> Self {
        match error {
            MailError::Unauthenticated => unauthenticated(),
            MailError::PermissionDenied => permission_denied(),
            MailError::QuarantinedNotFound => not_found("quarantined mail"),
            MailError::StillUnimportable(_) => Status::failed_precondition(error.to_string()),
            MailError::Database(error) => internal(error),
            MailError::Internal(error) => internal(error),
        }
    }
}

const MAX_LIST: u32 = 500;

pub struct MailAdmin {
    pub store: Mailboxes,
    pub ingest: Arc<Ingest>,
    /// Each mailbox's default category, by mailbox name.
    pub categories: Vec<(String, String)>,
}

fn require_admin<T>(request: &Request<T>) -> Result<(), MailError> {
    match caller(request) {
        Caller::Anonymous => Err(MailError::Unauthenticated),
        Caller::Staff { role: StaffRole::Admin, .. } | Caller::Service { .. } => Ok(()),
        _ => Err(MailError::PermissionDenied),
    }
}

fn to_proto(q: Quarantined) -> pb::QuarantinedMail {
    pb::QuarantinedMail {
        id: q.id.to_string(),
        mailbox: q.mailbox,
        uid_validity: u32::try_from(q.uid_validity).unwrap_or_default(),
        uid: u32::try_from(q.uid).unwrap_or_default(),
        size: u64::try_from(q.size).unwrap_or_default(),
        reason: q.reason,
        attempts: u32::try_from(q.attempts).unwrap_or_default(),
        created_at: Some(timestamp(q.created_at)),
        retried_at: q.retried_at.map(timestamp),
        raw_key: q.raw_key,
    }
}

#[tonic::async_trait]
impl MailAdminService for MailAdmin {
    async fn list_quarantined_mail(
        &self,
        request: Request<pb::ListQuarantinedMailRequest>,
    ) -> Result<Response<pb::ListQuarantinedMailResponse>, Status> {
        require_admin(&request)?;
        let limit = match request.get_ref().limit {
            0 => MAX_LIST,
            n => n.min(MAX_LIST),
        };
        let rows = self.store.quarantined(i64::from(limit)).await?;
        Ok(Response::new(pb::ListQuarantinedMailResponse {
            mails: rows.into_iter().map(to_proto).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn retry_quarantined_mail(
        &self,
        request: Request<pb::RetryQuarantinedMailRequest>,
    ) -> Result<Response<pb::RetryQuarantinedMailResponse>, Status> {
        require_admin(&request)?;
        let id = parse_id(&request.get_ref().id, "quarantined mail")?;
        Ok(Response::new(self.retry(id).await?))
    }
}

impl MailAdmin {
    async fn retry(&self, id: Uuid) -> Result<pb::RetryQuarantinedMailResponse, MailError> {
        let row = self.store.quarantined_one(id).await?.ok_or(MailError::QuarantinedNotFound)?;
        let raw = self.ingest.blobs.get(&row.raw_key).await.context("reading the archived raw mail")?;
        let category = self
            .categories
            .iter()
            .find(|(mailbox, _)| *mailbox == row.mailbox)
            .map(|(_, category)| category.as_str())
            .unwrap_or_default();
        let source = Source { mailbox: &row.mailbox, default_category: category };
        match self.ingest.prepare(&source, &raw).await? {
            Prepared::Message { message, dedupe_id } => {
                self.ingest
                    .publish(&message, &dedupe_id)
                    .await?
                    .await
                    .context("the stream did not confirm the retried mail")?;
                self.store.release(id).await?;
                tracing::info!(quarantine = %id, "quarantined mail published on retry");
                Ok(pb::RetryQuarantinedMailResponse { external_id: message.external_id })
            }
            Prepared::Poison { reason, .. } => {
                self.store.retry_failed(id, &reason).await?;
                Err(MailError::StillUnimportable(reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_failures_are_answered_internal_with_a_reference_and_nothing_of_their_cause() {
        let database = MailError::Database(sqlx::Error::Protocol("relation \"mail.quarantine\" does not exist".into()));
        let blob = MailError::Internal(anyhow::anyhow!("GET s3://mail/raw/ab.eml: 403").context("reading the archived raw mail"));
        for error in [database, blob] {
            let status = Status::from(error);
            assert_eq!(status.code(), tonic::Code::Internal);
            let reference = status.message().strip_prefix("internal error (reference ").and_then(|r| r.strip_suffix(')'));
            assert!(reference.is_some_and(|r| Uuid::parse_str(r).is_ok()), "{}", status.message());
            for leak in ["relation", "s3://", "403", "archived"] {
                assert!(!status.message().contains(leak), "{}", status.message());
            }
        }
    }

    #[test]
    fn the_callers_errors_keep_their_codes_and_say_why() {
        assert_eq!(Status::from(MailError::Unauthenticated).code(), tonic::Code::Unauthenticated);
        assert_eq!(Status::from(MailError::PermissionDenied).code(), tonic::Code::PermissionDenied);
        let status = Status::from(MailError::QuarantinedNotFound);
        assert_eq!((status.code(), status.message()), (tonic::Code::NotFound, "quarantined mail not found"));
        let status = Status::from(MailError::StillUnimportable("more than 100 parts".into()));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(status.message(), "the mail still cannot be imported: more than 100 parts");
    }
}
