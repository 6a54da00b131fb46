//! Replay protection of captcha solutions: a challenge signature can be redeemed once.

use super::{Result, Store};
use crate::domain::captcha::Redeemable;

impl Store {
    /// False when this solution was redeemed before.
    pub async fn redeem_captcha(&self, solution: &Redeemable) -> Result<bool> {
        sqlx::query("DELETE FROM captcha_redeemed WHERE expires_at < now()")
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO captcha_redeemed (signature, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&solution.signature)
        .bind(solution.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }
}
