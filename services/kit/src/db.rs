//! Postgres access for a service: one pool per service whose `search_path` is the service's own
//! schema, so its tables, its outbox and its `_sqlx_migrations` live apart from every other part's
//! even when all parts share one database (DESIGN.md §1: no part reads another's tables).

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::{
    AssertSqlSafe, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::DatabaseConfig;

/// Connects to the service's schema, creating the schema and running the service's embedded
/// migrations. Concurrent replicas are safe: the migrator holds an advisory lock.
pub async fn connect_and_migrate(
    config: &DatabaseConfig,
    schema: &'static str,
    migrator: &Migrator,
) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config.url.expose_secret().parse()?;
    let options = options.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    create_schema(&pool, schema).await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

async fn create_schema(pool: &PgPool, schema: &'static str) -> anyhow::Result<()> {
    let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    match sqlx::query(AssertSqlSafe(sql)).execute(pool).await {
        Ok(_) => Ok(()),
        // Two replicas creating the schema at once: the loser sees a unique violation.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => Ok(()),
        Err(e) => Err(e.into()),
    }
}
