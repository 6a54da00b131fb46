//! What tickets asks identity about people and groups it does not own: whether an assignee is an
//! active staff member, and whether a group exists. Asked at the moment of the change (with
//! tickets' service token), so a staff member deactivated a second ago cannot be assigned; a
//! group is first looked for among those identity's events already told tickets about.

use std::sync::Arc;

use helpdesk_kit::auth::{bearer, service_token::ServiceTokens};
use helpdesk_proto::identity::v1::{
    GetGroupRequest, GetStaffRequest, group_service_client::GroupServiceClient, staff_service_client::StaffServiceClient,
};
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

use crate::store::Store;

#[derive(Clone)]
pub struct Directory {
    channel: Channel,
    tokens: Arc<ServiceTokens>,
}

/// Identity unreachable or failing: the change cannot be checked, so it is not made.
fn unavailable(error: Status) -> Status {
    tracing::warn!(%error, "identity could not answer a directory question");
    Status::unavailable("identity cannot be reached to check this; try again")
}

impl Directory {
    pub fn new(channel: Channel, tokens: Arc<ServiceTokens>) -> Self {
        Self { channel, tokens }
    }

    /// Whether `id` names an active agent or admin.
    pub async fn is_active_staff(&self, id: Uuid) -> Result<bool, Status> {
        let token = self.tokens.token().await.map_err(unavailable)?;
        let request = bearer(GetStaffRequest { id: id.to_string() }, &token)?;
        match StaffServiceClient::new(self.channel.clone()).get_staff(request).await {
            Ok(staff) => Ok(staff.into_inner().active),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(unavailable(status)),
        }
    }

    /// Whether the group exists: known from identity's events, or (just created, its event not
    /// yet here) known to identity.
    pub async fn group_exists(&self, store: &Store, id: Uuid) -> Result<bool, Status> {
        if store.group_known(id).await? {
            return Ok(true);
        }
        let token = self.tokens.token().await.map_err(unavailable)?;
        let request = bearer(GetGroupRequest { id: id.to_string() }, &token)?;
        match GroupServiceClient::new(self.channel.clone()).get_group(request).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(unavailable(status)),
        }
    }
}
