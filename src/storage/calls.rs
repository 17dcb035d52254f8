//! Calls as the PBX reports them: each event applied once, in a transaction that a batch of
//! events shares (group commit); the calls ringing or in progress; a caller's history for
//! the screen pop; and the counts behind the statistics (answered per hour and operator,
//! handling time, missed calls per line).

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::domain::call::{CallEvent, CallState};

/// One event to apply to the call `key` (`<source>:<callId>`).
#[derive(Debug, Clone)]
pub struct CallWrite {
    pub key: String,
    pub event: CallEvent,
    /// The local hour of the event's time (kept for statistics by hour when it starts the
    /// call).
    pub local_hour: i32,
}

/// A stored call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: i64,
    pub key: String,
    pub call: CallState,
    pub answered_user_id: Option<i64>,
    pub case_id: Option<i64>,
    pub version: i64,
}

/// What one event did.
#[derive(Debug, Clone)]
pub struct CallApplied {
    pub record: CallRecord,
    /// False for a repeat that changed nothing.
    pub changed: bool,
}

/// An open entry of the callback list for a caller.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenEntry {
    pub id: i64,
    pub list_date: NaiveDate,
    pub kind: String,
    pub deadline_at: DateTime<Utc>,
}

/// A caller's last recording.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRecording {
    pub id: i64,
    pub case_number: String,
    pub received_at: DateTime<Utc>,
    pub duration_ms: i64,
}

/// The statistics of calls in a period (the calls the PBX reported, and those timed from
/// the operators' form).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CallCounts {
    /// Answered calls by the local hour they started in (0–23).
    pub answered_by_hour: Vec<HourCount>,
    /// Per operator (the youmen user when matched, else the PBX's name for them).
    pub by_operator: Vec<OperatorCount>,
    /// Per hotline: incoming calls, answered, missed (anonymous callers included).
    pub by_line: Vec<LineCount>,
}

