//! Staff rows. The normalized address is unique, so creating the same person twice is refused.

use helpdesk_kit::auth::StaffRole;
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

use super::{Result, Store};
use crate::domain::{
    EmailAddress,
    staff::{Staff, role_from_db, role_to_db},
};

fn staff_from_row(row: &PgRow) -> Staff {
    Staff {
        id: row.get("id"),
        name: row.get("name"),
        email: row.get("email"),
        role: role_from_db(row.get("role")),
        active: row.get("active"),
        created_at: row.get("created_at"),
    }
}

const COLUMNS: &str = "id, name, email, role, active, created_at";

impl Store {
    /// `None` when a staff member with this address exists already.
    #[tracing::instrument(skip(self, name, email), err)]
    pub async fn create_staff(&self, name: &str, email: &EmailAddress, role: StaffRole) -> Result<Option<Staff>> {
        let row = sqlx::query(
            "INSERT INTO staff (id, name, email, email_normalized, role) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email_normalized) DO NOTHING
             RETURNING id, name, email, role, active, created_at",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(email.as_str())
        .bind(email.normalized())
        .bind(role_to_db(role))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(staff_from_row))
    }

    pub async fn staff(&self, id: Uuid) -> Result<Option<Staff>> {
        let sql = format!("SELECT {COLUMNS} FROM staff WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(staff_from_row))
    }

    pub async fn list_staff(&self) -> Result<Vec<Staff>> {
        let sql = format!("SELECT {COLUMNS} FROM staff ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(staff_from_row).collect())
    }

    /// A deactivation, reactivation or role change also goes on the revocation list: tokens
    /// issued before it carry the old role (or belong to someone who may no longer act) and must
    /// stop working everywhere; the staff member gets a new token.
    pub async fn set_staff_role(&self, id: Uuid, role: StaffRole, active: bool) -> Result<Option<Staff>> {
        let mut tx = self.pool.begin().await?;
        let before: Option<(String, bool)> = sqlx::query_as("SELECT role, active FROM staff WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((before_role, before_active)) = before else {
            return Ok(None);
        };
        let row = sqlx::query(
            "UPDATE staff SET role = $2, active = $3 WHERE id = $1
             RETURNING id, name, email, role, active, created_at",
        )
        .bind(id)
        .bind(role_to_db(role))
        .bind(active)
        .fetch_one(&mut *tx)
        .await?;
        let changed = before_role != role_to_db(role) || before_active != active;
        if changed {
            super::revocations::record(&mut tx, id, !active).await?;
        }
        tx.commit().await?;
        if changed {
            self.relay.wake();
        }
        Ok(Some(staff_from_row(&row)))
    }
}
