//! SQLite: the embedded default. One file, WAL mode, and every acknowledged write synced.
//!
//! Writes go through a pool of exactly one connection, so transactions never contend for
//! the write lock (no `SQLITE_BUSY` under load) and the day's case counter is serialized;
//! reads use a separate pool and run concurrently with the writer, as WAL allows.
//!
//! The search index (the bigrams of every case's text) is a second file beside the first,
//! `<name>.search.db`, with its own writer: SQLite has one write lock per file, and the
//! indexer's chunks, written in the intake file, held the one writer for 40–80 ms at a time
//! (measured: with them, the p99 of a steady 1,000 website messages per second was
//! 58–93 ms; without, 16 ms). The readers attach it, so a search joins the two as one
//! database. It holds nothing that cannot be rebuilt: a missing or new one is refilled from
//! the cases.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::impl_store;
use super::sender_limits::SenderLimits;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    /// The search index file's one writer.
    search: Pool<Sqlite>,
    /// The senders' per-address limits: SQLite is served by one process, so they are
    /// counted in it (see `sender_limits`).
    limits: SenderLimits,
    _checkpointer: Checkpointer,
}

/// The search index file of the database at `db`: `youmen.db` → `youmen.search.db`.
pub fn search_file(db: &Path) -> PathBuf {
    let stem = db.file_stem().unwrap_or_default().to_string_lossy();
    let name = match db.extension() {
        Some(ext) => format!("{stem}.search.{}", ext.to_string_lossy()),
        None => format!("{stem}.search"),
    };
    db.with_file_name(name)
}

/// The search file's layout (`pragma user_version`): 1 once its table exists, 2 once the
/// search backlog has been refilled with every case for it.
const SEARCH_SCHEMA: i64 = 1;
const SEARCH_FILLED: i64 = 2;

/// How often the background checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL pages after which the writer checkpoints by itself, inside a commit: a backstop for
/// when the background checkpointer falls behind (8,000 pages of 4 KiB: 32 MiB).
const WRITER_CHECKPOINT_PAGES: &str = "8000";

/// Copies committed pages from the WAL into the database file on a connection of its own,
/// so that the writer's commits do not (SQLite's automatic checkpoint runs inside the
/// commit that crosses the threshold, with its fsync: a stall of several milliseconds in
/// the middle of intake). Passive: it never waits for, nor blocks, the writer or readers.
/// Stops with the store.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Checkpointer {
    fn spawn(pool: Pool<Sqlite>) -> Self {
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = sqlx::query("pragma wal_checkpoint(passive)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "the background WAL checkpoint failed");
                }
            }
        }))
    }
}

