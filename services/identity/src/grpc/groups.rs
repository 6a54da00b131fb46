//! `GroupService`: admins create and change contact groups and their members; agents may read
//! them. Domains given for auto-join also pull in existing contacts of those domains.

use helpdesk_kit::auth::caller;
use helpdesk_proto::identity::v1::{self as pb, group_service_server::GroupService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{IdentityError, groups::parse_group_name, settings::parse_domains},
    grpc::{group_to_pb, require_admin, require_staff},
    store::{Store, groups::GroupChanges},
};

pub struct GroupsGrpc {
    store: Store,
}

impl GroupsGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl GroupsGrpc {
    async fn set_member(&self, request: Request<pb::GroupMemberRequest>, member: bool) -> Result<Response<pb::ContactGroup>, Status> {
        require_admin(&caller(&request))?;
        let request = request.into_inner();
        let group_id = helpdesk_kit::error::parse_id(&request.group_id, "group")?;
        let contact_id = helpdesk_kit::error::parse_id(&request.contact_id, "contact")?;
        let group = self
            .store
            .set_member(group_id, contact_id, member)
            .await?
            .ok_or(IdentityError::GroupNotFound)?;
        Ok(Response::new(group_to_pb(group)))
    }
}

#[tonic::async_trait]
impl GroupService for GroupsGrpc {
    #[tracing::instrument(skip_all)]
    async fn create_group(&self, request: Request<pb::CreateGroupRequest>) -> Result<Response<pb::ContactGroup>, Status> {
        require_admin(&caller(&request))?;
        let request = request.into_inner();
        let name = parse_group_name(&request.name)?;
        let domains = parse_domains(&request.auto_join_domains, "auto_join_domains")?;
        let group = self
            .store
            .create_group(&name, request.share_tickets, &domains)
            .await?
            .ok_or(IdentityError::AlreadyExists("a group with this name"))?;
        Ok(Response::new(group_to_pb(group)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_group(&self, request: Request<pb::GetGroupRequest>) -> Result<Response<pb::ContactGroup>, Status> {
        if require_staff(&caller(&request)).is_err() {
            return Err(IdentityError::GroupNotFound.into());
        }
        let id = helpdesk_kit::error::parse_id(&request.get_ref().id, "group")?;
        let group = self.store.group(id).await?;
        Ok(Response::new(group_to_pb(group.ok_or(IdentityError::GroupNotFound)?)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_groups(&self, request: Request<pb::ListGroupsRequest>) -> Result<Response<pb::ListGroupsResponse>, Status> {
        require_staff(&caller(&request))?;
        let groups = self.store.list_groups().await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.into_iter().map(group_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_group(&self, request: Request<pb::UpdateGroupRequest>) -> Result<Response<pb::ContactGroup>, Status> {
        require_admin(&caller(&request))?;
        let request = request.into_inner();
        let id = helpdesk_kit::error::parse_id(&request.id, "group")?;
        let name = request.name.as_deref().map(parse_group_name).transpose()?;
        let auto_join_domains = if request.replace_auto_join_domains {
            Some(parse_domains(&request.auto_join_domains, "auto_join_domains")?)
        } else if request.auto_join_domains.is_empty() {
            None
        } else {
            // Without `replace`, the given domains are added to the group's.
            let current = self.store.group(id).await?.ok_or(IdentityError::GroupNotFound)?;
            let mut all = current.auto_join_domains;
            all.extend(request.auto_join_domains);
            Some(parse_domains(&all, "auto_join_domains")?)
        };
        let changes = GroupChanges {
            name,
            share_tickets: request.share_tickets,
            auto_join_domains,
        };
        let group = self
            .store
            .update_group(id, changes)
            .await?
            .ok_or(IdentityError::GroupNotFound)?;
        Ok(Response::new(group_to_pb(group)))
    }

    async fn add_group_member(&self, request: Request<pb::GroupMemberRequest>) -> Result<Response<pb::ContactGroup>, Status> {
        self.set_member(request, true).await
    }

    async fn remove_group_member(&self, request: Request<pb::GroupMemberRequest>) -> Result<Response<pb::ContactGroup>, Status> {
        self.set_member(request, false).await
    }
}
