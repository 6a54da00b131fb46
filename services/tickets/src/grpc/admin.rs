//! `TicketAdminService`: statuses, priorities and categories (read by anyone signed in, written by
//! admins), group support time (granted by admins, read by staff and by the group's members), and
//! the inbound quarantine (admins list it and hand a message back to the stream to retry). An
//! unknown group is NOT_FOUND; a member reads the group's balance and alert, but its history only
//! for the tickets she may see (a group that does not share tickets keeps each member's own).

use async_nats::jetstream::message::PublishMessage;
use helpdesk_kit::{auth::{Caller, caller}, events::timestamp, nats::Nats};
use helpdesk_proto::tickets::v1::{self as pb, ticket_admin_service_server::TicketAdminService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        TicketError, invalid, parse_name, parse_slug_id,
        fields::validate_definitions,
        time::parse_grant_minutes,
    },
    grpc::{
        actor_id,
        convert::{category_to_pb, definitions_from_pb, priority_to_pb, status_to_pb},
        Directory, require_admin, viewer,
    },
    store::{CategoryRow, PriorityRow, StatusRow, Store},
};

pub struct AdminGrpc {
    store: Store,
    nats: Nats,
    directory: Directory,
}

impl AdminGrpc {
    pub fn new(store: Store, nats: Nats, directory: Directory) -> Self {
        Self { store, nats, directory }
    }

    async fn existing_group(&self, raw: &str) -> Result<Uuid, Status> {
        let group = group_id(raw)?;
        if !self.directory.group_exists(&self.store, group).await? {
            return Err(helpdesk_kit::error::not_found("group"));
        }
        Ok(group)
    }
}

fn signed_in(caller: &Caller) -> Result<(), TicketError> {
    match caller {
        Caller::Anonymous => Err(TicketError::Unauthenticated),
        _ => Ok(()),
    }
}

fn group_id(raw: &str) -> Result<Uuid, Status> {
    helpdesk_kit::error::parse_id(raw, "group")
}

