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
                let finishing = $crate::domain::vocab::sql_list(
                    &$crate::domain::EventKind::FINISHING,
                    $crate::domain::EventKind::as_str,
                );
                let good = "r.level in ('very_satisfied', 'satisfied')";
                let bad = "r.level in ('dissatisfied', 'very_dissatisfied')";
                let on_time = "f.at is not null and f.at <= c.deadline";
                let joins = format!(
                    "from cases c left join ratings r on r.case_id = c.id \
                     left join (select case_id, min(at) as at from case_events where action in ({finishing}) group by case_id) f \
                     on f.case_id = c.id"
                );
                let place = |column: &'static str| {
                    let sql = format!(
                        "select c.{column}, count(*), sum(case when c.cause = 'staff_side' then 1 else 0 end), \
                         sum(case when {good} then 1 else 0 end), sum(case when {bad} then 1 else 0 end), \
                         sum(case when {on_time} then 1 else 0 end) {joins} \
                         where c.received_at >= $1 and c.received_at < $2 and c.{column} is not null group by c.{column}"
                    );
                    async move {
                        let rows: Vec<(String, i64, i64, i64, i64, i64)> =
                            sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
                        Ok::<_, sqlx::Error>(
                            rows.into_iter()
                                .map(|(code, a, b, c, d, e)| (code, vec![a, b, c, d, e]))
                                .collect::<Vec<_>>(),
                        )
                    }
                };
                let counters = place("failed_counter").await?;
                let departments = place("failed_department").await?;
                let sql = format!(
                    "select c.owner, count(*), sum(case when {on_time} then 1 else 0 end), \
                     sum(case when {good} then 1 else 0 end), sum(case when {bad} then 1 else 0 end) {joins} \
                     where c.received_at >= $1 and c.received_at < $2 and c.owner is not null group by c.owner"
                );
                let owned: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
                let reached: Vec<(String, i64)> = sqlx::query_as(
                    "select actor, count(*) from callback_attempts where at >= $1 and at < $2 \
                     and outcome in ('reached_resolved', 'reached_continues') group by actor",
                )
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let mut staff: std::collections::BTreeMap<String, Vec<i64>> = owned
                    .into_iter()
                    .map(|(name, a, b, c, d)| (name, vec![a, b, c, d, 0]))
                    .collect();
                for (name, n) in reached {
                    staff.entry(name).or_insert_with(|| vec![0; 5])[4] += n;
                }
                Ok($crate::storage::evaluation::EvaluationFigures {
                    counters,
                    departments,
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
