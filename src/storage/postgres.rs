//! PostgreSQL: the scale-out engine. Several youmen instances share one server; the day's
//! case counter row is locked by the registering transaction, so numbers stay unique and
//! gap-free across instances.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};

use super::shared::impl_shared_queries;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresStore {
    pool: Pool<Postgres>,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options =
            PgConnectOptions::from_str(url).context("database.url is not a PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self { pool })
    }

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    /// The search grams live beside the cases: nothing to prepare.
    async fn search_ready(&self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// One chunk of the search backlog indexed, claimed in the transaction that writes its
    /// grams (instances share the backlog).
    async fn index_chunk(&self, limit: u32) -> Result<usize, sqlx::Error> {
        index_backlog(self.writer(), limit).await
    }
}

impl_shared_queries!(
    PostgresStore,
    Postgres,
    MIGRATOR,
    "postgres",
    Some("select pg_advisory_xact_lock(hashtext($1))"),
    Some("pg_advisory_xact_lock(hashtext(k))")
);