impl SqliteStore {
    /// Opens (creating the file and its folder if needed) the database at `url`.
    pub async fn connect(url: &str, max_readers: u32) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("`{url}` is not a SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit returns only after the WAL is synced to disk, so an
            // acknowledged submission survives a power cut, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if options.get_filename() == Path::new(":memory:") {
            anyhow::bail!(
                "`{url}` is a database in memory: youmen keeps its data in a file (sqlite://data/youmen.db)"
            );
        }
        if let Some(parent) = Path::new(options.get_filename()).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("creating the database folder {}", parent.display())
                })?;
            }
        }
        // SQLite's default page cache is 2 MB: under intake the writer keeps the right-hand
        // pages of a dozen growing indexes hot, and re-reading them from the OS each commit
        // showed up in profiles. A bigger cache for the writer, a modest one per reader
        // (negative sizes are KiB).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // The one writer connection is in this process: pinging it before every batch
            // (sqlx's default) is a round trip to its thread for nothing.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                options
                    .clone()
                    .statement_cache_capacity(super::STATEMENT_CACHE)
                    .pragma("cache_size", "-32768")
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES),
            )
            .await
            .with_context(|| {
                format!(
                    "opening the SQLite database {}",
                    options.get_filename().display()
                )
            })?;
        let search_path = search_file(options.get_filename());
        let search = open_search(&options, &search_path).await?;
        let attach = search_path.to_string_lossy().into_owned();
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                let attach = attach.clone();
                Box::pin(async move { attach_search(conn, &attach).await })
            })
            .connect_with(options.clone().pragma("cache_size", "-8192"))
            .await
            .context("opening SQLite readers")?;
        let checkpoints = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.pragma("cache_size", "-1024"))
            .await
            .context("opening the SQLite checkpointer")?;
        Ok(Self {
            writer,
            reader,
            search,
            limits: SenderLimits::default(),
            _checkpointer: Checkpointer::spawn(checkpoints),
        })
    }

    fn sender_limits(&self) -> Option<&SenderLimits> {
        Some(&self.limits)
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    /// A new (or lost) search file is filled: every case goes into the search backlog, once
    /// the migrations have made it. Idempotent, and marked done in the search file only
    /// after it is committed.
    async fn search_ready(&self) -> Result<(), sqlx::Error> {
        let (layout,): (i64,) = sqlx::query_as("pragma user_version")
            .fetch_one(&self.search)
            .await?;
        if layout >= SEARCH_FILLED {
            return Ok(());
        }
        let queued = sqlx::query(
            "insert into search_backlog (case_id) select id from cases where true on conflict do nothing",
        )
        .execute(&self.writer)
        .await?
        .rows_affected();
        if queued > 0 {
            tracing::info!(
                cases = queued,
                "a new search index file: every case queued for indexing"
            );
        }
        sqlx::query(&format!("pragma user_version = {SEARCH_FILLED}"))
            .execute(&self.search)
            .await?;
        Ok(())
    }

    /// One chunk of the search backlog indexed. The cases are read first, their grams
    /// written in the search file, and only then their backlog rows deleted, in a short
    /// transaction of the intake writer: a crash in between indexes them again (the grams
    /// are replaced, not added), and a case changed since it was read (its version moved
    /// on: anonymized, say) stays in the backlog for the next round.
    async fn index_chunk(&self, limit: u32) -> Result<usize, sqlx::Error> {
        let taken: Vec<(i64, i64, Option<String>, Option<String>, String)> = sqlx::query_as(
            "select c.id, c.version, c.citizen_name, c.phone_original, \
                 c.description || coalesce((select ' ' || group_concat(t.text, ' ') \
                     from transcriptions t where t.case_id = c.id and t.text is not null), '') \
             from search_backlog b join cases c on c.id = b.case_id order by b.case_id limit $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        if taken.is_empty() {
            return Ok(0);
        }
        let (versions, rows): (Vec<(i64, i64)>, Vec<super::IndexedText>) = taken
            .into_iter()
            .map(|(id, version, name, phone, description)| {
                ((id, version), (id, name, phone, description))
            })
            .unzip();
        let (rows, grams) = super::sorted_grams_apart(rows).await;
        let mut tx = self.search.begin().await?;
        write_grams(&mut tx, &rows, &grams).await?;
        tx.commit().await?;
        let mut tx = self.writer.begin().await?;
        for run in super::pow2_runs(&versions, 256) {
            let mut delete = sqlx::QueryBuilder::<Sqlite>::new(
                "delete from search_backlog where case_id in (select c.id from cases c join (values ",
            );
            let mut list = delete.separated(", ");
            for (id, version) in run {
                list.push("(")
                    .push_bind_unseparated(*id)
                    .push_unseparated(", ")
                    .push_bind_unseparated(*version)
                    .push_unseparated(")");
            }
            delete.push(") v on c.id = v.column1 and c.version = v.column2)");
            delete.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        metrics::counter!("youmen_search_indexed_total").increment(rows.len() as u64);
        Ok(rows.len())
    }

    /// The indexed cases that may hold all of `grams` (a search's bigrams): those of its
    /// rarest bigram, when fewer than [`COMMON_GRAM`](super::queue::COMMON_GRAM) cases have
    /// it; None when even the rarest is that common (a scan in page order fills the page
    /// sooner). Each bigram's count is bounded, so a common one costs no more than a rare one.
    async fn gram_candidates(&self, grams: &[String]) -> Result<Option<Vec<i64>>, sqlx::Error> {
        let common = super::queue::COMMON_GRAM;
        let mut rarest: Option<(i64, &String)> = None;
        for g in grams {
            let (n,): (i64,) = sqlx::query_as(&format!(
                "select count(*) from (select 1 from case_grams where gram = $1 limit {common}) sample"
            ))
            .bind(g)
            .fetch_one(&self.reader)
            .await?;
            if rarest.is_none_or(|(m, _)| n < m) {
                rarest = Some((n, g));
            }
            if n == 0 {
                break;
            }
        }
        match rarest {
            Some((0, _)) => Ok(Some(Vec::new())),
            Some((n, gram)) if n < common => Ok(Some(
                sqlx::query_scalar("select case_id from case_grams where gram = $1")
                    .bind(gram)
                    .fetch_all(&self.reader)
                    .await?,
            )),
            _ => Ok(None),
        }
    }
}

/// Replaces the grams of these cases with `grams` (those of their texts, sorted: each index
/// page is visited once): the old ones deleted (a case back in the backlog, anonymized,
/// keeps none of its former name's), the new ones written in multi-row inserts.
async fn write_grams(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    rows: &[super::IndexedText],
    grams: &[(String, i64)],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|(id, ..)| *id).collect();
    for run in super::pow2_runs(&ids, 256) {
        let mut delete =
            sqlx::QueryBuilder::<Sqlite>::new("delete from case_grams where case_id in (");
        let mut list = delete.separated(", ");
        for id in run {
            list.push_bind(*id);
        }
        delete.push(")");
        delete.build().execute(&mut **tx).await?;
    }
    for chunk in super::pow2_runs(grams, 512) {
        let mut insert =
            sqlx::QueryBuilder::<Sqlite>::new("insert into case_grams (gram, case_id) ");
        insert.push_values(chunk, |mut b, (g, id)| {
            b.push_bind(g.as_str()).push_bind(*id);
        });
        insert.push(" on conflict do nothing");
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Opens the search file (creating it and its table if needed) with the intake file's
/// durability: its grams must be on disk before the backlog rows they replace are deleted.
async fn open_search(options: &SqliteConnectOptions, path: &Path) -> anyhow::Result<Pool<Sqlite>> {
    let search = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(
            options
                .clone()
                .filename(path)
                .foreign_keys(false)
                .pragma("cache_size", "-16384"),
        )
        .await
        .with_context(|| format!("opening the SQLite search index {}", path.display()))?;
    let (layout,): (i64,) = sqlx::query_as("pragma user_version")
        .fetch_one(&search)
        .await?;
    if layout < SEARCH_SCHEMA {
        // Search by any two characters: the bigrams of each case's name, phone and
        // description (src/domain/search.rs). No foreign key: the cases are in the other file.
        sqlx::query(
            "create table if not exists case_grams (\
                 gram text not null, \
                 case_id integer not null, \
                 primary key (gram, case_id)\
             ) without rowid",
        )
        .execute(&search)
        .await?;
        sqlx::query("create index if not exists case_grams_case on case_grams (case_id)")
            .execute(&search)
            .await?;
        sqlx::query(&format!("pragma user_version = {SEARCH_SCHEMA}"))
            .execute(&search)
            .await?;
    }
    Ok(search)
}

/// Attaches the search file to a reader connection as `search`: its `case_grams` is then
/// found by its bare name, as on PostgreSQL.
pub async fn attach_search(
    conn: &mut sqlx::SqliteConnection,
    path: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("attach database $1 as search")
        .bind(path)
        .execute(conn)
        .await?;
    Ok(())
}

/// One writer serializes every transaction: no locks needed.
const BATCH_LOCK: Option<&str> = None;

impl SqliteStore {
    /// One instance: nothing to listen to.
    async fn watch_calls_impl(
        &self,
        _changes: tokio::sync::watch::Sender<u64>,
    ) -> super::StoreResult<()> {
        Ok(())
    }
}

/// One instance: the screen pops of this process are woken in memory.
const CALLS_NOTIFY: Option<&str> = None;

/// Seconds from `c.answered_at` to `c.ended_at`.
const SECONDS_HANDLED: &str = "(julianday(c.ended_at) - julianday(c.answered_at)) * 86400.0";

impl_store!(SqliteStore, Sqlite, MIGRATOR, "sqlite");

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits land in the WAL; only a checkpoint copies them into the database file. 200
    /// small commits stay far below the writer's own threshold, so the file grows only if
    /// the background checkpointer runs.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", file.display()), 2)
            .await
            .unwrap();
        sqlx::query("create table t (x text not null)")
            .execute(store.writer())
            .await
            .unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        for _ in 0..200 {
            sqlx::query("insert into t (x) values ($1)")
                .bind("有".repeat(1000))
                .execute(store.writer())
                .await
                .unwrap();
        }
        let until = std::time::Instant::now() + CHECKPOINT_EVERY * 20;
        while std::fs::metadata(&file).unwrap().len() < before + 200 * 3000 {
            assert!(
                std::time::Instant::now() < until,
                "the database file did not grow: nothing checkpointed the WAL"
            );
            tokio::time::sleep(CHECKPOINT_EVERY / 2).await;
        }
    }
}
