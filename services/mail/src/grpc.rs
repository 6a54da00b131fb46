//! `MailAdminService`: admins (and services) list the quarantined mail and retry it. A retry reads
//! the archived raw mail, parses it under the current limits and publishes it exactly as the
//! mailbox reader would (same deduplicating id); the row goes only after the stream acknowledged
//! the message. Everyone else gets PERMISSION_DENIED / UNAUTHENTICATED.

use std::sync::Arc;

use helpdesk_kit::{
    auth::{Caller, StaffRole, caller},
    error::{internal, not_found, parse_id, permission_denied, unauthenticated},
    events::timestamp,
};
use helpdesk_proto::mail::v1::{self as pb, mail_admin_service_server::MailAdminService};
use tonic::{Request, Response, Status};

use crate::{
    ingest::{Ingest, Prepared, Source},
    store::{Mailboxes, Quarantined},
};

const MAX_LIST: u32 = 500;

pub struct MailAdmin {
    pub store: Mailboxes,
    pub ingest: Arc<Ingest>,
    /// Each mailbox's default category, by mailbox name.
    pub categories: Vec<(String, String)>,
}

fn require_admin<T>(request: &Request<T>) -> Result<(), Status> {
    match caller(request) {
        Caller::Anonymous => Err(unauthenticated()),
        Caller::Staff { role: StaffRole::Admin, .. } | Caller::Service { .. } => Ok(()),
        _ => Err(permission_denied()),
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
        let rows = self.store.quarantined(i64::from(limit)).await.map_err(internal)?;
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
        let row = self
            .store
            .quarantined_one(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found("quarantined mail"))?;
        let raw = self.ingest.blobs.get(&row.raw_key).await.map_err(internal)?;
        let category = self
            .categories
            .iter()
            .find(|(mailbox, _)| *mailbox == row.mailbox)
            .map(|(_, category)| category.as_str())
            .unwrap_or_default();
        let source = Source { mailbox: &row.mailbox, default_category: category };
        match self.ingest.prepare(&source, &raw).await.map_err(internal)? {
            Prepared::Message { message, dedupe_id } => {
                self.ingest
                    .publish(&message, &dedupe_id)
                    .await
                    .map_err(internal)?
                    .await
                    .map_err(internal)?;
                self.store.release(id).await.map_err(internal)?;
                tracing::info!(quarantine = %id, "quarantined mail published on retry");
                Ok(Response::new(pb::RetryQuarantinedMailResponse { external_id: message.external_id }))
            }
            Prepared::Poison { reason, .. } => {
                self.store.retry_failed(id, &reason).await.map_err(internal)?;
                Err(Status::failed_precondition(format!("the mail still cannot be imported: {reason}")))
            }
        }
    }
}
