//! PostgreSQL: the scale-out engine. Several youmen instances share one server; the day's
//! case counter row is locked by the registering transaction, so numbers stay unique and
//! gap-free across instances.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};

use super::impl_store;

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
            .connect_with(options.statement_cache_capacity(super::STATEMENT_CACHE))
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

    /// None: the limits are rows of `rate_hits`, counted together by every instance.
    fn sender_limits(&self) -> Option<&super::sender_limits::SenderLimits> {
        None
    }

    /// The search grams live beside the cases: nothing to prepare.
    async fn search_ready(&self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Takes up to `limit` cases from the search backlog and replaces their bigrams, in one
    /// transaction. Deleting their backlog rows claims them: a second instance running at
    /// the same time waits for the rows, finds them gone and skips them. A case's old row
    /// goes first (a case back in the backlog, anonymized, keeps none of its former name's);
    /// the new ones, one array of bigrams per case, are written by one statement whatever
    /// the chunk's size.
    async fn index_chunk(&self, limit: u32) -> Result<usize, sqlx::Error> {
        let mut tx = self.writer().begin().await?;
        let rows: Vec<super::IndexedText> = sqlx::query_as(
            "with taken as (delete from search_backlog where case_id in \
                 (select case_id from search_backlog order by case_id limit $1) returning case_id) \
             select c.id, c.citizen_name, c.phone_original, \
                 c.description || coalesce((select ' ' || string_agg(t.text, ' ' order by t.recording_id) \
                     from transcriptions t where t.case_id = c.id and t.text is not null), '') \
             from cases c join taken on taken.case_id = c.id",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (rows, grams) = super::sorted_grams_apart(rows).await;
        let ids: Vec<i64> = rows.iter().map(|(id, ..)| *id).collect();
        sqlx::query("delete from case_search where case_id = any($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        let (grams, cases): (Vec<String>, Vec<i64>) = grams.into_iter().unzip();
        sqlx::query(
            "insert into case_search (case_id, grams) \
             select case_id, array_agg(gram) from unnest($1::text[], $2::bigint[]) g (gram, case_id) \
             group by case_id",
        )
        .bind(&grams)
        .bind(&cases)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        metrics::counter!("youmen_search_indexed_total").increment(rows.len() as u64);
        Ok(rows.len())
    }

    /// The indexed cases that hold every one of `grams` (a search's bigrams), when there are
    /// fewer than [`COMMON_GRAM`](super::queue::COMMON_GRAM); None when there are more
    /// (the words are common: a scan in page order fills the page sooner). The GIN index
    /// intersects the bigrams' posting lists itself, stepping through the common ones by the
    /// rare ones.
    async fn gram_candidates(&self, grams: &[String]) -> Result<Option<Vec<i64>>, sqlx::Error> {
        if grams.is_empty() {
            return Ok(None);
        }
        let common = super::queue::COMMON_GRAM;
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "select case_id from case_search where grams @> $1::text[] limit {common}"
        ))
        .bind(grams)
        .fetch_all(self.reader())
        .await?;
        Ok((ids.len() < common as usize).then_some(ids))
    }
}

/// A transaction-scoped advisory lock on each key of a column `k` (a batch's keys, see
/// `storage::intake::lock_keys`).
const BATCH_LOCK: Option<&str> = Some("pg_advisory_xact_lock(hashtext(k))");

impl PostgresStore {
    /// Listens for call changes from every instance; the listener reconnects by itself.
    async fn watch_calls_impl(
        &self,
        changes: tokio::sync::watch::Sender<u64>,
    ) -> super::StoreResult<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(self.reader()).await?;
        listener.listen("youmen_calls").await?;
        loop {
            listener.recv().await?;
            changes.send_modify(|v| *v = v.wrapping_add(1));
        }
    }
}

/// Wakes every instance's screen pops when a call changes (see `storage::calls`).
const CALLS_NOTIFY: Option<&str> = Some("select pg_notify('youmen_calls', '')");

/// Seconds from `c.answered_at` to `c.ended_at`.
const SECONDS_HANDLED: &str = "extract(epoch from (c.ended_at - c.answered_at))";

impl_store!(PostgresStore, Postgres, MIGRATOR, "postgres");
