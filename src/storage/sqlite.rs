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
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().pragma("cache_size", "-32768"))
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
            .connect_with(options.pragma("cache_size", "-8192"))
            .await
            .context("opening SQLite readers")?;
        Ok(Self { writer, reader })
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }
}

impl_shared_queries!(SqliteStore, Sqlite, MIGRATOR, "sqlite", None, None);
