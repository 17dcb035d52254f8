//! The next-morning callback list: generated once per opening from the arrivals due by
//! then, read by day, claimed and worked entry by entry.

use chrono::{DateTime, Utc};

use super::StoreResult;

/// One generation of the callback list, at one opening.
#[derive(Debug, Clone)]
pub struct CallbackRun {
    pub opening_at: DateTime<Utc>,
    /// The working day whose list the entries join.
    pub list_date: chrono::NaiveDate,
    /// Who is told through the outbox: the morning shift's address, `webhook:<name>`s.
    pub notify: Vec<String>,
}

/// When a new entry falls due and when "first thing" ends for it: from the calendar, which
/// storage does not hold.
pub struct ListTimes<'a> {
    /// The entry's due time, from its first arrival: the opening after it (an arrival the
    /// list of its own day missed keeps that day as its first), or the arrival itself
    /// during the working day.
    pub due_for: &'a (dyn Fn(DateTime<Utc>) -> DateTime<Utc> + Send + Sync),
    /// The end of "first thing" after a due time.
    pub deadline_for: &'a (dyn Fn(DateTime<Utc>) -> DateTime<Utc> + Send + Sync),
    pub tz: chrono_tz::Tz,
}

/// A case of an entry, as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCase {
    pub case_id: i64,
    pub number: String,
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<Utc>,
    pub description: String,
    pub status: crate::domain::Status,
    pub callback: Option<crate::domain::CallbackKind>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecording {
    pub id: i64,
    pub case_id: i64,
    pub duration_ms: i64,
    /// What the recognizer heard, once it has (None until then, or when it heard nothing).
    pub transcript: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallbackAttemptRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub outcome: crate::domain::Outcome,
    pub note: Option<String>,
}

/// A stored entry of the callback list, with its cases, recordings and attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackEntryRecord {
    pub id: i64,
    pub list_date: chrono::NaiveDate,
    pub opening_at: DateTime<Utc>,
    pub phone: Option<String>,
    pub urgent: bool,
    pub kind: crate::domain::CallbackKind,
    pub first_arrival_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub status: crate::domain::EntryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub reached_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    /// The id behind `claimed_by` (`user:<id>`, `token:<id>`).
    pub claimed_by_id: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Listed during the working day (an arrival in working hours), not at an opening.
    pub daytime: bool,
    pub cases: Vec<EntryCase>,
    /// Missed calls waiting on it (not cases yet).
    pub calls: Vec<super::EntryCall>,
    pub recordings: Vec<EntryRecording>,
    pub attempt_log: Vec<CallbackAttemptRecord>,
}

/// An off-hours arrival not yet on any list (for the preview before opening): a case, or a
/// missed call.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCallback {
    pub arrival: crate::domain::callback::PendingArrival,
    pub case: Option<EntryCase>,
    pub call: Option<super::EntryCall>,
    pub recordings: Vec<EntryRecording>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    Claimed,
    NotFound,
    Finished,
    /// Someone else holds it, until then.
    HeldBy(String, DateTime<Utc>),
}

