//! SQLite: the embedded default. One file, WAL mode, and every acknowledged write synced.
//!
//! Writes go through a pool of exactly one connection, so transactions never contend for
//! the write lock (no `SQLITE_BUSY` under load) and the day's case counter is serialized;
//! reads use a separate pool and run concurrently with the writer, as WAL allows.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::shared::impl_shared_queries;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    _checkpointer: Checkpointer,
}

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
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
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
            _checkpointer: Checkpointer::spawn(checkpoints),
        })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }
}

impl_shared_queries!(SqliteStore, Sqlite, MIGRATOR, "sqlite", None, None);

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
