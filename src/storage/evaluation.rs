//! The figures of the evaluation (流动红旗, 服务之星, 绩效评估) for a period, and the awards
//! leaders made from it.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// Figures per place: cases that failed there, staff-side, good ratings, bad ratings, on time.
/// Per staff member: handled, on time, good ratings, bad ratings, callers reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationFigures {
    pub counters: Vec<(String, Vec<i64>)>,
    pub departments: Vec<(String, Vec<i64>)>,
    pub staff: Vec<(String, Vec<i64>)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Award {
    pub period: String,
    pub award: String,
    pub subject: String,
    pub reason: String,
    pub awarded_by: String,
    pub awarded_at: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait EvaluationStore: Send + Sync {
    async fn evaluation_figures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<EvaluationFigures>;

    async fn record_award(&self, award: &Award) -> StoreResult<()>;

    async fn awards(&self, period: &str) -> StoreResult<Vec<Award>>;
}

/// Implements [`EvaluationStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_evaluation_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::evaluation::EvaluationStore for $store {
            async fn evaluation_figures(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::evaluation::EvaluationFigures> {
                let pool = self.reader();
                let good = "r.level in ('very_satisfied', 'satisfied')";
                let bad = "r.level in ('dissatisfied', 'very_dissatisfied')";
                // One pass of the tally index for the places and the staff together, then the
                // period's ratings from their own index (each case looked up once).
                let scope = $crate::storage::statistics::tally_scope("c.", None);
                let zero = "cast(0 as bigint)";
                type Row = (Option<String>, Option<String>, Option<String>, i64, i64, i64, i64, i64);
                let mut rows: Vec<Row> = sqlx::query_as(&format!(
                    "select c.failed_counter, c.failed_department, c.owner, count(*), \
                     sum(case when c.cause = 'staff_side' then 1 else 0 end), {zero}, {zero}, \
                     sum(case when c.finished_at <= c.deadline then 1 else 0 end) \
                     from cases c where {scope} group by c.failed_counter, c.failed_department, c.owner"
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let rated: Vec<Row> = sqlx::query_as(&format!(
                    "select c.failed_counter, c.failed_department, c.owner, {zero}, {zero}, \
                     sum(case when {good} then 1 else 0 end), sum(case when {bad} then 1 else 0 end), {zero} \
                     from ratings r join cases c on c.id = r.case_id \
                     where r.level in ({}) and r.case_received_at >= $1 and r.case_received_at < $2 \
                     group by c.failed_counter, c.failed_department, c.owner",
                    $crate::domain::vocab::sql_list($crate::domain::vocab::Rating::ALL, $crate::domain::vocab::Rating::as_str),
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                rows.extend(rated);
                let (mut counters, mut departments, mut owned) = (
                    std::collections::BTreeMap::<String, Vec<i64>>::new(),
                    std::collections::BTreeMap::<String, Vec<i64>>::new(),
                    std::collections::BTreeMap::<String, Vec<i64>>::new(),
                );
                for (counter, department, owner, cases, staff_side, good, bad, on_time) in rows {
                    for (map, code) in [(&mut counters, counter), (&mut departments, department)] {
                        if let Some(code) = code {
                            let v = map.entry(code).or_insert_with(|| vec![0; 5]);
                            for (slot, n) in v.iter_mut().zip([cases, staff_side, good, bad, on_time]) {
                                *slot += n;
                            }
                        }
                    }
                    if let Some(owner) = owner {
                        let v = owned.entry(owner).or_insert_with(|| vec![0; 5]);
                        for (slot, n) in v.iter_mut().zip([cases, on_time, good, bad]) {
                            *slot += n;
                        }
                    }
                }
                let reached: Vec<(String, i64)> = sqlx::query_as(
                    "select actor, count(*) from callback_attempts where at >= $1 and at < $2 \
                     and outcome in ('reached_resolved', 'reached_continues') group by actor",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let mut staff = owned;
                for (name, n) in reached {
                    staff.entry(name).or_insert_with(|| vec![0; 5])[4] += n;
                }
                Ok($crate::storage::evaluation::EvaluationFigures {
                    counters: counters.into_iter().collect(),
                    departments: departments.into_iter().collect(),
                    staff: staff.into_iter().collect(),
                })
            }

            async fn record_award(&self, a: &$crate::storage::evaluation::Award) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into awards (period, award, subject, reason, awarded_by, awarded_at) values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&a.period)
                .bind(&a.award)
                .bind(&a.subject)
                .bind(&a.reason)
                .bind(&a.awarded_by)
                .bind(a.awarded_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn awards(&self, period: &str) -> $crate::storage::StoreResult<Vec<$crate::storage::evaluation::Award>> {
                let rows: Vec<(String, String, String, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select period, award, subject, reason, awarded_by, awarded_at from awards where period = $1 order by id",
                )
                .bind(period)
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(period, award, subject, reason, awarded_by, awarded_at)| $crate::storage::evaluation::Award {
                        period,
                        award,
                        subject,
                        reason,
                        awarded_by,
                        awarded_at,
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use impl_evaluation_store;
