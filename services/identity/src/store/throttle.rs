//! Counting failed logins for `domain::throttle`.

use std::time::Duration;

use super::{Result, Store};
use crate::domain::throttle::Recent;

impl Store {
    pub async fn recent_login_failures(&self, account: &str, ip: &str, window: Duration) -> Result<Recent> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(15));
        let (account_and_ip, by_ip, by_account, known_ip): (i64, i64, i64, bool) = sqlx::query_as(
            "SELECT
               (SELECT count(*) FROM login_failures WHERE account = $1 AND ip = $2 AND at > now() - $3),
               (SELECT count(*) FROM login_failures WHERE ip = $2 AND at > now() - $3),
               (SELECT count(*) FROM login_failures WHERE account = $1 AND at > now() - $3),
               EXISTS (SELECT 1 FROM login_known_ips WHERE account = $1 AND ip = $2)",
        )
        .bind(account)
        .bind(ip)
        .bind(window)
        .fetch_one(&self.pool)
        .await?;
        Ok(Recent {
            account_and_ip,
            ip: by_ip,
            account: by_account,
            known_ip,
        })
    }

    pub async fn record_login_failure(&self, account: &str, ip: &str) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (account, ip) VALUES ($1, $2)")
            .bind(account)
            .bind(ip)
            .execute(&self.pool)
            .await?;
        // Housekeeping: failures older than a day count for nothing.
        sqlx::query("DELETE FROM login_failures WHERE at < now() - interval '1 day'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn record_login_success(&self, account: &str, ip: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE account = $1 AND ip = $2")
            .bind(account)
            .bind(ip)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO login_known_ips (account, ip) VALUES ($1, $2)
             ON CONFLICT (account, ip) DO UPDATE SET last_at = now()",
        )
        .bind(account)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
