//! `StaffService`: admins (and the CLI, as a service) create agents and admins and change their
//! role or deactivate them; staff may read the staff list.

use helpdesk_kit::auth::{Caller, caller};
use helpdesk_proto::identity::v1::{self as pb, staff_service_server::StaffService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{EmailAddress, IdentityError, clean_name},
    grpc::{require_admin, require_staff, role_from_pb, staff_to_pb},
    store::Store,
};

pub struct StaffGrpc {
    store: Store,
}

impl StaffGrpc {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl StaffService for StaffGrpc {
    #[tracing::instrument(skip_all)]
    async fn create_staff(&self, request: Request<pb::CreateStaffRequest>) -> Result<Response<pb::Staff>, Status> {
        require_admin(&caller(&request))?;
        let request = request.into_inner();
        let name = clean_name(&request.name);
        if name.is_empty() {
            return Err(IdentityError::Invalid { field: "name", reason: "is required" }.into());
        }
        let email = EmailAddress::parse(&request.email)?;
        let role = role_from_pb(request.role)?;
        let staff = self
            .store
            .create_staff(&name, &email, role)
            .await?
            .ok_or(IdentityError::AlreadyExists("a staff member with this email"))?;
        tracing::info!(staff = %staff.id, ?role, "staff member created");
        Ok(Response::new(staff_to_pb(staff)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_staff(&self, request: Request<pb::GetStaffRequest>) -> Result<Response<pb::Staff>, Status> {
        let caller = caller(&request);
        let id = helpdesk_kit::error::parse_id(&request.get_ref().id, "staff member")?;
        if matches!(caller, Caller::Contact { .. }) {
            return Err(IdentityError::StaffNotFound.into());
        }
        require_staff(&caller)?;
        let staff = self.store.staff(id).await?;
        Ok(Response::new(staff_to_pb(staff.ok_or(IdentityError::StaffNotFound)?)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_staff(&self, request: Request<pb::ListStaffRequest>) -> Result<Response<pb::ListStaffResponse>, Status> {
        require_staff(&caller(&request))?;
        let staff = self.store.list_staff().await?;
        Ok(Response::new(pb::ListStaffResponse {
            staff: staff.into_iter().map(staff_to_pb).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_staff_role(&self, request: Request<pb::SetStaffRoleRequest>) -> Result<Response<pb::Staff>, Status> {
        require_admin(&caller(&request))?;
        let request = request.into_inner();
        let id = helpdesk_kit::error::parse_id(&request.id, "staff member")?;
        let role = role_from_pb(request.role)?;
        let staff = self
            .store
            .set_staff_role(id, role, request.active)
            .await?
            .ok_or(IdentityError::StaffNotFound)?;
        Ok(Response::new(staff_to_pb(staff)))
    }
}
