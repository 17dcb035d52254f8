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

/// Cases per counter and per department (most first), and those with neither, from rows of
/// counter, department, cases, staff-side.
pub(crate) fn places(
    rows: &[(Option<String>, Option<String>, i64, i64)],
) -> (Vec<PlaceCount>, Vec<PlaceCount>, i64) {
    use std::collections::BTreeMap;
    let (mut counters, mut departments) = (BTreeMap::<&str, (i64, i64)>::new(), BTreeMap::new());
    let mut unknown = 0;
    for (counter, department, cases, staff_side) in rows {
        for (map, code) in [(&mut counters, counter), (&mut departments, department)] {
            if let Some(code) = code {
                let e = map.entry(code.as_str()).or_default();
                e.0 += cases;
                e.1 += staff_side;
            }
        }
        if counter.is_none() && department.is_none() {
            unknown += cases;
        }
    }
    let ranked = |map: BTreeMap<&str, (i64, i64)>| {
        let mut v: Vec<PlaceCount> = map
            .into_iter()
            .map(|(code, (cases, staff_side))| PlaceCount {
                code: code.to_owned(),
                cases,
                staff_side,
            })
            .collect();
        v.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.code.cmp(&b.code)));
        v
    };
    (ranked(counters), ranked(departments), unknown)
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
                use $crate::storage::bulletins::{CounterRating, ProblemCount, Reform};
                let pool = self.reader();
                // One pass of the tally index: cases by the counter and the department where
                // they failed (no filter on either, so no other index looks cheaper).
                let scope = $crate::storage::statistics::tally_scope("", None);
                let places: Vec<(Option<String>, Option<String>, i64, i64)> = sqlx::query_as(&format!(
                    "select failed_counter, failed_department, count(*), sum(case when cause = 'staff_side' then 1 else 0 end) \
                     from cases where {scope} group by failed_counter, failed_department"
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                let (by_counter, by_department, place_unknown) = $crate::storage::bulletins::places(&places);
                // The period's ratings from their own index, each case looked up for its counter.
                let ratings: Vec<(String, String, i64)> = sqlx::query_as(&format!(
                    "select c.failed_counter, r.level, count(*) from ratings r join cases c on c.id = r.case_id \
                     where r.level in ({}) and r.case_received_at >= $1 and r.case_received_at < $2 \
                     group by c.failed_counter, r.level",
                    $crate::domain::vocab::sql_list($crate::domain::vocab::Rating::ALL, $crate::domain::vocab::Rating::as_str),
                ))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
                .into_iter()
                .filter_map(|(counter, level, n): (Option<String>, String, i64)| Some((counter?, level, n)))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
                let events = |action: &'static str| async move {
                    let rows: Vec<(String,)> = sqlx::query_as(&format!(
                        "select e.after_state from case_events e where {} and e.action = $3 and e.at >= $1 and e.at < $2",
                        $crate::storage::statistics::REPORTED_EVENTS,
                    ))
                    .bind(from)
                    .bind(to)
                    .bind(action)
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
