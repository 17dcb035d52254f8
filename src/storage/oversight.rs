//! Oversight: the duty roster, deadline alerts raised once per case, kind and deadline,
//! and the approval requests awaiting the duty leader.

use chrono::{DateTime, Utc};

use super::{StoreResult, UserRecord};
use crate::domain::Case;
use crate::domain::Notification;

#[async_trait::async_trait]
pub trait OversightStore: Send + Sync {
    /// Sets the duty leader of a date (replacing any).
    async fn set_duty(
        &self,
        date: chrono::NaiveDate,
        username: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The roster from `from` to `to` inclusive: date, username, display name (None when the
    /// username has no account).
    async fn roster(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<(chrono::NaiveDate, String, Option<String>)>>;

    /// The duty leader's account for a date.
    async fn duty_leader_on(&self, date: chrono::NaiveDate) -> StoreResult<Option<UserRecord>>;

    /// Raises an alert once: false if this (case, kind, deadline) was already raised. The
    /// notifications go to the outbox in the same transaction.
    async fn raise_alert(
        &self,
        case_id: i64,
        kind: &str,
        deadline: DateTime<Utc>,
        notifications: &[Notification],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Open cases whose latest approval request has no approval or refusal after it.
    async fn awaiting_approval(&self) -> StoreResult<Vec<(Case, String)>>;

    /// Open complex and difficult cases with no decision recorded since they reached their
    /// tier (escalated or set), earliest deadline first.
    async fn awaiting_decision(&self, limit: u32) -> StoreResult<Vec<Case>>;
}

/// Implements [`OversightStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_oversight_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::OversightStore for $store {
            async fn set_duty(&self, date: chrono::NaiveDate, username: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::storage::StoreResult<()> {
                sqlx::query(
                    "insert into duty_roster (duty_date, username, created_at, updated_at) values ($1, $2, $3, $3) \
                     on conflict (duty_date) do update set username = excluded.username, updated_at = excluded.updated_at",
                )
                .bind(date.format("%Y-%m-%d").to_string())
                .bind(username)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn roster(
                &self,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::storage::StoreResult<Vec<(chrono::NaiveDate, String, Option<String>)>> {
                let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "select r.duty_date, r.username, u.display_name from duty_roster r left join users u on u.username = r.username \
                     where r.duty_date >= $1 and r.duty_date <= $2 order by r.duty_date",
                )
                .bind(from.format("%Y-%m-%d").to_string())
                .bind(to.format("%Y-%m-%d").to_string())
                .fetch_all(self.reader())
                .await?;
                rows.into_iter()
                    .map(|(d, u, n)| Ok((chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(anyhow::Error::new)?, u, n)))
                    .collect()
            }

            async fn duty_leader_on(&self, date: chrono::NaiveDate) -> $crate::storage::StoreResult<Option<$crate::storage::UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(&format!(
                    "select {USER_COLUMNS} from duty_roster r join users u on u.username = r.username where r.duty_date = $1"
                ))
                .bind(date.format("%Y-%m-%d").to_string())
                .fetch_optional(self.reader())
                .await?;
                row.map(user_record).transpose()
            }

            async fn raise_alert(
                &self,
                case_id: i64,
                kind: &str,
                deadline: chrono::DateTime<chrono::Utc>,
                notifications: &[$crate::domain::Notification],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                let claimed: Option<(i64,)> = sqlx::query_as(
                    "insert into case_alerts (case_id, kind, deadline, created_at) values ($1, $2, $3, $4) \
                     on conflict do nothing returning case_id",
                )
                .bind(case_id)
                .bind(kind)
                .bind(deadline)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for n in notifications {
                    insert_outbox(&mut tx, Some(case_id), n.topic, &n.recipient, &n.payload, now).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn awaiting_decision(&self, limit: u32) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                use $crate::domain::{EventKind, Tier};
                let columns = CASE_COLUMNS.split(", ").map(|c| format!("c.{}", c.trim())).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "select {columns} from cases c where c.status in ('new', 'in_progress') and c.tier in ($1, $2) \
                     and not exists (select 1 from case_events d where d.case_id = c.id and d.action = $3 \
                       and d.id > coalesce((select max(e.id) from case_events e where e.case_id = c.id and e.action in ($4, $5)), 0)) \
                     order by c.deadline, c.id limit $6"
                );
                let rows: Vec<CaseRow> = sqlx::query_as(&sql)
                    .bind(Tier::Complex.as_str())
                    .bind(Tier::Difficult.as_str())
                    .bind(EventKind::RecordDecision.as_str())
                    .bind(EventKind::Escalate.as_str())
                    .bind(EventKind::SetTier.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                rows.into_iter()
                    .map(|r| $crate::domain::Case::try_from(r))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(Into::into)
            }

            async fn awaiting_approval(&self) -> $crate::storage::StoreResult<Vec<($crate::domain::Case, String)>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    case: CaseRow,
                    request: Option<String>,
                }
                let columns = CASE_COLUMNS.split(", ").map(|c| format!("c.{}", c.trim())).collect::<Vec<_>>().join(", ");
                use $crate::domain::EventKind;
                let request = EventKind::RequestApproval.as_str();
                let answers = $crate::domain::vocab::sql_list(&EventKind::ANSWERS_APPROVAL, EventKind::as_str);
                let sql = format!(
                    "select {columns}, r.note as request from cases c \
                     join (select case_id, max(id) as id from case_events where action = '{request}' group by case_id) last on last.case_id = c.id \
                     join case_events r on r.id = last.id \
                     where c.status in ('new', 'in_progress') and not exists (select 1 from case_events d where d.case_id = c.id \
                     and d.id > last.id and d.action in ({answers})) order by r.id"
                );
                let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(self.reader()).await?;
                rows.into_iter()
                    .map(|r| Ok(($crate::domain::Case::try_from(r.case)?, r.request.unwrap_or_default())))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(Into::into)
            }
        }
    };
}

pub(crate) use impl_oversight_store;
