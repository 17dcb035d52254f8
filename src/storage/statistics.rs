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

/// The events reports count by kind, as the partial index `case_events_reported` names them:
/// a query that repeats this term (then narrows to one kind) may read that index.
pub(crate) const REPORTED_EVENTS: &str =
    "e.action in ('summon', 'summon_arrived', 'record_accountability', 'answered_by_callback')";

/// The cases received in `[$1, $2)`, written so that the scan is a set of ranges of the
/// `cases_tally` index: every value of each closed vocabulary is named (a case holds no
/// other), in the index's order, so the rows come out grouped and need no sort. `alias` is the
/// cases table's alias with its dot (or empty); `cause` narrows to one cause.
pub(crate) fn tally_scope(alias: &str, cause: Option<crate::domain::vocab::Cause>) -> String {
    use crate::domain::vocab::{sql_list, Cause, Channel, Status, Tier};
    let causes = match cause {
        Some(c) => sql_list(&[c], Cause::as_str),
        None => sql_list(Cause::ALL, Cause::as_str),
    };
    format!(
        "{alias}channel in ({}) and {alias}cause in ({causes}) and {alias}tier in ({}) and {alias}status in ({}) \
         and {alias}consultation in (false, true) and {alias}received_at >= $1 and {alias}received_at < $2",
        sql_list(Channel::ALL, Channel::as_str),
        sql_list(Tier::ALL, Tier::as_str),
        sql_list(Status::ALL, Status::as_str),
    )
}

/// The tally's groups folded into the statistics' counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub total: i64,
    pub by_channel: Vec<(String, i64)>,
    pub by_cause: Vec<(String, i64)>,
    pub by_tier: Vec<(String, i64)>,
    pub by_status: Vec<(String, i64)>,
    pub on_time: Vec<(String, i64, i64)>,
    pub consultations: i64,
}

impl Tally {
    /// From rows of channel, cause, tier, status, consultation, cases, finished, on time.
    pub fn fold(rows: Vec<(String, String, String, String, bool, i64, i64, i64)>) -> Self {
        use std::collections::BTreeMap;
        let mut by: [BTreeMap<String, i64>; 4] = Default::default();
        let mut on_time: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut tally = Tally::default();
        for (channel, cause, tier, status, consultation, n, finished, in_time) in rows {
            tally.total += n;
            for (map, code) in by.iter_mut().zip([channel, cause, tier.clone(), status]) {
                *map.entry(code).or_default() += n;
            }
            if finished > 0 {
                let t = on_time.entry(tier).or_default();
                t.0 += finished;
                t.1 += in_time;
            }
            if consultation {
                tally.consultations += n;
            }
        }
        let [channel, cause, tier, status] = by.map(|m| m.into_iter().collect::<Vec<_>>());
        tally.by_channel = channel;
        tally.by_cause = cause;
        tally.by_tier = tier;
        tally.by_status = status;
        tally.on_time = on_time.into_iter().map(|(t, (f, o))| (t, f, o)).collect();
        tally
    }
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
                // One pass of the tally index gives the counts by channel, cause, tier, status
                // and consultation, and the on-time figures, at most a few hundred groups.
                let scope = $crate::storage::statistics::tally_scope("", None);
                let tally: Vec<(String, String, String, String, bool, i64, i64, i64)> = sqlx::query_as(&format!(
                    "select channel, cause, tier, status, consultation, count(*), count(finished_at), \
                     sum(case when finished_at <= deadline then 1 else 0 end) from cases where {scope} \
                     group by channel, cause, tier, status, consultation"
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let tally = $crate::storage::statistics::Tally::fold(tally);
                let staff_scope = $crate::storage::statistics::tally_scope("", Some($crate::domain::vocab::Cause::StaffSide));
                let staff_side_by_matter: Vec<(String, i64)> = sqlx::query_as(&format!(
                    "select matter, count(*) from cases where {staff_scope} group by matter order by count(*) desc, matter"
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
                let ratings: Vec<(String, i64)> = sqlx::query_as(&format!(
                    "select level, count(*) from ratings where level in ({}) \
                     and case_received_at >= $1 and case_received_at < $2 group by level order by level",
                    $crate::domain::vocab::sql_list($crate::domain::vocab::Rating::ALL, $crate::domain::vocab::Rating::as_str),
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (answered_by_callback,): (i64,) = sqlx::query_as(&format!(
                    "select count(distinct c.id) from case_events e join cases c on c.id = e.case_id \
                     where {} and e.action = $3 and c.consultation = $4 and c.received_at >= $1 and c.received_at < $2",
                    $crate::storage::statistics::REPORTED_EVENTS,
                ))
                .bind(from)
                .bind(to)
                .bind($crate::domain::EventKind::AnsweredByCallback.as_str())
                .bind(true)
                .fetch_one(pool)
                .await?;
                let missed_calls = $crate::storage::CallbackWorkStore::missed_call_counts(self, from, to).await?;
                let calls = $crate::storage::calls::CallStore::call_counts(self, from, to).await?;
                Ok($crate::storage::Statistics {
                    total: tally.total,
                    by_channel: tally.by_channel,
                    by_cause: tally.by_cause,
                    by_tier: tally.by_tier,
                    by_status: tally.by_status,
                    on_time: tally.on_time,
                    callbacks_total,
                    callbacks_on_time: callbacks_on_time.unwrap_or(0),
                    ratings,
                    staff_side_by_matter,
                    consultations: tally.consultations,
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
