//! The counts of a conduct bulletin (行风建设通报) beyond the statistics: cases per counter
//! and department with their staff-side causes, ratings per counter, summons and how fast
//! they were answered, accountability outcomes (counts only), common problems and reforms.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// Cases that failed at a place, and how many of them were the staff's doing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PlaceCount {
    pub code: String,
    pub cases: i64,
    pub staff_side: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CounterRating {
    pub counter: String,
    pub level: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomeCount {
    pub outcome: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProblemCount {
    pub id: i64,
    pub title: String,
    /// Its cases received in the period.
    pub cases: i64,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Reform {
    pub id: i64,
    pub title: String,
    pub document: String,
    pub date: String,
}

/// What a bulletin counts besides the statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BulletinCounts {
    pub by_department: Vec<PlaceCount>,
    pub by_counter: Vec<PlaceCount>,
    /// Cases whose place of failure is not recorded.
    pub place_unknown: i64,
    pub ratings_by_counter: Vec<CounterRating>,
    pub summons: i64,
    /// Minutes each arrival took, in the period.
    pub arrival_minutes: Vec<i64>,
    /// Accountability outcomes recorded in the period.
    pub accountability: Vec<OutcomeCount>,
    /// Common problems with cases in the period, most first.
    pub problems: Vec<ProblemCount>,
    /// Reforms adopted in the period.
    pub reforms: Vec<Reform>,
}

#[async_trait::async_trait]
pub trait BulletinStore: Send + Sync {
    /// The counts of cases received (and events made) in `[from, to)`; reforms adopted between
    /// the two local dates.
    async fn bulletin_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        first_day: &str,
        last_day: &str,
    ) -> StoreResult<BulletinCounts>;

    /// Queues the bulletin of `period` to `recipients`, once: false when it was queued already.
    async fn queue_bulletin(
        &self,
        period: &str,
        recipients: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Implements [`BulletinStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_bulletin_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::bulletins::BulletinStore for $store {
            async fn bulletin_counts(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                first_day: &str,
                last_day: &str,
            ) -> $crate::storage::StoreResult<$crate::storage::bulletins::BulletinCounts> {
                use $crate::storage::bulletins::{CounterRating, PlaceCount, ProblemCount, Reform};
                let pool = self.reader();
                let place = |column: &'static str| {
                    let sql = format!(
                        "select {column}, count(*), sum(case when cause = 'staff_side' then 1 else 0 end) from cases \
                         where received_at >= $1 and received_at < $2 and {column} is not null \
                         group by {column} order by count(*) desc, {column}"
                    );
                    async move {
                        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
                        Ok::<_, sqlx::Error>(
                            rows.into_iter()
                                .map(|(code, cases, staff_side)| PlaceCount { code, cases, staff_side })
                                .collect::<Vec<_>>(),
                        )
                    }
                };
                let by_department = place("failed_department").await?;
                let by_counter = place("failed_counter").await?;
                let (place_unknown,): (i64,) = sqlx::query_as(
                    "select count(*) from cases where received_at >= $1 and received_at < $2 \
                     and failed_department is null and failed_counter is null",
                )
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await?;
                let ratings: Vec<(String, String, i64)> = sqlx::query_as(
                    "select c.failed_counter, r.level, count(*) from ratings r join cases c on c.id = r.case_id \
                     where c.received_at >= $1 and c.received_at < $2 and c.failed_counter is not null \
                     group by c.failed_counter, r.level order by c.failed_counter, r.level",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let events = |action: &'static str| async move {
                    let rows: Vec<(String,)> = sqlx::query_as(
                        "select after_state from case_events where action = $1 and at >= $2 and at < $3",
                    )
                    .bind(action)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await?;
                    Ok::<_, sqlx::Error>(
                        rows.into_iter()
                            .filter_map(|(after,)| serde_json::from_str::<serde_json::Value>(&after).ok())
                            .collect::<Vec<_>>(),
                    )
                };
                let summons = events("summon").await?.len() as i64;
                let arrival_minutes = events("summon_arrived")
                    .await?
                    .iter()
                    .filter_map(|a| a["minutes_to_arrive"].as_i64())
                    .collect();
                let mut accountability: std::collections::BTreeMap<String, i64> = Default::default();
                for a in events("record_accountability").await? {
                    let outcome = a["accountability_outcome"].as_str().unwrap_or("unrecorded").to_owned();
                    *accountability.entry(outcome).or_default() += 1;
                }
                let problems: Vec<(i64, String, i64, String)> = sqlx::query_as(
                    "select p.id, p.title, count(*), p.status from problem_cases l join problems p on p.id = l.problem_id \
                     join cases c on c.id = l.case_id where c.received_at >= $1 and c.received_at < $2 \
                     group by p.id, p.title, p.status order by count(*) desc, p.id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let reforms: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
                    "select id, title, reform_document, reform_date from problems where status = 'reform_adopted' \
                     and reform_date >= $1 and reform_date <= $2 order by reform_date, id",
                )
                .bind(first_day)
                .bind(last_day)
                .fetch_all(pool)
                .await?;
                Ok($crate::storage::bulletins::BulletinCounts {
                    by_department,
                    by_counter,
                    place_unknown,
                    ratings_by_counter: ratings
                        .into_iter()
                        .map(|(counter, level, count)| CounterRating { counter, level, count })
                        .collect(),
                    summons,
                    arrival_minutes,
                    accountability: accountability
                        .into_iter()
                        .map(|(outcome, count)| $crate::storage::bulletins::OutcomeCount { outcome, count })
                        .collect(),
                    problems: problems
                        .into_iter()
                        .map(|(id, title, cases, status)| ProblemCount { id, title, cases, status })
                        .collect(),
                    reforms: reforms
                        .into_iter()
                        .map(|(id, title, document, date)| Reform {
                            id,
                            title,
                            document: document.unwrap_or_default(),
                            date: date.unwrap_or_default(),
                        })
                        .collect(),
                })
            }

            async fn queue_bulletin(
                &self,
                period: &str,
                recipients: &[String],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let new = sqlx::query("insert into bulletin_runs (period, created_at) values ($1, $2) on conflict do nothing")
                    .bind(period)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if new == 0 {
                    return Ok(false);
                }
                let payload = serde_json::json!({"period": period}).to_string();
                let rows: Vec<_> = recipients
                    .iter()
                    .map(|to| (None, $crate::domain::Topic::Bulletin, to.as_str(), payload.clone(), now))
                    .collect();
                insert_outbox_rows(&mut tx, &rows).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_bulletin_store;
