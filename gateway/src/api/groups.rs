//! `/api/v1/groups`: contact groups for admins (agents may read): create, rename, share-tickets
//! flag, auto-join domains, members.

use axum::{
    extract::State,
    http::StatusCode,
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    api::{as_caller, rfc3339},
    auth::Bearer,
    error::ApiError,
    extract::{Json, Path},
    identity::Identity,
};

#[derive(Deserialize)]
pub struct CreateGroup {
    name: String,
    #[serde(default)]
    share_tickets: bool,
    #[serde(default)]
    auto_join_domains: Vec<String>,
}

#[derive(Deserialize)]
pub struct UpdateGroup {
    name: Option<String>,
    share_tickets: Option<bool>,
    /// Replaces the group's auto-join domains when given.
    auto_join_domains: Option<Vec<String>>,
}

fn group_json(group: pb::ContactGroup) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "share_tickets": group.share_tickets,
        "auto_join_domains": group.auto_join_domains,
        "member_ids": group.member_ids,
        "created_at": rfc3339(group.created_at.as_ref()),
    })
}

pub async fn list(State(identity): State<Identity>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let groups = identity
        .groups()
        .list_groups(as_caller(pb::ListGroupsRequest {}, Some(&token))?)
        .await?
        .into_inner()
        .groups;
    Ok(Json(json!({ "groups": groups.into_iter().map(group_json).collect::<Vec<_>>() })))
}

pub async fn create(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Json(body): Json<CreateGroup>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = pb::CreateGroupRequest {
        name: body.name,
        share_tickets: body.share_tickets,
        auto_join_domains: body.auto_join_domains,
    };
    let group = identity.groups().create_group(as_caller(request, Some(&token))?).await?.into_inner();
    Ok((StatusCode::CREATED, Json(group_json(group))))
}

pub async fn get(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let group = identity
        .groups()
        .get_group(as_caller(pb::GetGroupRequest { id }, Some(&token))?)
        .await?
        .into_inner();
    Ok(Json(group_json(group)))
}

pub async fn update(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    Json(body): Json<UpdateGroup>,
) -> Result<Json<Value>, ApiError> {
    let replace = body.auto_join_domains.is_some();
    let request = pb::UpdateGroupRequest {
        id,
        name: body.name,
        share_tickets: body.share_tickets,
        auto_join_domains: body.auto_join_domains.unwrap_or_default(),
        replace_auto_join_domains: replace,
    };
    let group = identity.groups().update_group(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(group_json(group)))
}

pub async fn add_member(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path((group_id, contact_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let request = as_caller(pb::GroupMemberRequest { group_id, contact_id }, Some(&token))?;
    Ok(Json(group_json(identity.groups().add_group_member(request).await?.into_inner())))
}

pub async fn remove_member(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path((group_id, contact_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let request = as_caller(pb::GroupMemberRequest { group_id, contact_id }, Some(&token))?;
    Ok(Json(group_json(identity.groups().remove_group_member(request).await?.into_inner())))
}