#[async_trait::async_trait]
pub trait CallbackStore: Send + Sync {
    /// Generates the callback entries of one opening from every off-hours arrival due by
    /// then and not yet listed, grouped by phone (joining a still-open entry of the same
    /// phone). None when this opening was already generated: it runs once, whoever asks.
    async fn generate_callbacks(
        &self,
        run: &CallbackRun,
        times: &ListTimes<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<usize>>;

    /// How many generation runs the day has had (0: not generated yet).
    async fn callback_runs_on(&self, date: chrono::NaiveDate) -> StoreResult<usize>;

    /// The day's list: its own entries, and those carried over from earlier days that were
    /// still open at `opening` (the day's first opening).
    async fn callback_entries(
        &self,
        date: chrono::NaiveDate,
        opening: DateTime<Utc>,
    ) -> StoreResult<Vec<CallbackEntryRecord>>;

    async fn callback_entry(&self, id: i64) -> StoreResult<Option<CallbackEntryRecord>>;

    /// Entries given up as unreachable since `since`, for the duty leader.
    async fn unreachable_callbacks(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<CallbackEntryRecord>>;

    /// Off-hours arrivals due by `up_to` that are on no list yet.
    async fn callback_pending(&self, up_to: DateTime<Utc>) -> StoreResult<Vec<PendingCallback>>;

    async fn claim_callback(
        &self,
        id: i64,
        actor: crate::domain::By<'_>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<ClaimResult>;
}

/// Implements [`CallbackStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_callback_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::CallbackStore for $store {
            async fn generate_callbacks(
                &self,
                run: &$crate::storage::CallbackRun,
                times: &$crate::storage::ListTimes<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<usize>> {
                let list_date = run.list_date.format("%Y-%m-%d").to_string();
                let mut tx = self.writer().begin().await?;
                // The run's row first: a second instance waits here, then finds it and stops.
                let claimed: Option<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(
                    "insert into callback_runs (opening_at, list_date, entries, created_at) values ($1, $2, 0, $3) \
                     on conflict (opening_at) do nothing returning opening_at",
                )
                .bind(run.opening_at)
                .bind(&list_date)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let arrivals = pending_arrivals_in(&mut tx, run.opening_at, true).await?;
                let drafts = $crate::domain::callback::group(&arrivals);
                let created = list_drafts(&mut tx, &drafts, times, false, now).await?;
                sqlx::query("update callback_runs set entries = $1 where opening_at = $2")
                    .bind(created as i64)
                    .bind(run.opening_at)
                    .execute(&mut *tx)
                    .await?;
                let payload = serde_json::json!({"list_date": list_date, "opening_at": run.opening_at});
                for to in &run.notify {
                    insert_outbox(&mut tx, None, $crate::domain::Topic::CallbackList, to, &payload, now).await?;
                }
                tx.commit().await?;
                Ok(Some(created))
            }

            async fn callback_runs_on(&self, date: chrono::NaiveDate) -> $crate::storage::StoreResult<usize> {
                let (n,): (i64,) = sqlx::query_as("select count(*) from callback_runs where list_date = $1")
                    .bind(date.format("%Y-%m-%d").to_string())
                    .fetch_one(self.reader())
                    .await?;
                Ok(n as usize)
            }

            async fn callback_entries(
                &self,
                date: chrono::NaiveDate,
                opening: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
                load_entries(
                    self.reader(),
                    "e.list_date = $1 or (e.list_date < $1 and (e.finished_at is null or e.finished_at >= $2))",
                    EntryKey::Day(date.format("%Y-%m-%d").to_string(), opening),
                )
                .await
            }

            async fn callback_entry(&self, id: i64) -> $crate::storage::StoreResult<Option<$crate::storage::CallbackEntryRecord>> {
                Ok(load_entries(self.reader(), "e.id = $1", EntryKey::Id(id)).await?.pop())
            }

            async fn unreachable_callbacks(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
                load_entries(self.reader(), "e.status = 'unreachable' and e.finished_at >= $1", EntryKey::Since(since)).await
            }

            async fn callback_pending(
                &self,
                up_to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::PendingCallback>> {
                use std::collections::HashMap;
                use $crate::domain::callback::Arrived;
                let mut tx = self.reader().begin().await?;
                let arrivals = pending_arrivals_in(&mut tx, up_to, true).await?;
                let case_ids: Vec<i64> = arrivals.iter().filter_map(|a| match a.arrived { Arrived::Case(id) => Some(id), _ => None }).collect();
                let mut cases: HashMap<i64, $crate::storage::EntryCase> = HashMap::new();
                let mut by_case: HashMap<i64, Vec<$crate::storage::EntryRecording>> = HashMap::new();
                for chunk in case_ids.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("select id, number, channel, received_at, description, status, callback_kind from cases where id in (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let rows: Vec<(i64, String, String, chrono::DateTime<chrono::Utc>, String, String, Option<String>)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    for (case_id, number, channel, received_at, description, status, callback) in rows {
                        let channel = channel.parse().map_err(anyhow::Error::new)?;
                        let status = status.parse().map_err(anyhow::Error::new)?;
                        let callback = callback.as_deref().map(str::parse).transpose().map_err(anyhow::Error::new)?;
                        cases.insert(case_id, $crate::storage::EntryCase { case_id, number, channel, received_at, description, status, callback });
                    }
                    let mut q = sqlx::QueryBuilder::<$db>::new("select r.id, r.case_id, r.duration_ms, t.text from recordings r \
                         left join transcriptions t on t.recording_id = r.id and t.status = 'done' and t.text <> '' \
                         where r.case_id in (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(") order by r.id");
                    let rows: Vec<(i64, i64, i64, Option<String>)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    for (id, case_id, duration_ms, transcript) in rows {
                        by_case.entry(case_id).or_default().push($crate::storage::EntryRecording { id, case_id, duration_ms, transcript });
                    }
                }
                tx.rollback().await?;
                Ok(arrivals
                    .into_iter()
                    .map(|arrival| {
                        let (case, call, recordings) = match arrival.arrived {
                            Arrived::Case(id) => (cases.remove(&id), None, by_case.remove(&id).unwrap_or_default()),
                            Arrived::Call(id) => (None, Some($crate::storage::EntryCall {
                                id,
                                channel: arrival.channel,
                                phone: arrival.phone.clone(),
                                received_at: arrival.received_at,
                                urgent: arrival.urgent,
                            }), Vec::new()),
                        };
                        $crate::storage::PendingCallback { arrival, case, call, recordings }
                    })
                    .collect())
            }

            async fn claim_callback(
                &self,
                id: i64,
                actor: $crate::domain::By<'_>,
                until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::ClaimResult> {
                let done = sqlx::query(
                    "update callback_entries set claimed_by = $1, claimed_until = $2, updated_at = $3, claimed_by_id = $5 \
                     where id = $4 and finished_at is null \
                     and (claimed_by is null or claimed_until < $3 or claimed_by_id = $5 \
                          or (claimed_by_id is null and $5 is null and claimed_by = $1))",
                )
                .bind(actor.name)
                .bind(until)
                .bind(now)
                .bind(id)
                .bind(actor.id)
                .execute(self.writer())
                .await?;
                if done.rows_affected() == 1 {
                    return Ok($crate::storage::ClaimResult::Claimed);
                }
                let row: Option<(Option<chrono::DateTime<chrono::Utc>>, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
                    sqlx::query_as("select finished_at, claimed_by, claimed_until from callback_entries where id = $1")
                        .bind(id)
                        .fetch_optional(self.writer())
                        .await?;
                Ok(match row {
                    None => $crate::storage::ClaimResult::NotFound,
                    Some((Some(_), _, _)) => $crate::storage::ClaimResult::Finished,
                    Some((None, Some(by), Some(until))) => $crate::storage::ClaimResult::HeldBy(by, until),
                    Some(_) => $crate::storage::ClaimResult::Finished,
                })
            }
        }

        /// Which entries to load: a day's list, or one entry.
        enum EntryKey {
            Day(String, chrono::DateTime<chrono::Utc>),
            Id(i64),
            Since(chrono::DateTime<chrono::Utc>),
        }

        fn bind_key<'q, O>(
            q: sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>>,
            key: &'q EntryKey,
        ) -> sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>> {
            match key {
                EntryKey::Day(date, opening) => q.bind(date.as_str()).bind(*opening),
                EntryKey::Id(id) => q.bind(*id),
                EntryKey::Since(t) => q.bind(*t),
            }
        }

        #[derive(sqlx::FromRow)]
        struct EntryRow {
            id: i64,
            list_date: String,
            opening_at: chrono::DateTime<chrono::Utc>,
            phone_e164: Option<String>,
            urgent: bool,
            kind: String,
            first_arrival_at: chrono::DateTime<chrono::Utc>,
            deadline_at: chrono::DateTime<chrono::Utc>,
            status: String,
            attempts: i64,
            next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
            first_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
            reached_at: Option<chrono::DateTime<chrono::Utc>>,
            claimed_by: Option<String>,
            claimed_by_id: Option<String>,
            claimed_until: Option<chrono::DateTime<chrono::Utc>>,
            finished_at: Option<chrono::DateTime<chrono::Utc>>,
            daytime: bool,
        }

        /// Entries matching `filter` (over `e`, the entries), with their cases, recordings
        /// missed calls and attempts, in five queries.
        async fn load_entries(
            pool: &sqlx::Pool<$db>,
            filter: &str,
            key: EntryKey,
        ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
            use std::collections::HashMap;
            type Ts = chrono::DateTime<chrono::Utc>;
            let rows: Vec<EntryRow> =
                bind_key(sqlx::query_as(&format!(
                    "select e.id, e.list_date, e.opening_at, e.phone_e164, e.urgent, e.kind, e.first_arrival_at, \
                     e.deadline_at, e.status, e.attempts, e.next_attempt_at, e.first_attempt_at, e.reached_at, \
                     e.claimed_by, e.claimed_by_id, e.claimed_until, e.finished_at, e.daytime \
                     from callback_entries e where {filter}"
                )), &key)
                .fetch_all(pool)
                .await?;
            let calls: Vec<(i64, i64, String, Option<String>, Ts, bool)> = bind_key(sqlx::query_as(&format!(
                "select m.entry_id, m.id, m.channel, m.phone_e164, m.received_at, m.urgent from missed_calls m \
                 join callback_entries e on e.id = m.entry_id where {filter} order by m.received_at, m.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let cases: Vec<(i64, i64, String, String, Ts, String, String, Option<String>)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, c.id, c.number, c.channel, c.received_at, c.description, c.status, c.callback_kind \
                 from callback_entry_cases x \
                 join callback_entries e on e.id = x.entry_id join cases c on c.id = x.case_id where {filter} \
                 order by c.received_at, c.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let recordings: Vec<(i64, i64, i64, i64, Option<String>)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, r.id, r.case_id, r.duration_ms, t.text from recordings r \
                 join callback_entry_cases x on x.case_id = r.case_id join callback_entries e on e.id = x.entry_id \
                 left join transcriptions t on t.recording_id = r.id and t.status = 'done' and t.text <> '' \
                 where {filter} order by r.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let attempts: Vec<(i64, Ts, String, String, Option<String>)> = bind_key(sqlx::query_as(&format!(
                "select a.entry_id, a.at, a.actor, a.outcome, a.note from callback_attempts a \
                 join callback_entries e on e.id = a.entry_id where {filter} order by a.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let mut entries: Vec<$crate::storage::CallbackEntryRecord> = Vec::with_capacity(rows.len());
            let mut index: HashMap<i64, usize> = HashMap::new();
            for r in rows {
                index.insert(r.id, entries.len());
                entries.push($crate::storage::CallbackEntryRecord {
                    id: r.id,
                    list_date: chrono::NaiveDate::parse_from_str(&r.list_date, "%Y-%m-%d").map_err(anyhow::Error::new)?,
                    opening_at: r.opening_at,
                    phone: r.phone_e164,
                    urgent: r.urgent,
                    kind: r.kind.parse().map_err(anyhow::Error::new)?,
                    first_arrival_at: r.first_arrival_at,
                    deadline_at: r.deadline_at,
                    status: r.status.parse().map_err(anyhow::Error::new)?,
                    attempts: r.attempts,
                    next_attempt_at: r.next_attempt_at,
                    first_attempt_at: r.first_attempt_at,
                    reached_at: r.reached_at,
                    claimed_by: r.claimed_by,
                    claimed_by_id: r.claimed_by_id,
                    claimed_until: r.claimed_until,
                    finished_at: r.finished_at,
                    daytime: r.daytime,
                    cases: Vec::new(),
                    calls: Vec::new(),
                    recordings: Vec::new(),
                    attempt_log: Vec::new(),
                });
            }
            for (entry_id, id, channel, phone, received_at, urgent) in calls {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].calls.push($crate::storage::EntryCall {
                        id, channel: channel.parse().map_err(anyhow::Error::new)?, phone, received_at, urgent,
                    });
                }
            }
            for (entry_id, case_id, number, channel, received_at, description, status, callback) in cases {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].cases.push($crate::storage::EntryCase {
                        case_id, number, channel: channel.parse().map_err(anyhow::Error::new)?, received_at, description,
                        status: status.parse().map_err(anyhow::Error::new)?,
                        callback: callback.as_deref().map(str::parse).transpose().map_err(anyhow::Error::new)?,
                    });
                }
            }
            for (entry_id, id, case_id, duration_ms, transcript) in recordings {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].recordings.push($crate::storage::EntryRecording { id, case_id, duration_ms, transcript });
                }
            }
            for (entry_id, at, actor, outcome, note) in attempts {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].attempt_log.push($crate::storage::CallbackAttemptRecord {
                        at, actor, outcome: outcome.parse().map_err(anyhow::Error::new)?, note,
                    });
                }
            }
            Ok(entries)
        }
    };
}

pub(crate) use impl_callback_store;
