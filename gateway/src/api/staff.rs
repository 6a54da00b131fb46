//! `/api/v1/staff` and `/api/v1/contacts` for staff: manage agents and admins (admins), and list,
//! read, change and block contacts. Identity decides who may do what from the caller's token.

use axum::{
    extract::State,
    http::StatusCode,
};
use helpdesk_proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    api::{account::contact_json, as_caller, rfc3339},
    auth::Bearer,
    error::ApiError,
    extract::{Json, Path, Query},
    identity::Identity,
};

#[derive(Deserialize)]
pub struct NewStaff {
    name: String,
    email: String,
    /// `agent` or `admin`.
    role: String,
}

#[derive(Deserialize)]
pub struct StaffChange {
    role: String,
    active: bool,
}

#[derive(Deserialize)]
pub struct ContactQuery {
    q: Option<String>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Deserialize)]
pub struct ContactChange {
    name: Option<String>,
    /// The complete new set of addresses, when given.
    emails: Option<Vec<String>>,
    primary_email: Option<String>,
}

#[derive(Deserialize)]
pub struct Block {
    blocked: bool,
}

fn role(raw: &str) -> i32 {
    match raw {
        "agent" => pb::StaffRole::Agent as i32,
        "admin" => pb::StaffRole::Admin as i32,
        _ => pb::StaffRole::Unspecified as i32,
    }
}

fn staff_json(staff: pb::Staff) -> Value {
    json!({
        "id": staff.id,
        "name": staff.name,
        "email": staff.email,
        "role": match pb::StaffRole::try_from(staff.role) {
            Ok(pb::StaffRole::Admin) => "admin",
            _ => "agent",
        },
        "active": staff.active,
        "created_at": rfc3339(staff.created_at.as_ref()),
    })
}

pub async fn list_staff(State(identity): State<Identity>, Bearer(token): Bearer) -> Result<Json<Value>, ApiError> {
    let staff = identity
        .staff()
        .list_staff(as_caller(pb::ListStaffRequest {}, Some(&token))?)
        .await?
        .into_inner()
        .staff;
    Ok(Json(json!({ "staff": staff.into_iter().map(staff_json).collect::<Vec<_>>() })))
}

pub async fn create_staff(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Json(body): Json<NewStaff>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = pb::CreateStaffRequest { name: body.name, email: body.email, role: role(&body.role) };
    let staff = identity.staff().create_staff(as_caller(request, Some(&token))?).await?.into_inner();
    Ok((StatusCode::CREATED, Json(staff_json(staff))))
}

pub async fn update_staff(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    Json(body): Json<StaffChange>,
) -> Result<Json<Value>, ApiError> {
    let request = pb::SetStaffRoleRequest { id, role: role(&body.role), active: body.active };
    let staff = identity.staff().set_staff_role(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(staff_json(staff)))
}

pub async fn list_contacts(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Query(query): Query<ContactQuery>,
) -> Result<Json<Value>, ApiError> {
    let request = pb::ListContactsRequest {
        query: query.q.unwrap_or_default(),
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
    };
    let page = identity.contacts().list_contacts(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(json!({
        "contacts": page.contacts.into_iter().map(contact_json).collect::<Vec<_>>(),
        "next_page_token": (!page.next_page_token.is_empty()).then_some(page.next_page_token),
    })))
}

pub async fn get_contact(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let contact = identity
        .contacts()
        .get_contact(as_caller(pb::GetContactRequest { id }, Some(&token))?)
        .await?
        .into_inner();
    Ok(Json(contact_json(contact)))
}

pub async fn update_contact(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    Json(body): Json<ContactChange>,
) -> Result<Json<Value>, ApiError> {
    let request = pb::UpdateContactRequest {
        id,
        name: body.name,
        emails: body.emails.unwrap_or_default(),
        primary_email: body.primary_email,
    };
    let contact = identity.contacts().update_contact(as_caller(request, Some(&token))?).await?.into_inner();
    Ok(Json(contact_json(contact)))
}

pub async fn block_contact(
    State(identity): State<Identity>,
    Bearer(token): Bearer,
    Path(id): Path<String>,
    Json(body): Json<Block>,
) -> Result<Json<Value>, ApiError> {
    let request = pb::SetContactBlockedRequest { id, blocked: body.blocked };
    let contact = identity
        .contacts()
        .set_contact_blocked(as_caller(request, Some(&token))?)
        .await?
        .into_inner();
    Ok(Json(contact_json(contact)))
}
