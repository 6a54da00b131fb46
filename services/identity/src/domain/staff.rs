//! Staff: agents and admins. Their role travels in the caller token, so every service can check
//! it without asking identity.

use chrono::{DateTime, Utc};
use helpdesk_kit::auth::StaffRole;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: StaffRole,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

pub fn role_to_db(role: StaffRole) -> &'static str {
    match role {
        StaffRole::Agent => "agent",
        StaffRole::Admin => "admin",
    }
}

pub fn role_from_db(raw: &str) -> StaffRole {
    if raw == "admin" { StaffRole::Admin } else { StaffRole::Agent }
}
