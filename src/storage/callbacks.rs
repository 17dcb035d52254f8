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
    /// "First thing" ends here for the entries of this run.
    pub deadline_at: DateTime<Utc>,
    /// Who is told through the outbox: the morning shift's address, `webhook:<name>`s.
    pub notify: Vec<String>,
}

/// A case of an entry, as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCase {
    pub case_id: i64,
    pub number: String,
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<Utc>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecording {
    pub id: i64,
    pub case_id: i64,
    pub duration_ms: i64,
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
    pub claimed_until: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cases: Vec<EntryCase>,
    pub recordings: Vec<EntryRecording>,
    pub attempt_log: Vec<CallbackAttemptRecord>,
}

/// An off-hours arrival not yet on any list (for the preview before opening).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCallback {
    pub arrival: crate::domain::callback::PendingArrival,
    pub case: EntryCase,
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

/// One attempt to store, decided by the domain from the entry as it was read.
#[derive(Debug, Clone)]
pub struct AttemptWrite {
    pub entry_id: i64,
    /// The entry's attempt count when it was read: a change since is a conflict.
    pub expected_attempts: i64,
    pub actor: String,
    /// The id behind `actor` (`user:<id>`, `token:<id>`).
    pub actor_id: Option<String>,
    pub outcome: crate::domain::Outcome,
    pub note: Option<String>,
    pub after: crate::domain::callback::AfterAttempt,
    pub at: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait CallbackStore: Send + Sync {
    /// Generates the callback entries of one opening from every off-hours arrival due by
    /// then and not yet listed, grouped by phone (joining a still-open entry of the same
    /// phone). None when this opening was already generated: it runs once, whoever asks.
    async fn generate_callbacks(
        &self,
        run: &CallbackRun,
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

    /// Stores an attempt, the entry's new state and an event on each of its cases; the
    /// claim is released. `Conflict` if the entry changed since it was read or another
    /// person holds it.
    async fn record_callback_attempt(&self, attempt: &AttemptWrite) -> StoreResult<()>;
}

/// Implements [`CallbackStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_callback_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::CallbackStore for $store {
            async fn generate_callbacks(
                &self,
                run: &$crate::storage::CallbackRun,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<Option<usize>> {
                use std::collections::HashMap;
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
                let rows: Vec<(i64, Option<String>, String, Option<String>, bool, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select c.id, c.phone_e164, c.channel, c.callback_kind, c.urgent, c.received_at from cases c \
                     where c.callback_due_at is not null and c.callback_due_at <= $1 and c.off_hours = $2 \
                     and c.consultation = $3 \
                     and not exists (select 1 from callback_entry_cases x where x.case_id = c.id) \
                     order by c.received_at, c.id",
                )
                .bind(run.opening_at)
                .bind(true)
                .bind(false)
                .fetch_all(&mut *tx)
                .await?;
                let arrivals = rows
                    .into_iter()
                    .map(|(case_id, phone, channel, kind, urgent, received_at)| {
                        Ok($crate::domain::callback::PendingArrival {
                            case_id,
                            phone,
                            channel: channel.parse().map_err(anyhow::Error::new)?,
                            kind: kind.as_deref().unwrap_or("message").parse().map_err(anyhow::Error::new)?,
                            urgent,
                            received_at,
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let drafts = $crate::domain::callback::group(&arrivals);
                // A person still on an earlier list (not reached yet) is not listed twice:
                // the new arrivals join that entry.
                let open: Vec<(i64, String, bool, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "select id, phone_e164, urgent, kind, first_arrival_at from callback_entries \
                     where status = 'open' and phone_e164 is not null",
                )
                .fetch_all(&mut *tx)
                .await?;
                let open: HashMap<String, (i64, bool, String, chrono::DateTime<chrono::Utc>)> = open
                    .into_iter()
                    .map(|(id, phone, urgent, kind, first)| (phone, (id, urgent, kind, first)))
                    .collect();
                let mut links: Vec<(i64, i64)> = Vec::new();
                let mut fresh = Vec::new();
                for d in &drafts {
                    match d.phone.as_ref().and_then(|p| open.get(p)) {
                        Some((id, urgent, kind, first)) => {
                            let kind = if d.kind == $crate::domain::CallbackKind::Message { "message" } else { kind.as_str() };
                            sqlx::query(
                                "update callback_entries set urgent = $1, kind = $2, first_arrival_at = $3, updated_at = $4 where id = $5",
                            )
                            .bind(*urgent || d.urgent)
                            .bind(kind)
                            .bind((*first).min(d.first_arrival_at))
                            .bind(now)
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                            links.extend(d.case_ids.iter().map(|c| (*c, *id)));
                        }
                        None => fresh.push(d),
                    }
                }
                let mut ids: HashMap<String, i64> = HashMap::new();
                for chunk in fresh.chunks(500) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "insert into callback_entries (list_date, opening_at, group_key, phone_e164, urgent, kind, \
                         first_arrival_at, deadline_at, status, attempts, created_at, updated_at) ",
                    );
                    insert.push_values(chunk, |mut b, d| {
                        b.push_bind(&list_date)
                            .push_bind(run.opening_at)
                            .push_bind(&d.key)
                            .push_bind(d.phone.as_deref())
                            .push_bind(d.urgent)
                            .push_bind(d.kind.as_str())
                            .push_bind(d.first_arrival_at)
                            .push_bind(run.deadline_at)
                            .push_bind("open")
                            .push_bind(0i64)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.push(" returning id, group_key");
                    let created: Vec<(i64, String)> = insert.build_query_as().fetch_all(&mut *tx).await?;
                    ids.extend(created.into_iter().map(|(id, key)| (key, id)));
                }
                for d in &fresh {
                    let id = ids[&d.key];
                    links.extend(d.case_ids.iter().map(|c| (*c, id)));
                }
                for chunk in links.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("insert into callback_entry_cases (case_id, entry_id) ");
                    insert.push_values(chunk, |mut b, (case_id, entry_id)| {
                        b.push_bind(*case_id).push_bind(*entry_id);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                sqlx::query("update callback_runs set entries = $1 where opening_at = $2")
                    .bind(fresh.len() as i64)
                    .bind(run.opening_at)
                    .execute(&mut *tx)
                    .await?;
                let payload = serde_json::json!({"list_date": list_date, "opening_at": run.opening_at});
                for to in &run.notify {
                    insert_outbox(&mut tx, None, $crate::domain::Topic::CallbackList, to, &payload, now).await?;
                }
                tx.commit().await?;
                Ok(Some(fresh.len()))
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
                let pending = "c.callback_due_at is not null and c.callback_due_at <= $1 and c.off_hours = $2 \
                     and c.consultation = $3 and not exists (select 1 from callback_entry_cases x where x.case_id = c.id)";
                let rows: Vec<(i64, Option<String>, String, Option<String>, bool, chrono::DateTime<chrono::Utc>, String, String)> =
                    sqlx::query_as(&format!(
                        "select c.id, c.phone_e164, c.channel, c.callback_kind, c.urgent, c.received_at, c.number, c.description \
                         from cases c where {pending} order by c.received_at, c.id"
                    ))
                    .bind(up_to)
                    .bind(true)
                    .bind(false)
                    .fetch_all(self.reader())
                    .await?;
                let recordings: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
                    "select r.id, r.case_id, r.duration_ms from recordings r join cases c on c.id = r.case_id \
                     where {pending} order by r.id"
                ))
                .bind(up_to)
                .bind(true)
                .bind(false)
                .fetch_all(self.reader())
                .await?;
                let mut by_case: HashMap<i64, Vec<$crate::storage::EntryRecording>> = HashMap::new();
                for (id, case_id, duration_ms) in recordings {
                    by_case.entry(case_id).or_default().push($crate::storage::EntryRecording { id, case_id, duration_ms });
                }
                rows.into_iter()
                    .map(|(case_id, phone, channel, kind, urgent, received_at, number, description)| {
                        let channel: $crate::domain::Channel = channel.parse().map_err(anyhow::Error::new)?;
                        Ok($crate::storage::PendingCallback {
                            arrival: $crate::domain::callback::PendingArrival {
                                case_id,
                                phone,
                                channel,
                                kind: kind.as_deref().unwrap_or("message").parse().map_err(anyhow::Error::new)?,
                                urgent,
                                received_at,
                            },
                            case: $crate::storage::EntryCase { case_id, number, channel, received_at, description },
                            recordings: by_case.remove(&case_id).unwrap_or_default(),
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(Into::into)
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
                     and (claimed_by is null or claimed_until < $3 or claimed_by = $1)",
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

            async fn record_callback_attempt(
                &self,
                a: &$crate::storage::AttemptWrite,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let finished = a.after.status.is_finished();
                let reached = matches!(a.outcome, $crate::domain::Outcome::ReachedResolved | $crate::domain::Outcome::ReachedContinues);
                let done = sqlx::query(
                    "update callback_entries set status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                     first_attempt_at = coalesce(first_attempt_at, $3), \
                     reached_at = case when $4 then $3 else reached_at end, \
                     finished_at = case when $5 then $3 else null end, \
                     claimed_by = null, claimed_by_id = null, claimed_until = null, updated_at = $3 \
                     where id = $6 and attempts = $7 and finished_at is null \
                     and (claimed_by is null or claimed_by = $8 or claimed_until < $3)",
                )
                .bind(a.after.status.as_str())
                .bind(a.after.next_attempt_at)
                .bind(a.at)
                .bind(reached)
                .bind(finished)
                .bind(a.entry_id)
                .bind(a.expected_attempts)
                .bind(&a.actor)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err($crate::storage::StoreError::Conflict);
                }
                sqlx::query("insert into callback_attempts (entry_id, at, actor, outcome, note, actor_id) values ($1, $2, $3, $4, $5, $6)")
                    .bind(a.entry_id)
                    .bind(a.at)
                    .bind(&a.actor)
                    .bind(a.outcome.as_str())
                    .bind(a.note.as_deref())
                    .bind(a.actor_id.as_deref())
                    .execute(&mut *tx)
                    .await?;
                let cases: Vec<(i64,)> = sqlx::query_as("select case_id from callback_entry_cases where entry_id = $1")
                    .bind(a.entry_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let after = serde_json::json!({"callback": a.after.status, "outcome": a.outcome});
                let empty = serde_json::json!({});
                let note = match &a.note {
                    Some(n) => format!("{}：{n}", a.outcome.label_zh()),
                    None => a.outcome.label_zh().to_owned(),
                };
                let by = $crate::domain::By { name: &a.actor, id: a.actor_id.as_deref() };
                for (case_id,) in cases {
                    insert_event(&mut tx, case_id, a.at, by, $crate::domain::EventKind::CallbackAttempt, &empty, &after, Some(&note)).await?;
                }
                tx.commit().await?;
                Ok(())
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

        /// Entries matching `filter` (over `e`, the entries), with their cases, recordings
        /// and attempts, in four queries.
        async fn load_entries(
            pool: &sqlx::Pool<$db>,
            filter: &str,
            key: EntryKey,
        ) -> $crate::storage::StoreResult<Vec<$crate::storage::CallbackEntryRecord>> {
            use std::collections::HashMap;
            type Ts = chrono::DateTime<chrono::Utc>;
            #[allow(clippy::type_complexity)]
            let rows: Vec<(i64, String, Ts, Option<String>, bool, String, Ts, Ts, String, i64, Option<Ts>, Option<Ts>, Option<Ts>, Option<String>, Option<Ts>, Option<Ts>)> =
                bind_key(sqlx::query_as(&format!(
                    "select e.id, e.list_date, e.opening_at, e.phone_e164, e.urgent, e.kind, e.first_arrival_at, \
                     e.deadline_at, e.status, e.attempts, e.next_attempt_at, e.first_attempt_at, e.reached_at, \
                     e.claimed_by, e.claimed_until, e.finished_at from callback_entries e where {filter}"
                )), &key)
                .fetch_all(pool)
                .await?;
            let cases: Vec<(i64, i64, String, String, Ts, String)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, c.id, c.number, c.channel, c.received_at, c.description from callback_entry_cases x \
                 join callback_entries e on e.id = x.entry_id join cases c on c.id = x.case_id where {filter} \
                 order by c.received_at, c.id"
            )), &key)
            .fetch_all(pool)
            .await?;
            let recordings: Vec<(i64, i64, i64, i64)> = bind_key(sqlx::query_as(&format!(
                "select x.entry_id, r.id, r.case_id, r.duration_ms from recordings r \
                 join callback_entry_cases x on x.case_id = r.case_id join callback_entries e on e.id = x.entry_id \
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
            for (id, list_date, opening_at, phone, urgent, kind, first_arrival_at, deadline_at, status, attempts_n,
                 next_attempt_at, first_attempt_at, reached_at, claimed_by, claimed_until, finished_at) in rows
            {
                index.insert(id, entries.len());
                entries.push($crate::storage::CallbackEntryRecord {
                    id,
                    list_date: chrono::NaiveDate::parse_from_str(&list_date, "%Y-%m-%d").map_err(anyhow::Error::new)?,
                    opening_at,
                    phone,
                    urgent,
                    kind: kind.parse().map_err(anyhow::Error::new)?,
                    first_arrival_at,
                    deadline_at,
                    status: status.parse().map_err(anyhow::Error::new)?,
                    attempts: attempts_n,
                    next_attempt_at,
                    first_attempt_at,
                    reached_at,
                    claimed_by,
                    claimed_until,
                    finished_at,
                    cases: Vec::new(),
                    recordings: Vec::new(),
                    attempt_log: Vec::new(),
                });
            }
            for (entry_id, case_id, number, channel, received_at, description) in cases {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].cases.push($crate::storage::EntryCase {
                        case_id, number, channel: channel.parse().map_err(anyhow::Error::new)?, received_at, description,
                    });
                }
            }
            for (entry_id, id, case_id, duration_ms) in recordings {
                if let Some(&i) = index.get(&entry_id) {
                    entries[i].recordings.push($crate::storage::EntryRecording { id, case_id, duration_ms });
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
