//! Storage behind one trait, one module per backend: SQLite (the embedded default) and
//! PostgreSQL (several instances sharing one server). The backend is chosen from the URL.
//!
//! [`Store`] is the sum of one trait per area, each in its own file with its record types and
//! its SQL: [`cases`], [`queue`] (the shared queue and its search), [`intake`] (registering,
//! with [`intake_batch`], a website batch's multi-row statements), [`voicemail`],
//! [`callbacks`] (with [`callback_work`], an attempt and what it does), [`outbox`], [`accounts`], [`oversight`], [`ratings`], [`retention`],
//! [`audit`] and [`statistics`]. What every write shares (a case, an event in the hash chain,
//! an outbox row) is in [`write`]. Both engines run the same SQL: `impl_store!` stamps each
//! area's queries out for an engine's pool type, and [`sqlite`] and [`postgres`] hold only
//! what really differs (connections, the search index, locks). Both pass the same tests.

pub mod accounts;
pub mod audit;
pub mod bulletins;
mod callback_lists;
pub mod callback_work;
pub mod callbacks;
pub mod calls;
pub mod cases;
pub mod directory;
pub mod evaluation;
pub mod group_commit;
pub mod intake;
mod intake_batch;
pub mod outbox;
pub mod oversight;
mod postgres;
pub mod problems;
pub mod queue;
pub mod ratings;
pub mod retention;
mod rows;
mod sender_limits;
mod sqlite;
pub mod statistics;
pub mod transcripts;
pub mod transfer;
pub mod user_admin;
pub mod voicemail;
mod write;

use std::sync::Arc;

pub use accounts::*;
pub use audit::*;
pub use callback_work::*;
pub use callbacks::*;
pub use cases::*;
pub use group_commit::Batcher;
pub use intake::*;
pub use outbox::*;
pub use oversight::*;
pub use postgres::PostgresStore;
pub use queue::*;
pub use ratings::*;
pub use retention::*;
pub use sqlite::{attach_search, search_file, SqliteStore};
pub use statistics::*;
pub use user_admin::*;
pub use voicemail::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Someone else changed the record first.
    #[error("the record was changed by someone else")]
    Conflict,
    /// A unique value already exists.
    #[error("the record already exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// The same failure for another waiter of a failed batch (errors are not `Clone`).
    pub fn replicate(&self) -> StoreError {
        match self {
            StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
            StoreError::Conflict => StoreError::Conflict,
            StoreError::Duplicate => StoreError::Duplicate,
            StoreError::Other(e) => StoreError::Other(anyhow::anyhow!("{e:#}")),
        }
    }
}
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
            // The server is going away or not there yet (SQLSTATE class 08, connection
            // exception; 57P0x, shut down or starting): a retry later will do.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Prepared statements a connection keeps: the website batch's shapes (up to nine statements:
/// the fold look-up, the limits' delete and count on PostgreSQL, six inserts; each in up to
/// [`BATCH_RUN`] lengths) and every other query, with room.
/// On PostgreSQL each pooled connection holds its own copies on the server: measured, the
/// eight connections' private memory grew by 25–30 MB in all (docs/BENCHMARKS.md, session 7).
pub const STATEMENT_CACHE: usize = 512;

/// Splits `items` into runs whose lengths are powers of two (largest first, at most `cap`):
/// a multi-row statement over them takes only a few shapes, so each shape is prepared once
/// and then found in the statement cache instead of being parsed again for every batch size.
pub fn pow2_runs<T>(items: &[T], cap: usize) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let mut len = cap.max(1).min(rest.len()).next_power_of_two();
        while len > rest.len() || len > cap.max(1) {
            len /= 2;
        }
        let (run, tail) = rest.split_at(len);
        runs.push(run);
        rest = tail;
    }
    runs
}

#[cfg(test)]
mod pow2_tests {
    #[test]
    fn runs_are_powers_of_two_up_to_the_cap() {
        let items: Vec<u32> = (0..100).collect();
        let lens: Vec<usize> = super::pow2_runs(&items, 32)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(lens, vec![32, 32, 32, 4]);
        let lens: Vec<usize> = super::pow2_runs(&items[..15], 64)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(lens, vec![8, 4, 2, 1]);
        assert!(super::pow2_runs::<u32>(&[], 8).is_empty());
        let all: Vec<u32> = super::pow2_runs(&items, 16).concat();
        assert_eq!(all, items);
    }
}