#[tonic::async_trait]
impl TicketAdminService for AdminGrpc {
    async fn list_statuses(&self, request: Request<pb::ListStatusesRequest>) -> Result<Response<pb::ListStatusesResponse>, Status> {
        signed_in(&caller(&request))?;
        let statuses = self.store.statuses().await?;
        Ok(Response::new(pb::ListStatusesResponse { statuses: statuses.into_iter().map(status_to_pb).collect() }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_status(&self, request: Request<pb::Status>) -> Result<Response<pb::Status>, Status> {
        require_admin(&caller(&request))?;
        let s = request.into_inner();
        let kind = match pb::StatusKind::try_from(s.kind) {
            Ok(pb::StatusKind::Pending) => crate::domain::PENDING,
            Ok(pb::StatusKind::Completed) => crate::domain::COMPLETED,
            _ => return Err(invalid("kind", "must be pending or completed").into()),
        };
        let row = StatusRow {
            id: parse_slug_id("id", &s.id)?,
            name: parse_name("name", &s.name)?,
            kind,
            position: i32::try_from(s.position).unwrap_or(i32::MAX),
        };
        self.store.upsert_status(&row).await?;
        Ok(Response::new(status_to_pb(row)))
    }

    async fn list_priorities(&self, request: Request<pb::ListPrioritiesRequest>) -> Result<Response<pb::ListPrioritiesResponse>, Status> {
        signed_in(&caller(&request))?;
        let priorities = self.store.priorities().await?;
        Ok(Response::new(pb::ListPrioritiesResponse { priorities: priorities.into_iter().map(priority_to_pb).collect() }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_priority(&self, request: Request<pb::Priority>) -> Result<Response<pb::Priority>, Status> {
        require_admin(&caller(&request))?;
        let p = request.into_inner();
        let row = PriorityRow {
            id: parse_slug_id("id", &p.id)?,
            name: parse_name("name", &p.name)?,
            rank: i16::try_from(p.rank).map_err(|_| invalid("rank", "is out of range"))?,
            is_default: p.is_default,
        };
        self.store.upsert_priority(&row).await?;
        Ok(Response::new(priority_to_pb(row)))
    }

    async fn list_categories(&self, request: Request<pb::ListCategoriesRequest>) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let caller = caller(&request);
        signed_in(&caller)?;
        let categories = self.store.categories().await?;
        let staff = caller.is_staff_or_service();
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: categories.into_iter().filter(|c| staff || c.active).map(category_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_category(&self, request: Request<pb::Category>) -> Result<Response<pb::Category>, Status> {
        require_admin(&caller(&request))?;
        let c = request.into_inner();
        let id = match c.id.as_str() {
            "" => Uuid::now_v7(),
            raw => Uuid::parse_str(raw).map_err(|_| invalid("id", "is not an id"))?,
        };
        let fields = definitions_from_pb(c.fields)?;
        validate_definitions(&fields)?;
        let row = CategoryRow { id, name: parse_name("name", &c.name)?, fields, active: c.active };
        self.store.upsert_category(&row).await?;
        Ok(Response::new(category_to_pb(row)))
    }

    #[tracing::instrument(skip_all)]
    async fn grant_group_time(&self, request: Request<pb::GrantGroupTimeRequest>) -> Result<Response<pb::GroupTimeBalance>, Status> {
        let caller = caller(&request);
        require_admin(&caller)?;
        let request = request.into_inner();
        let minutes = parse_grant_minutes(request.minutes)?;
        let group = self.existing_group(&request.group_id).await?;
        self.store.grant_time(group, minutes, &actor_id(&caller), request.note.trim()).await?;
        Ok(Response::new(self.balance(group).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_group_time(&self, request: Request<pb::GetGroupTimeRequest>) -> Result<Response<pb::GetGroupTimeResponse>, Status> {
        let caller = caller(&request);
        let viewer = viewer(&caller)?;
        let group = match &caller {
            // Membership implies the group exists; a non-member learns nothing either way.
            Caller::Contact { id } => {
                let group = group_id(&request.get_ref().group_id)?;
                if !self.store.is_member(group, *id).await? {
                    return Err(helpdesk_kit::error::not_found("group"));
                }
                group
            }
            _ => self.existing_group(&request.get_ref().group_id).await?,
        };
        let history = self.store.ledger(group, viewer).await?;
        Ok(Response::new(pb::GetGroupTimeResponse {
            balance: Some(self.balance(group).await?),
            history: history
                .into_iter()
                .map(|e| pb::TimeEntry {
                    id: e.id.to_string(),
                    ticket_id: e.ticket_id.map(|t| t.to_string()).unwrap_or_default(),
                    agent_id: if caller.is_staff_or_service() { e.agent_id } else { String::new() },
                    // Grants count up, time entries down.
                    minutes: if e.kind == "grant" { e.minutes } else { -e.minutes },
                    note: e.note,
                    created_at: Some(timestamp(e.created_at)),
                })
                .collect(),
        }))
    }

    async fn list_quarantine(&self, request: Request<pb::ListQuarantineRequest>) -> Result<Response<pb::ListQuarantineResponse>, Status> {
        require_admin(&caller(&request))?;
        let rows = self.store.quarantined().await?;
        Ok(Response::new(pb::ListQuarantineResponse {
            messages: rows
                .into_iter()
                .map(|q| pb::QuarantinedMessage {
                    id: q.id.to_string(),
                    kind: q.kind,
                    subject: q.subject,
                    reason: q.reason,
                    attempts: u32::try_from(q.attempts).unwrap_or(0),
                    created_at: Some(timestamp(q.created_at)),
                })
                .collect(),
        }))
    }

    /// Publishes the message again (acknowledged by the stream) and only then forgets it.
    #[tracing::instrument(skip_all)]
    async fn retry_quarantined(&self, request: Request<pb::RetryQuarantinedRequest>) -> Result<Response<pb::RetryQuarantinedResponse>, Status> {
        require_admin(&caller(&request))?;
        let id = helpdesk_kit::error::parse_id(&request.get_ref().id, "quarantined message")?;
        let message = self
            .store
            .quarantined()
            .await?
            .into_iter()
            .find(|q| q.id == id)
            .ok_or_else(|| helpdesk_kit::error::not_found("quarantined message"))?;
        let publish = PublishMessage::build()
            .message_id(format!("retry-{}", Uuid::now_v7()))
            .payload(message.payload.into());
        self.nats
            .jetstream
            .send_publish(message.subject, publish)
            .await
            .map_err(helpdesk_kit::error::internal)?
            .await
            .map_err(helpdesk_kit::error::internal)?;
        self.store.release_quarantined(id).await?;
        Ok(Response::new(pb::RetryQuarantinedResponse {}))
    }
}

impl AdminGrpc {
    async fn balance(&self, group: Uuid) -> Result<pb::GroupTimeBalance, Status> {
        let (balance, threshold, alert) = self.store.balance(group).await?;
        Ok(pb::GroupTimeBalance {
            group_id: group.to_string(),
            granted_minutes: balance.granted,
            used_minutes: balance.used,
            remaining_minutes: balance.remaining(),
            alert_threshold_minutes: threshold,
            alert: alert as i32,
        })
    }
}
