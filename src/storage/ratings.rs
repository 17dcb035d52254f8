//! Ratings (好差评): one per case, and the follow-up of a bad one.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// A case's rating as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRecord {
    pub case_id: i64,
    pub case_number: String,
    pub level: crate::domain::Rating,
    pub comment: Option<String>,
    pub source: String,
    pub recorded_by: String,
    pub verify_due: Option<DateTime<Utc>>,
    pub rectify_due: Option<DateTime<Utc>>,
    pub follow_up: Option<String>,
    pub followed_up_by: Option<String>,
    pub followed_up_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A rating to record, with the follow-up deadlines of a bad one.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub case_id: i64,
    pub level: crate::domain::Rating,
    pub comment: Option<String>,
    /// `citizen` or `staff`.
    pub source: &'static str,
    pub recorded_by: String,
    /// The id behind `recorded_by` (on the timeline's event); None for a citizen.
    pub recorded_by_id: Option<String>,
    pub verify_due: Option<DateTime<Utc>>,
    pub rectify_due: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait RatingStore: Send + Sync {
    /// Records a case's rating, with an event on its timeline. `Duplicate` if it was rated.
    async fn rate_case(&self, rating: &NewRating, now: DateTime<Utc>) -> StoreResult<()>;

    async fn rating_of(&self, case_id: i64) -> StoreResult<Option<RatingRecord>>;

    /// Bad ratings whose follow-up is not recorded yet, oldest first.
    async fn open_bad_ratings(&self) -> StoreResult<Vec<RatingRecord>>;

    /// Records the follow-up of a bad rating (on the timeline too). False if there is none
    /// to follow up.
    async fn follow_up_rating(
        &self,
        case_id: i64,
        outcome: &str,
        by: crate::domain::By<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Implements [`RatingStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_rating_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::RatingStore for $store {
            async fn rate_case(&self, r: &$crate::storage::NewRating, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let rated = sqlx::query(
                    "insert into ratings (case_id, level, comment, source, recorded_by, verify_due, rectify_due, created_at, \
                     case_received_at) select $1, $2, $3, $4, $5, $6, $7, $8, received_at from cases where id = $1",
                )
                .bind(r.case_id)
                .bind(r.level.as_str())
                .bind(r.comment.as_deref())
                .bind(r.source)
                .bind(&r.recorded_by)
                .bind(r.verify_due)
                .bind(r.rectify_due)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if rated == 0 {
                    return Err(sqlx::Error::RowNotFound.into());
                }
                let after = serde_json::json!({"rating": r.level, "source": r.source});
                let note = match &r.comment {
                    Some(c) => format!("{}：{c}", r.level.label_zh()),
                    None => r.level.label_zh().to_owned(),
                };
                insert_event(&mut tx, r.case_id, now, $crate::domain::By { name: &r.recorded_by, id: r.recorded_by_id.as_deref() }, $crate::domain::EventKind::Rate, &serde_json::json!({}), &after, Some(&note)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rating_of(&self, case_id: i64) -> $crate::storage::StoreResult<Option<$crate::storage::RatingRecord>> {
                let rows = load_ratings(self.reader(), "r.case_id = $1", Some(case_id)).await?;
                Ok(rows.into_iter().next())
            }

            async fn open_bad_ratings(&self) -> $crate::storage::StoreResult<Vec<$crate::storage::RatingRecord>> {
                load_ratings(
                    self.reader(),
                    "r.level in ('dissatisfied', 'very_dissatisfied') and r.followed_up_at is null",
                    None,
                )
                .await
            }

            async fn follow_up_rating(&self, case_id: i64, outcome: &str, by: $crate::domain::By<'_>, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(
                    "update ratings set follow_up = $1, followed_up_by = $2, followed_up_at = $3 \
                     where case_id = $4 and followed_up_at is null and level in ('dissatisfied', 'very_dissatisfied')",
                )
                .bind(outcome)
                .bind(by.name)
                .bind(now)
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_event(&mut tx, case_id, now, by, $crate::domain::EventKind::RatingFollowUp, &serde_json::json!({}), &serde_json::json!({}), Some(outcome)).await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        async fn load_ratings(
            pool: &sqlx::Pool<$db>,
            filter: &str,
            case_id: Option<i64>,
        ) -> $crate::storage::StoreResult<Vec<$crate::storage::RatingRecord>> {
            type Ts = chrono::DateTime<chrono::Utc>;
            #[allow(clippy::type_complexity)]
            let sql = format!(
                "select r.case_id, c.number, r.level, r.comment, r.source, r.recorded_by, r.verify_due, r.rectify_due, \
                 r.follow_up, r.followed_up_by, r.followed_up_at, r.created_at from ratings r join cases c on c.id = r.case_id \
                 where {filter} order by r.created_at"
            );
            let mut q = sqlx::query_as::<_, (i64, String, String, Option<String>, String, String, Option<Ts>, Option<Ts>, Option<String>, Option<String>, Option<Ts>, Ts)>(&sql);
            if let Some(id) = case_id {
                q = q.bind(id);
            }
            let rows = q.fetch_all(pool).await?;
            rows.into_iter()
                .map(|(case_id, case_number, level, comment, source, recorded_by, verify_due, rectify_due, follow_up, followed_up_by, followed_up_at, created_at)| {
                    Ok($crate::storage::RatingRecord {
                        case_id, case_number, level: level.parse().map_err(anyhow::Error::new)?, comment, source, recorded_by,
                        verify_due, rectify_due, follow_up, followed_up_by, followed_up_at, created_at,
                    })
                })
                .collect()
        }
    };
}

pub(crate) use impl_rating_store;