/// Everything youmen keeps, on one engine: the sum of the areas' traits.
#[async_trait::async_trait]
pub trait Store:
    AccountStore
    + AuditStore
    + CallbackStore
    + CallbackWorkStore
    + calls::CallStore
    + directory::DirectoryStore
    + problems::ProblemStore
    + bulletins::BulletinStore
    + evaluation::EvaluationStore
    + transcripts::TranscriptStore
    + UserAdminStore
    + CaseStore
    + IntakeStore
    + OutboxStore
    + OversightStore
    + QueueStore
    + RatingStore
    + RetentionStore
    + StatisticsStore
    + VoicemailStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> &'static str;

    /// Applies the pending migrations of this backend.
    async fn migrate(&self) -> StoreResult<()>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
}

/// Implements [`Store`] (every area's trait) for an engine's store `$store`, whose
/// `writer()` and `reader()` return `&sqlx::Pool<$db>`; `$migrator` is its migrator and
/// `$name` its name. The engine's module defines `BATCH_LOCK`: an expression taking a
/// transaction-scoped lock on each key of a column `k`, for a batch's keys in one statement;
/// None where a single writer makes locks unnecessary (SQLite). It also provides `search_ready`, `index_chunk`, `gram_candidates`
/// and `sender_limits`, where the engines really differ.
macro_rules! impl_store {
    ($store:ty, $db:ty, $migrator:expr, $name:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn migrate(&self) -> $crate::storage::StoreResult<()> {
                $migrator.run(self.writer()).await.map_err(|e| {
                    $crate::storage::StoreError::Other(anyhow::Error::new(e).context("applying migrations"))
                })?;
                self.search_ready().await?;
                // A long search backlog (an upgrade that rebuilds the index, an import) is left
                // to the indexer job, in the background: indexing a million cases here took
                // four minutes, before the service, or any CLI command, could start.
                let (waiting,): (i64,) = sqlx::query_as("select count(*) from search_backlog")
                    .fetch_one(self.reader())
                    .await?;
                if waiting >= i64::from($crate::storage::SEARCH_INDEX_CHUNK) * 4 {
                    tracing::info!(
                        cases = waiting,
                        "cases wait for the search index; the indexer catches up in the background, \
                         and searches find them by their text meanwhile"
                    );
                }
                Ok(())
            }

            async fn ping(&self) -> $crate::storage::StoreResult<()> {
                sqlx::query("select 1").execute(self.reader()).await?;
                Ok(())
            }
        }

        $crate::storage::write::impl_write_helpers!($db);
        $crate::storage::intake_batch::impl_website_batch!($db);
        $crate::storage::accounts::impl_account_store!($store, $db);
        $crate::storage::audit::impl_audit_store!($store, $db);
        $crate::storage::callback_lists::impl_callback_list_helpers!($db);
        $crate::storage::callbacks::impl_callback_store!($store, $db);
        $crate::storage::callback_work::impl_callback_work_store!($store, $db);
        $crate::storage::calls::impl_call_store!($store, $db);
        $crate::storage::directory::impl_directory_store!($store, $db);
        $crate::storage::problems::impl_problem_store!($store, $db);
        $crate::storage::bulletins::impl_bulletin_store!($store, $db);
        $crate::storage::evaluation::impl_evaluation_store!($store, $db);
        $crate::storage::transcripts::impl_transcript_store!($store, $db);
        $crate::storage::user_admin::impl_user_admin_store!($store, $db);
        $crate::storage::cases::impl_case_store!($store, $db);
        $crate::storage::intake::impl_intake_store!($store, $db);
        $crate::storage::outbox::impl_outbox_store!($store, $db);
        $crate::storage::oversight::impl_oversight_store!($store, $db);
        $crate::storage::queue::impl_queue_store!($store, $db);
        $crate::storage::ratings::impl_rating_store!($store, $db);
        $crate::storage::retention::impl_retention_store!($store, $db);
        $crate::storage::statistics::impl_statistics_store!($store, $db);
        $crate::storage::voicemail::impl_voicemail_store!($store, $db);
    };
}

pub(crate) use impl_store;

/// Opens the store the URL names: `sqlite://…` or `postgres://…`.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            PostgresStore::connect(url, max_connections).await?,
        ))
    } else {
        anyhow::bail!(
            "database.url must start with sqlite:// or postgres:// (got `{}`)",
            scheme_of(url)
        )
    }
}

/// The scheme only: a URL may carry a password.
fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}
