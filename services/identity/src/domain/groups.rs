//! Contact groups: members see each other's tickets when `share_tickets` is on; contacts whose
//! address is in one of `auto_join_domains` join automatically.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{IdentityError, clean_name};

#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub share_tickets: bool,
    pub auto_join_domains: Vec<String>,
    pub member_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub fn parse_group_name(raw: &str) -> Result<String, IdentityError> {
    let name = clean_name(raw);
    if name.is_empty() {
        return Err(IdentityError::Invalid { field: "name", reason: "is required" });
    }
    Ok(name)
}
