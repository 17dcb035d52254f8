//! The outbox: notifications written in the transaction of the change that causes them,
//! claimed with a lease by the worker that delivers them, settled as sent, retried or dead.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub topic: String,
    pub case_id: Option<i64>,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// Including the attempt this claim is for.
    pub attempts: i64,
}

/// An outbox row as administrators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub topic: String,
    pub case_id: Option<i64>,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims the oldest due outbox row until `lease_until`, counting the attempt.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        holder: &str,
    ) -> StoreResult<Option<OutboxItem>>;

    /// Hands back the outbox and download leases `holder` still holds (a graceful
    /// shutdown), so another instance takes them at once; returns how many.
    async fn release_claims(&self, holder: &str) -> StoreResult<u64>;

    /// `sent` (the payload is then cleared of what it carried), `pending` again at
    /// `next_attempt_at`, or `dead`.
    async fn settle_outbox(
        &self,
        id: i64,
        status: &str,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The outbox, newest first, optionally of one status.
    async fn outbox_list(&self, status: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
}

/// Implements [`OutboxStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_outbox_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::OutboxStore for $store {
            async fn claim_outbox(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                holder: &str,
            ) -> $crate::storage::StoreResult<Option<$crate::storage::OutboxItem>> {
                // As for downloads: the due conditions are checked again outside the
                // subquery, so of two instances picking one row only one gets it.
                let row: Option<(i64, String, Option<i64>, String, String, i64)> = sqlx::query_as(
                    "update outbox set claimed_until = $2, claimed_by = $3, attempts = attempts + 1 \
                     where id = (select id from outbox where status = 'pending' \
                         and next_attempt_at <= $1 and (claimed_until is null or claimed_until < $1) \
                         order by next_attempt_at, id limit 1) \
                     and status = 'pending' and (claimed_until is null or claimed_until < $1) \
                     returning id, topic, case_id, recipient, payload, attempts",
                )
                .bind(now)
                .bind(lease_until)
                .bind(holder)
                .fetch_optional(self.writer())
                .await?;
                let Some((id, topic, case_id, recipient, payload, attempts)) = row else {
                    return Ok(None);
                };
                let payload = serde_json::from_str(&payload).map_err(anyhow::Error::new)?;
                Ok(Some($crate::storage::OutboxItem { id, topic, case_id, recipient, payload, attempts }))
            }

            async fn release_claims(&self, holder: &str) -> $crate::storage::StoreResult<u64> {
                // The attempt in hand was not made: it is not counted.
                let mut released = 0;
                for table in ["outbox", "recording_downloads", "transcriptions"] {
                    released += sqlx::query(&format!(
                        "update {table} set claimed_until = null, claimed_by = null, attempts = attempts - 1 \
                         where claimed_by = $1 and status = 'pending' and claimed_until is not null"
                    ))
                    .bind(holder)
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                }
                Ok(released)
            }

            async fn settle_outbox(
                &self,
                id: i64,
                status: &str,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let sent = status == "sent";
                sqlx::query(
                    "update outbox set status = $1, next_attempt_at = $2, last_error = $3, claimed_until = null, \
                     sent_at = case when $4 then $5 else sent_at end, \
                     payload = case when $4 then '{}' else payload end where id = $6",
                )
                .bind(status)
                .bind(next_attempt_at)
                .bind(error)
                .bind(sent)
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn outbox_list(
                &self,
                status: Option<&str>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::OutboxEntry>> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, Option<i64>, String, String, i64, chrono::DateTime<chrono::Utc>, Option<String>, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> =
                    sqlx::query_as(
                        "select id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, \
                         created_at, sent_at from outbox where ($1 is null or status = $1) order by id desc limit $2",
                    )
                    .bind(status)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at)| {
                        $crate::storage::OutboxEntry {
                            id, topic, case_id, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at,
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use impl_outbox_store;