/// A group of calls: local hour, line, incoming, missed, answered, the PBX's name for who
/// answered, the matched user, calls, seconds handled.
pub(crate) type CallGroup = (
    i32,
    Option<String>,
    bool,
    bool,
    bool,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

impl CallCounts {
    /// The counts from the period's groups; `names` are users' display names by id.
    pub(crate) fn fold(
        rows: Vec<CallGroup>,
        names: &std::collections::HashMap<i64, String>,
    ) -> Self {
        use std::collections::BTreeMap;
        let mut by_hour: BTreeMap<i32, i64> = BTreeMap::new();
        let mut by_operator: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut by_line: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for (hour, line, incoming, missed, answered, answered_by, user, n, seconds) in rows {
            if answered {
                *by_hour.entry(hour).or_default() += n;
                let name = user
                    .and_then(|id| names.get(&id).cloned())
                    .or(answered_by)
                    .unwrap_or_else(|| "?".into());
                let o = by_operator.entry(name).or_default();
                o.0 += n;
                o.1 += seconds;
            }
            if let (Some(line), true) = (line, incoming) {
                let l = by_line.entry(line).or_default();
                l.0 += n;
                l.1 += if answered { n } else { 0 };
                l.2 += if missed { n } else { 0 };
            }
        }
        let mut by_operator: Vec<OperatorCount> = by_operator
            .into_iter()
            .map(|(operator, (answered, handling_seconds))| OperatorCount {
                operator,
                answered,
                handling_seconds,
                average_handling_seconds: handling_seconds / answered.max(1),
            })
            .collect();
        by_operator.sort_by(|a, b| {
            b.answered
                .cmp(&a.answered)
                .then_with(|| a.operator.cmp(&b.operator))
        });
        CallCounts {
            answered_by_hour: by_hour
                .into_iter()
                .map(|(hour, answered)| HourCount { hour, answered })
                .collect(),
            by_operator,
            by_line: by_line
                .into_iter()
                .map(|(line, (calls, answered, missed))| LineCount {
                    line,
                    calls,
                    answered,
                    missed,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HourCount {
    pub hour: i32,
    pub answered: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OperatorCount {
    pub operator: String,
    pub answered: i64,
    /// From the answer to the end, over the calls that ended.
    pub handling_seconds: i64,
    pub average_handling_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LineCount {
    /// complaint_hotline, business_hotline
    pub line: String,
    pub calls: i64,
    pub answered: i64,
    pub missed: i64,
}

#[async_trait::async_trait]
pub trait CallStore: Send + Sync {
    /// Applies a batch of events in one transaction, each in order, and returns each one's
    /// call after it.
    async fn apply_call_events(
        &self,
        batch: &[CallWrite],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<CallApplied>>;

    /// Calls ringing or in progress that started after `since`.
    async fn live_calls(&self, since: DateTime<Utc>) -> StoreResult<Vec<CallRecord>>;

    async fn call_by_id(&self, id: i64) -> StoreResult<Option<CallRecord>>;

    /// The case an operator logged from the call. False if there is no such call.
    async fn link_call_case(&self, id: i64, case_id: i64) -> StoreResult<bool>;

    /// The caller's open callback entries and last recording.
    async fn caller_history(
        &self,
        phone: &str,
    ) -> StoreResult<(Vec<OpenEntry>, Option<LastRecording>)>;

    /// A user's extension (分机), matched against the names a PBX rings.
    async fn set_extension(&self, username: &str, extension: Option<&str>) -> StoreResult<bool>;

    async fn extension_of(&self, user_id: i64) -> StoreResult<Option<String>>;

    /// The calls a case was logged from.
    async fn calls_of_case(&self, case_id: i64) -> StoreResult<Vec<CallRecord>>;

    /// Every username with an extension.
    async fn extensions(&self) -> StoreResult<Vec<(String, String)>>;

    async fn call_counts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<CallCounts>;

    /// Bumps `changes` whenever another instance changes a call (PostgreSQL's
    /// LISTEN/NOTIFY); returns at once where there is only one instance (SQLite).
    async fn watch_calls(&self, changes: tokio::sync::watch::Sender<u64>) -> StoreResult<()>;
}

/// The columns [`CallRow`] reads.
pub(crate) const CALL_COLUMNS: &str = "id, call_key, direction, channel, phone_e164, anonymous, \
     ring_users, queue, answered_by, answered_user_id, state, started_at, answered_at, ended_at, \
     cause, case_id, version";

#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    pub id: i64,
    pub call_key: String,
    pub direction: String,
    pub channel: Option<String>,
    pub phone_e164: Option<String>,
    pub anonymous: bool,
    pub ring_users: String,
    pub queue: Option<String>,
    pub answered_by: Option<String>,
    pub answered_user_id: Option<i64>,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cause: Option<String>,
    pub case_id: Option<i64>,
    pub version: i64,
}

impl From<CallRow> for CallRecord {
    fn from(r: CallRow) -> Self {
        use crate::domain::call::{Cause, State};
        CallRecord {
            id: r.id,
            key: r.call_key,
            call: CallState {
                inbound: r.direction != "out",
                channel: r.channel.and_then(|c| c.parse().ok()),
                phone: r.phone_e164,
                anonymous: r.anonymous,
                users: r
                    .ring_users
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                queue: r.queue,
                answered_by: r.answered_by,
                state: State::parse(&r.state).unwrap_or(State::Ended),
                started_at: r.started_at,
                answered_at: r.answered_at,
                ended_at: r.ended_at,
                cause: r.cause.as_deref().and_then(Cause::parse),
            },
            answered_user_id: r.answered_user_id,
            case_id: r.case_id,
            version: r.version,
        }
    }
}

/// Implements [`CallStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_call_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::calls::CallStore for $store {
            async fn apply_call_events(
                &self,
                batch: &[$crate::storage::calls::CallWrite],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::calls::CallApplied>> {
                use $crate::storage::calls::{CallApplied, CallRecord, CallRow, CALL_COLUMNS};
                let mut tx = self.writer().begin().await?;
                let mut keys: Vec<&str> = batch.iter().map(|w| w.key.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                lock_keys_in(&mut tx, &keys).await?;
                let mut out = Vec::with_capacity(batch.len());
                let mut changed_any = false;
                for write in batch {
                    let sql = format!("select {CALL_COLUMNS} from calls where call_key = $1");
                    let row: Option<CallRow> = sqlx::query_as(&sql)
                        .bind(&write.key)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let current: Option<CallRecord> = row.map(Into::into);
                    let Some(next) = $crate::domain::call::apply(current.as_ref().map(|c| &c.call), &write.event) else {
                        out.push(CallApplied { record: current.expect("a repeat has a call"), changed: false });
                        continue;
                    };
                    changed_any = true;
                    // Who answered, as a youmen user (by login, extension or name).
                    let answered_user_id: Option<i64> = match (&next.answered_by, current.as_ref().and_then(|c| c.answered_user_id)) {
                        (_, Some(id)) => Some(id),
                        (Some(who), None) => sqlx::query_as::<_, (i64,)>(
                            "select id from users where not disabled and (username = $1 or extension = $1 or display_name = $1) \
                             order by id limit 1",
                        )
                        .bind(who)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|(id,)| id),
                        (None, None) => None,
                    };
                    let users = next.users.join("\n");
                    let record = match current {
                        None => {
                            let sql = format!(
                                "insert into calls (call_key, direction, channel, phone_e164, anonymous, ring_users, queue, \
                                 answered_by, answered_user_id, state, started_at, answered_at, ended_at, cause, missed, \
                                 local_hour, version, created_at, updated_at) \
                                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $17) \
                                 returning {CALL_COLUMNS}"
                            );
                            let row: CallRow = sqlx::query_as(&sql)
                                .bind(&write.key)
                                .bind(if next.inbound { "in" } else { "out" })
                                .bind(next.channel.map(|c| c.as_str()))
                                .bind(&next.phone)
                                .bind(next.anonymous)
                                .bind(&users)
                                .bind(&next.queue)
                                .bind(&next.answered_by)
                                .bind(answered_user_id)
                                .bind(next.state.as_str())
                                .bind(next.started_at)
                                .bind(next.answered_at)
                                .bind(next.ended_at)
                                .bind(next.cause.map(|c| c.as_str()))
                                .bind(next.missed())
                                .bind(write.local_hour)
                                .bind(now)
                                .fetch_one(&mut *tx)
                                .await?;
                            CallRecord::from(row)
                        }
                        Some(old) => {
                            let sql = format!(
                                "update calls set channel = $1, phone_e164 = $2, ring_users = $3, queue = $4, answered_by = $5, \
                                 answered_user_id = $6, state = $7, started_at = $8, answered_at = $9, ended_at = $10, \
                                 cause = $11, missed = $12, version = version + 1, updated_at = $13 where id = $14 \
                                 returning {CALL_COLUMNS}"
                            );
                            let row: CallRow = sqlx::query_as(&sql)
                                .bind(next.channel.map(|c| c.as_str()))
                                .bind(&next.phone)
                                .bind(&users)
                                .bind(&next.queue)
                                .bind(&next.answered_by)
                                .bind(answered_user_id)
                                .bind(next.state.as_str())
                                .bind(next.started_at)
                                .bind(next.answered_at)
                                .bind(next.ended_at)
                                .bind(next.cause.map(|c| c.as_str()))
                                .bind(next.missed())
                                .bind(now)
                                .bind(old.id)
                                .fetch_one(&mut *tx)
                                .await?;
                            CallRecord::from(row)
                        }
                    };
                    out.push(CallApplied { record, changed: true });
                }
                if changed_any {
                    if let Some(notify) = CALLS_NOTIFY {
                        sqlx::query(notify).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn live_calls(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::calls::CallRecord>> {
                use $crate::storage::calls::{CallRow, CALL_COLUMNS};
                let sql = format!(
                    "select {CALL_COLUMNS} from calls where ended_at is null and started_at >= $1 \
                     order by started_at desc, id desc limit 200"
                );
                let rows: Vec<CallRow> = sqlx::query_as(&sql).bind(since).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn call_by_id(&self, id: i64) -> $crate::storage::StoreResult<Option<$crate::storage::calls::CallRecord>> {
                use $crate::storage::calls::{CallRow, CALL_COLUMNS};
                let sql = format!("select {CALL_COLUMNS} from calls where id = $1");
                let row: Option<CallRow> = sqlx::query_as(&sql).bind(id).fetch_optional(self.reader()).await?;
                Ok(row.map(Into::into))
            }

            async fn link_call_case(&self, id: i64, case_id: i64) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query("update calls set case_id = $1, version = version + 1 where id = $2 and case_id is null")
                    .bind(case_id)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn caller_history(
                &self,
                phone: &str,
            ) -> $crate::storage::StoreResult<(Vec<$crate::storage::calls::OpenEntry>, Option<$crate::storage::calls::LastRecording>)> {
                // list_date is text on both engines.
                let entries: Vec<(i64, String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select id, list_date, kind, deadline_at from callback_entries \
                     where phone_e164 = $1 and status = 'open' order by list_date desc, id desc limit 10",
                )
                .bind(phone)
                .fetch_all(self.reader())
                .await?;
                let last: Option<(i64, String, chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
                    "select r.id, c.number, r.received_at, r.duration_ms from recordings r join cases c on c.id = r.case_id \
                     where c.phone_e164 = $1 and not r.silent order by r.received_at desc, r.id desc limit 1",
                )
                .bind(phone)
                .fetch_optional(self.reader())
                .await?;
                Ok((
                    entries
                        .into_iter()
                        .filter_map(|(id, list_date, kind, deadline_at)| {
                            let list_date = chrono::NaiveDate::parse_from_str(&list_date, "%Y-%m-%d").ok()?;
                            Some($crate::storage::calls::OpenEntry { id, list_date, kind, deadline_at })
                        })
                        .collect(),
                    last.map(|(id, case_number, received_at, duration_ms)| $crate::storage::calls::LastRecording {
                        id,
                        case_number,
                        received_at,
                        duration_ms,
                    }),
                ))
            }

            async fn set_extension(&self, username: &str, extension: Option<&str>) -> $crate::storage::StoreResult<bool> {
                let done = sqlx::query("update users set extension = $1 where username = $2")
                    .bind(extension)
                    .bind(username)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn calls_of_case(&self, case_id: i64) -> $crate::storage::StoreResult<Vec<$crate::storage::calls::CallRecord>> {
                use $crate::storage::calls::{CallRow, CALL_COLUMNS};
                let sql = format!("select {CALL_COLUMNS} from calls where case_id = $1 order by started_at, id");
                let rows: Vec<CallRow> = sqlx::query_as(&sql).bind(case_id).fetch_all(self.reader()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn extensions(&self) -> $crate::storage::StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as("select username, extension from users where extension is not null order by username")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn extension_of(&self, user_id: i64) -> $crate::storage::StoreResult<Option<String>> {
                let row: Option<(Option<String>,)> = sqlx::query_as("select extension from users where id = $1")
                    .bind(user_id)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.and_then(|(e,)| e))
            }

            async fn watch_calls(&self, changes: tokio::sync::watch::Sender<u64>) -> $crate::storage::StoreResult<()> {
                self.watch_calls_impl(changes).await
            }

            async fn call_counts(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::calls::CallCounts> {
                // One pass of the `calls_tally` index, folded here: a few thousand groups at most.
                // SECONDS_HANDLED: the engine's seconds from `c.answered_at` to `c.ended_at`.
                let sql = format!(
                    "select c.local_hour, c.channel, c.direction = 'in', c.missed, c.answered_at is not null, \
                     c.answered_by, c.answered_user_id, count(*), \
                     cast(sum(case when c.ended_at is not null and c.answered_at is not null \
                     then round({SECONDS_HANDLED}) else 0 end) as bigint) \
                     from calls c where c.started_at >= $1 and c.started_at < $2 \
                     group by c.local_hour, c.channel, c.direction, c.missed, c.answered_at is not null, \
                     c.answered_by, c.answered_user_id"
                );
                let rows: Vec<$crate::storage::calls::CallGroup> =
                    sqlx::query_as(&sql).bind(from).bind(to).fetch_all(self.reader()).await?;
                let names: Vec<(i64, String)> = if rows.iter().any(|r| r.6.is_some()) {
                    sqlx::query_as("select id, display_name from users").fetch_all(self.reader()).await?
                } else {
                    Vec::new()
                };
                Ok($crate::storage::calls::CallCounts::fold(rows, &names.into_iter().collect()))
            }
        }
    };
}

pub(crate) use impl_call_store;
