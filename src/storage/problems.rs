//! The register of common problems (共性问题) and the cases linked to each; linking a case is
//! on its timeline.

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::domain::problem::{ProblemDraft, ProblemStatus};

/// A problem as stored, with how many cases are linked.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemRecord {
    pub id: i64,
    pub title: String,
    pub fault: String,
    pub status: ProblemStatus,
    pub reform_document: Option<String>,
    pub reform_date: Option<NaiveDate>,
    pub reform_summary: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub cases: i64,
}

/// A case linked to a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemCase {
    pub number: String,
    pub received_at: DateTime<Utc>,
    pub status: String,
    pub linked_by: String,
}

#[async_trait::async_trait]
pub trait ProblemStore: Send + Sync {
    async fn create_problem(
        &self,
        draft: &ProblemDraft,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;

    /// False if there is no such problem.
    async fn update_problem(
        &self,
        id: i64,
        draft: &ProblemDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Every problem, open ones first, newest first.
    async fn problems(&self) -> StoreResult<Vec<ProblemRecord>>;

    async fn problem(&self, id: i64) -> StoreResult<Option<(ProblemRecord, Vec<ProblemCase>)>>;

    /// Links a case to a problem, with an event on the case's timeline; false when it was
    /// linked already.
    async fn link_case_to_problem(
        &self,
        problem_id: i64,
        case_id: i64,
        title: &str,
        actor: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The problems a case is linked to: (id, title).
    async fn problems_of_case(&self, case_id: i64) -> StoreResult<Vec<(i64, String)>>;
}

type Row = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    i64,
);

pub(crate) fn record(r: Row) -> ProblemRecord {
    ProblemRecord {
        id: r.0,
        title: r.1,
        fault: r.2,
        status: ProblemStatus::parse(&r.3).unwrap_or(ProblemStatus::Collecting),
        reform_document: r.4,
        reform_date: r
            .5
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        reform_summary: r.6,
        created_by: r.7,
        created_at: r.8,
        cases: r.9,
    }
}

pub(crate) const PROBLEM_COLUMNS: &str = "p.id, p.title, p.fault, p.status, p.reform_document, \
     p.reform_date, p.reform_summary, p.created_by, p.created_at, \
     (select count(*) from problem_cases l where l.problem_id = p.id)";

/// Implements [`ProblemStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_problem_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::problems::ProblemStore for $store {
            async fn create_problem(
                &self,
                d: &$crate::domain::problem::ProblemDraft,
                by: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<i64> {
                let (id,): (i64,) = sqlx::query_as(
                    "insert into problems (title, fault, status, reform_document, reform_date, reform_summary, \
                     created_by, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $8) returning id",
                )
                .bind(&d.title)
                .bind(&d.fault)
                .bind(d.status.code())
                .bind(&d.reform_document)
                .bind(d.reform_date.map(|x| x.format("%Y-%m-%d").to_string()))
                .bind(&d.reform_summary)
                .bind(by)
                .bind(now)
                .fetch_one(self.writer())
                .await?;
                Ok(id)
            }

            async fn update_problem(
                &self,
                id: i64,
                d: &$crate::domain::problem::ProblemDraft,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query(
                    "update problems set title = $1, fault = $2, status = $3, reform_document = $4, reform_date = $5, \
                     reform_summary = $6, updated_at = $7 where id = $8",
                )
                .bind(&d.title)
                .bind(&d.fault)
                .bind(d.status.code())
                .bind(&d.reform_document)
                .bind(d.reform_date.map(|x| x.format("%Y-%m-%d").to_string()))
                .bind(&d.reform_summary)
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn problems(&self) -> $crate::storage::StoreResult<Vec<$crate::storage::problems::ProblemRecord>> {
                use $crate::storage::problems::PROBLEM_COLUMNS;
                let sql = format!(
                    "select {PROBLEM_COLUMNS} from problems p order by \
                     case when p.status in ('reform_adopted', 'closed_without_reform') then 1 else 0 end, p.id desc"
                );
                let rows = sqlx::query_as(&sql).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map($crate::storage::problems::record).collect())
            }

            async fn problem(
                &self,
                id: i64,
            ) -> $crate::storage::StoreResult<Option<($crate::storage::problems::ProblemRecord, Vec<$crate::storage::problems::ProblemCase>)>> {
                use $crate::storage::problems::PROBLEM_COLUMNS;
                let sql = format!("select {PROBLEM_COLUMNS} from problems p where p.id = $1");
                let Some(row) = sqlx::query_as(&sql).bind(id).fetch_optional(self.reader()).await? else {
                    return Ok(None);
                };
                let cases: Vec<(String, chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(
                    "select c.number, c.received_at, c.status, l.linked_by from problem_cases l \
                     join cases c on c.id = l.case_id where l.problem_id = $1 order by c.received_at, c.id",
                )
                .bind(id)
                .fetch_all(self.reader())
                .await?;
                Ok(Some((
                    $crate::storage::problems::record(row),
                    cases
                        .into_iter()
                        .map(|(number, received_at, status, linked_by)| $crate::storage::problems::ProblemCase {
                            number,
                            received_at,
                            status,
                            linked_by,
                        })
                        .collect(),
                )))
            }

            async fn link_case_to_problem(
                &self,
                problem_id: i64,
                case_id: i64,
                title: &str,
                actor: $crate::domain::By<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let linked = sqlx::query(
                    "insert into problem_cases (problem_id, case_id, linked_by, linked_at) values ($1, $2, $3, $4) \
                     on conflict do nothing",
                )
                .bind(problem_id)
                .bind(case_id)
                .bind(actor.name)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if linked == 0 {
                    return Ok(false);
                }
                let empty = serde_json::json!({});
                let after = serde_json::json!({"problem": problem_id});
                let note = format!("关联共性问题 #{problem_id}：{title}");
                insert_event(&mut tx, case_id, now, actor, $crate::domain::EventKind::LinkProblem, &empty, &after, Some(&note)).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn problems_of_case(&self, case_id: i64) -> $crate::storage::StoreResult<Vec<(i64, String)>> {
                Ok(sqlx::query_as(
                    "select p.id, p.title from problem_cases l join problems p on p.id = l.problem_id \
                     where l.case_id = $1 order by p.id",
                )
                .bind(case_id)
                .fetch_all(self.reader())
                .await?)
            }
        }
    };
}

pub(crate) use impl_problem_store;
