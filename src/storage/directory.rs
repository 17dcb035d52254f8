//! The bureau's directory of departments and counters: seeded from the configuration (an
//! entry already here is left as administrators made it), edited in the pages, retired
//! rather than deleted while cases name it.

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::directory::{DirectoryEntry, EntryKind};

/// What deleting an entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Deleted,
    /// Cases name it: retire it instead.
    InUse,
    NotFound,
}

#[async_trait::async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Adds the configured entries when the directory is empty (the first start); how many
    /// were added.
    async fn seed_directory(
        &self,
        entries: &[DirectoryEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<usize>;

    /// Every entry, retired ones too, departments first, by code.
    async fn directory_entries(&self) -> StoreResult<Vec<DirectoryEntry>>;

    /// Adds or changes an entry (its kind and code are its key); true when it was new.
    async fn save_directory_entry(
        &self,
        entry: &DirectoryEntry,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deletes an entry no case names.
    async fn delete_directory_entry(&self, kind: EntryKind, code: &str) -> StoreResult<Removed>;
}

/// Implements [`DirectoryStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_directory_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::directory::DirectoryStore for $store {
            async fn seed_directory(
                &self,
                entries: &[$crate::domain::directory::DirectoryEntry],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<usize> {
                let mut tx = self.writer().begin().await?;
                // Only the first time: after that the pages are the source (an entry an
                // administrator deleted does not come back with the next start).
                let (present,): (i64,) = sqlx::query_as("select count(*) from directory").fetch_one(&mut *tx).await?;
                if present > 0 {
                    return Ok(0);
                }
                let mut added = 0;
                for e in entries {
                    added += sqlx::query(
                        "insert into directory (kind, code, name, head, contact, department, created_at, updated_at) \
                         values ($1, $2, $3, $4, $5, $6, $7, $7) on conflict (kind, code) do nothing",
                    )
                    .bind(e.kind.as_str())
                    .bind(&e.code)
                    .bind(&e.name)
                    .bind(&e.head)
                    .bind(&e.contact)
                    .bind(&e.department)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() as usize;
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn directory_entries(
                &self,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::directory::DirectoryEntry>> {
                let rows: Vec<(String, String, String, Option<String>, Option<String>, Option<String>, bool)> = sqlx::query_as(
                    "select kind, code, name, head, contact, department, retired_at is not null from directory \
                     order by kind desc, code",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(kind, code, name, head, contact, department, retired)| {
                        Some($crate::domain::directory::DirectoryEntry {
                            kind: $crate::domain::directory::EntryKind::parse(&kind)?,
                            code,
                            name,
                            head,
                            contact,
                            department,
                            retired,
                        })
                    })
                    .collect())
            }

            async fn save_directory_entry(
                &self,
                e: &$crate::domain::directory::DirectoryEntry,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let changed = sqlx::query(
                    "update directory set name = $3, head = $4, contact = $5, department = $6, \
                     retired_at = case when $7 then coalesce(retired_at, $8) else null end, updated_at = $8 \
                     where kind = $1 and code = $2",
                )
                .bind(e.kind.as_str())
                .bind(&e.code)
                .bind(&e.name)
                .bind(&e.head)
                .bind(&e.contact)
                .bind(&e.department)
                .bind(e.retired)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let new = changed == 0;
                if new {
                    sqlx::query(
                        "insert into directory (kind, code, name, head, contact, department, retired_at, created_at, updated_at) \
                         values ($1, $2, $3, $4, $5, $6, case when $7 then $8 else null end, $8, $8)",
                    )
                    .bind(e.kind.as_str())
                    .bind(&e.code)
                    .bind(&e.name)
                    .bind(&e.head)
                    .bind(&e.contact)
                    .bind(&e.department)
                    .bind(e.retired)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(new)
            }

            async fn delete_directory_entry(
                &self,
                kind: $crate::domain::directory::EntryKind,
                code: &str,
            ) -> $crate::storage::StoreResult<$crate::storage::directory::Removed> {
                use $crate::storage::directory::Removed;
                let mut tx = self.writer().begin().await?;
                let column = match kind {
                    $crate::domain::directory::EntryKind::Counter => "failed_counter",
                    $crate::domain::directory::EntryKind::Department => "failed_department",
                };
                let used: Option<(i64,)> = sqlx::query_as(&format!("select id from cases where {column} = $1 limit 1"))
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
                // A department named by a counter, or by a referral, is in use too.
                let named: Option<(i64,)> = match kind {
                    $crate::domain::directory::EntryKind::Department => sqlx::query_as(
                        "select id from directory where kind = 'counter' and department = $1 limit 1",
                    )
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?,
                    $crate::domain::directory::EntryKind::Counter => None,
                };
                if used.is_some() || named.is_some() {
                    return Ok(Removed::InUse);
                }
                let gone = sqlx::query("delete from directory where kind = $1 and code = $2")
                    .bind(kind.as_str())
                    .bind(code)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(match gone {
                    0 => Removed::NotFound,
                    _ => Removed::Deleted,
                })
            }
        }
    };
}

pub(crate) use impl_directory_store;
