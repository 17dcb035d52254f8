//! Counts: the statistics of a period, and the gauges `/metrics` reports at a scrape.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// Counts over a period, for the statistics page and API.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Statistics {
    pub total: i64,
    pub by_channel: Vec<(String, i64)>,
    pub by_cause: Vec<(String, i64)>,
    pub by_tier: Vec<(String, i64)>,
    pub by_status: Vec<(String, i64)>,
    /// Per tier: finished cases, and those finished by their deadline.
    pub on_time: Vec<(String, i64, i64)>,
    /// Callback entries due in the period, reached by their deadline, reached late or not.
    pub callbacks_total: i64,
    pub callbacks_on_time: i64,
    pub ratings: Vec<(String, i64)>,
    /// Staff-side causes per matter (the matter's department).
    pub staff_side_by_matter: Vec<(String, i64)>,
    /// Answered on the phone and closed at once, or answered on the call back.
    pub consultations: i64,
    /// Of those, answered on the call back.
    pub answered_by_callback: i64,
    /// Calls that left no message, by how they ended (not cases until someone spoke to the
    /// caller).
    pub missed_calls: super::MissedCallCounts,
    /// Calls answered per hour and operator, handling time, missed calls per line.
    pub calls: super::calls::CallCounts,
}

/// What /metrics reports of the database at a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Open cases by status and tier.
    pub open: Vec<(String, String, i64)>,
    pub overdue: i64,
    /// Every case ever registered, by channel.
    pub by_channel: Vec<(String, i64)>,
    /// Callback entries not finished.
    pub callback_backlog: i64,
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub outbox_oldest: Option<DateTime<Utc>>,
    pub quarantine_open: i64,
}

#[async_trait::async_trait]
pub trait StatisticsStore: Send + Sync {
    /// Counts of the cases received in `[from, to)`.
    async fn statistics(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Statistics>;

    /// The gauges /metrics reports.
    async fn gauges(&self, now: DateTime<Utc>) -> StoreResult<Gauges>;
}

/// Implements [`StatisticsStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_statistics_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::StatisticsStore for $store {
            async fn statistics(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::Statistics> {
                let pool = self.reader();
                let grouped = |column: &'static str| {
                    let sql = format!(
                        "select {column}, count(*) from cases where received_at >= $1 and received_at < $2 group by {column} order by {column}"
                    );
                    async move {
                        let rows: Vec<(String, i64)> = sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
                        Ok::<_, sqlx::Error>(rows)
                    }
                };
                let by_channel = grouped("channel").await?;
                let by_cause = grouped("cause").await?;
                let by_tier = grouped("tier").await?;
                let by_status = grouped("status").await?;
                let total = by_channel.iter().map(|(_, n)| n).sum();
                let finishing = $crate::domain::vocab::sql_list(
                    &$crate::domain::EventKind::FINISHING,
                    $crate::domain::EventKind::as_str,
                );
                let on_time: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
                    "select c.tier, count(*), sum(case when f.at <= c.deadline then 1 else 0 end) from cases c \
                     join (select case_id, min(at) as at from case_events where action in ({finishing}) group by case_id) f \
                     on f.case_id = c.id where c.received_at >= $1 and c.received_at < $2 group by c.tier order by c.tier",
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (callbacks_total, callbacks_on_time): (i64, Option<i64>) = sqlx::query_as(
                    "select count(*), sum(case when reached_at is not null and reached_at <= deadline_at then 1 else 0 end) \
                     from callback_entries where opening_at >= $1 and opening_at < $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await?;
                let ratings: Vec<(String, i64)> = sqlx::query_as(
                    "select r.level, count(*) from ratings r join cases c on c.id = r.case_id \
                     where c.received_at >= $1 and c.received_at < $2 group by r.level order by r.level",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let staff_side_by_matter: Vec<(String, i64)> = sqlx::query_as(
                    "select matter, count(*) from cases where cause = 'staff_side' and received_at >= $1 and received_at < $2 \
                     group by matter order by count(*) desc, matter",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (consultations,): (i64,) = sqlx::query_as(
                    "select count(*) from cases where consultation = $3 and received_at >= $1 and received_at < $2",
                )
                .bind(from)
                .bind(to)
                .bind(true)
                .fetch_one(pool)
                .await?;
                let (answered_by_callback,): (i64,) = sqlx::query_as(
                    "select count(*) from cases c where c.consultation = $3 and c.received_at >= $1 and c.received_at < $2 \
                     and exists (select 1 from case_events e where e.case_id = c.id and e.action = $4)",
                )
                .bind(from)
                .bind(to)
                .bind(true)
                .bind($crate::domain::EventKind::AnsweredByCallback.as_str())
                .fetch_one(pool)
                .await?;
                let missed_calls = $crate::storage::CallbackWorkStore::missed_call_counts(self, from, to).await?;
                let calls = $crate::storage::calls::CallStore::call_counts(self, from, to).await?;
                Ok($crate::storage::Statistics {
                    total,
                    by_channel,
                    by_cause,
                    by_tier,
                    by_status,
                    on_time,
                    callbacks_total,
                    callbacks_on_time: callbacks_on_time.unwrap_or(0),
                    ratings,
                    staff_side_by_matter,
                    consultations,
                    answered_by_callback,
                    missed_calls,
                    calls,
                })
            }

            async fn gauges(&self, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<$crate::storage::Gauges> {
                let pool = self.reader();
                let open: Vec<(String, String, i64)> = sqlx::query_as(
                    "select status, tier, count(*) from cases where status in ('new', 'in_progress') group by status, tier order by status, tier",
                )
                .fetch_all(pool)
                .await?;
                let (overdue,): (i64,) = sqlx::query_as(
                    "select count(*) from cases where status in ('new', 'in_progress') and deadline < $1",
                )
                .bind(now)
                .fetch_one(pool)
                .await?;
                let by_channel: Vec<(String, i64)> =
                    sqlx::query_as("select channel, count(*) from cases group by channel order by channel")
                        .fetch_all(pool)
                        .await?;
                let (callback_backlog,): (i64,) =
                    sqlx::query_as("select count(*) from callback_entries where status = 'open'")
                        .fetch_one(pool)
                        .await?;
                let (outbox_pending, outbox_oldest): (i64, Option<chrono::DateTime<chrono::Utc>>) =
                    sqlx::query_as("select count(*), min(created_at) from outbox where status = 'pending'")
                        .fetch_one(pool)
                        .await?;
                let (outbox_dead,): (i64,) = sqlx::query_as("select count(*) from outbox where status = 'dead'")
                    .fetch_one(pool)
                    .await?;
                let (quarantine_open,): (i64,) =
                    sqlx::query_as("select count(*) from quarantine where resolved_at is null")
                        .fetch_one(pool)
                        .await?;
                Ok($crate::storage::Gauges {
                    open,
                    overdue,
                    by_channel,
                    callback_backlog,
                    outbox_pending,
                    outbox_dead,
                    outbox_oldest,
                    quarantine_open,
                })
            }
        }
    };
}

pub(crate) use impl_statistics_store;
