//! Working the callback list: an attempt and what it does to the entry's cases and missed
//! calls, all in one transaction; the entries made during the working day from arrivals in
//! working hours; late entries told to the duty leader once; and the counts of missed calls.

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::callback_result::{CallStep, LinkedCase};
use crate::domain::NewCase;

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
    /// What happens to each case of the entry.
    pub steps: Vec<(i64, CaseStepWrite)>,
    /// What happens to each missed call of the entry, with the case it becomes.
    pub calls: Vec<CallWrite>,
    /// Case numbers for the cases missed calls become.
    pub prefix: String,
    pub tz: chrono_tz::Tz,
}

/// A case's next step, with what storage needs to take it.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseStepWrite {
    /// Closed as a consultation, with the answer on its timeline.
    Answer { answer: String },
    /// In progress, owned by the caller-back, due by `deadline`; with the caller's matter and
    /// summary when the message's content was unknown.
    Continue {
        matter: Option<String>,
        summary: Option<String>,
        deadline: DateTime<Utc>,
        provisional: bool,
    },
    /// Closed: a missed call whose caller could not be reached.
    Unreachable,
}

/// A missed call's end, and the case it becomes when the caller was reached (registered
/// closed for an answer, in progress with the caller-back as owner when it continues).
#[derive(Debug, Clone)]
pub struct CallWrite {
    pub call_id: i64,
    pub step: CallStep,
    pub case: Option<NewCase>,
}

/// A missed call waiting on an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCall {
    pub id: i64,
    pub channel: crate::domain::Channel,
    pub phone: Option<String>,
    pub received_at: DateTime<Utc>,
    pub urgent: bool,
}

/// Missed calls of a period, by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MissedCallCounts {
    pub total: i64,
    /// No caller number: counted, never listed.
    pub anonymous: i64,
    pub answered: i64,
    pub continued: i64,
    pub unreachable: i64,
    /// Reported missed by the PBX, then a message came: listed as the message.
    pub left_message: i64,
    /// Still to call.
    pub waiting: i64,
}

#[async_trait::async_trait]
pub trait CallbackWorkStore: Send + Sync {
    /// Stores an attempt, the entry's new state, an event on each of its cases and what the
    /// attempt does to them and to its missed calls; the claim is released. `Conflict` if
    /// the entry changed since it was read or another person holds it. Returns the cases
    /// the missed calls became.
    async fn record_callback_attempt(&self, attempt: &AttemptWrite) -> StoreResult<Vec<i64>>;

    /// The cases of an entry, as much as their next step depends on.
    async fn entry_cases(&self, entry_id: i64) -> StoreResult<Vec<LinkedCase>>;

    /// The missed calls still waiting on an entry.
    async fn entry_calls(&self, entry_id: i64) -> StoreResult<Vec<EntryCall>>;

    /// Lists every arrival in working hours due by `up_to` and on no list yet, grouped by
    /// phone (joining a still-open entry of the same phone), due and with its deadline by
    /// `times`. Once across instances.
    async fn generate_daytime(
        &self,
        up_to: DateTime<Utc>,
        times: &super::ListTimes<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize>;

    /// Open entries past their deadline that nobody was told of: one notice each to
    /// `recipients` through the outbox, marked so that it is sent once. Returns how many.
    async fn alert_late_callbacks(
        &self,
        now: DateTime<Utc>,
        recipients: &[String],
        tz: chrono_tz::Tz,
    ) -> StoreResult<usize>;

    /// Missed calls received in `[from, to)`, by how they ended.
    async fn missed_call_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<MissedCallCounts>;
}

/// Implements [`CallbackWorkStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_callback_work_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::CallbackWorkStore for $store {
            async fn record_callback_attempt(
                &self,
                a: &$crate::storage::AttemptWrite,
            ) -> $crate::storage::StoreResult<Vec<i64>> {
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
                     and (claimed_by is null or claimed_until < $3 or claimed_by_id = $8 \
                          or (claimed_by_id is null and claimed_by = $9))",
                )
                .bind(a.after.status.as_str())
                .bind(a.after.next_attempt_at)
                .bind(a.at)
                .bind(reached)
                .bind(finished)
                .bind(a.entry_id)
                .bind(a.expected_attempts)
                .bind(a.actor_id.as_deref())
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
                for (case_id,) in &cases {
                    insert_event(&mut tx, *case_id, a.at, by, $crate::domain::EventKind::CallbackAttempt, &empty, &after, Some(&note)).await?;
                }
                // Only to the cases still on the entry (a corrected phone number takes a case
                // off it: the entry's row, updated above, orders the two).
                for (case_id, step) in a.steps.iter().filter(|(id, _)| cases.iter().any(|(c,)| c == id)) {
                    take_case_step(&mut tx, *case_id, step, by, a.at).await?;
                }
                let mut made = Vec::new();
                for call in &a.calls {
                    let case_id = match &call.case {
                        Some(new) => {
                            let case = insert_case(&mut tx, new, &a.prefix, a.tz, a.at).await?;
                            if call.step == $crate::domain::callback_result::CallStep::Continued {
                                let step = $crate::storage::CaseStepWrite::Continue {
                                    matter: None,
                                    summary: None,
                                    deadline: new.deadline,
                                    provisional: new.deadline_provisional,
                                };
                                take_case_step(&mut tx, case.id, &step, by, a.at).await?;
                            }
                            sqlx::query("insert into callback_entry_cases (case_id, entry_id) values ($1, $2)")
                                .bind(case.id)
                                .bind(a.entry_id)
                                .execute(&mut *tx)
                                .await?;
                            made.push(case.id);
                            Some(case.id)
                        }
                        None => None,
                    };
                    sqlx::query("update missed_calls set outcome = $1, case_id = $2 where id = $3 and outcome is null")
                        .bind(call.step.as_str())
                        .bind(case_id)
                        .bind(call.call_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(made)
            }

            async fn entry_cases(
                &self,
                entry_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::callback_result::LinkedCase>> {
                let rows: Vec<(i64, String, String, String, String, Option<String>)> = sqlx::query_as(
                    "select c.id, c.number, c.channel, c.status, c.tier, c.callback_kind from callback_entry_cases x \
                     join cases c on c.id = x.case_id where x.entry_id = $1 order by c.id",
                )
                .bind(entry_id)
                .fetch_all(self.writer())
                .await?;
                rows.into_iter()
                    .map(|(case_id, number, channel, status, tier, callback)| {
                        Ok($crate::domain::callback_result::LinkedCase {
                            case_id,
                            number,
                            channel: channel.parse()?,
                            status: status.parse()?,
                            tier: tier.parse()?,
                            callback: callback.as_deref().map(str::parse).transpose()?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::domain::vocab::UnknownCode>>()
                    .map_err(|e| anyhow::Error::new(e).into())
            }

            async fn entry_calls(
                &self,
                entry_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::storage::EntryCall>> {
                let rows: Vec<(i64, String, Option<String>, chrono::DateTime<chrono::Utc>, bool)> = sqlx::query_as(
                    "select id, channel, phone_e164, received_at, urgent from missed_calls \
                     where entry_id = $1 and outcome is null order by received_at, id",
                )
                .bind(entry_id)
                .fetch_all(self.writer())
                .await?;
                rows.into_iter()
                    .map(|(id, channel, phone, received_at, urgent)| {
                        Ok($crate::storage::EntryCall { id, channel: channel.parse().map_err(anyhow::Error::new)?, phone, received_at, urgent })
                    })
                    .collect()
            }

            async fn generate_daytime(
                &self,
                up_to: chrono::DateTime<chrono::Utc>,
                times: &$crate::storage::ListTimes<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<usize> {
                let mut tx = self.writer().begin().await?;
                // Two instances listing the day's arrivals at once: one waits for the other,
                // then finds them listed.
                lock_keys_in(&mut tx, &["callbacks:daytime"]).await?;
                let arrivals = pending_arrivals_in(&mut tx, up_to, false).await?;
                let drafts = $crate::domain::callback::group(&arrivals);
                let created = list_drafts(&mut tx, &drafts, times, true, now).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn alert_late_callbacks(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                recipients: &[String],
                tz: chrono_tz::Tz,
            ) -> $crate::storage::StoreResult<usize> {
                let mut tx = self.writer().begin().await?;
                let late: Vec<(i64, Option<String>, chrono::DateTime<chrono::Utc>, String)> = sqlx::query_as(
                    "update callback_entries set late_alerted_at = $1 \
                     where status = 'open' and deadline_at < $1 and late_alerted_at is null \
                     returning id, phone_e164, deadline_at, kind",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let mut rows = Vec::new();
                for (id, phone, deadline_at, kind) in &late {
                    let deadline = deadline_at.with_timezone(&tz).format("%-m月%-d日 %H:%M").to_string();
                    let payload = serde_json::json!({
                        "entry_id": id, "phone": phone, "deadline_at": deadline_at, "deadline": deadline, "kind": kind,
                    });
                    for to in recipients {
                        rows.push((None, $crate::domain::Topic::CallbackLate, to.as_str(), payload.to_string(), now));
                    }
                }
                insert_outbox_rows(&mut tx, &rows).await?;
                tx.commit().await?;
                Ok(late.len())
            }

            async fn missed_call_counts(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<$crate::storage::MissedCallCounts> {
                let rows: Vec<(Option<String>, bool, i64)> = sqlx::query_as(
                    "select outcome, phone_e164 is null, count(*) from missed_calls \
                     where received_at >= $1 and received_at < $2 group by outcome, phone_e164 is null",
                )
                .bind(from)
                .bind(to)
                .fetch_all(self.reader())
                .await?;
                let mut counts = $crate::storage::MissedCallCounts::default();
                for (outcome, anonymous, n) in rows {
                    counts.total += n;
                    if anonymous {
                        counts.anonymous += n;
                        continue;
                    }
                    match outcome.as_deref() {
                        Some("answered") => counts.answered += n,
                        Some("continued") => counts.continued += n,
                        Some("unreachable") => counts.unreachable += n,
                        Some("voicemail") => counts.left_message += n,
                        _ => counts.waiting += n,
                    }
                }
                Ok(counts)
            }
        }

        /// One case's next step inside the attempt's transaction, with its event.
        async fn take_case_step(
            tx: &mut sqlx::Transaction<'_, $db>,
            case_id: i64,
            step: &$crate::storage::CaseStepWrite,
            by: $crate::domain::By<'_>,
            at: chrono::DateTime<chrono::Utc>,
        ) -> $crate::storage::StoreResult<()> {
            use $crate::domain::{EventKind, Status};
            use $crate::storage::CaseStepWrite;
            let (status, owner, matter, description, deadline, tier): (String, Option<String>, String, String, chrono::DateTime<chrono::Utc>, String) =
                sqlx::query_as("select status, owner, matter, description, deadline, tier from cases where id = $1")
                    .bind(case_id)
                    .fetch_one(&mut **tx)
                    .await?;
            match step {
                CaseStepWrite::Answer { answer } => {
                    sqlx::query(
                        "update cases set status = $1, consultation = $2, owner = coalesce(owner, $3), updated_at = $4, \
                         version = version + 1 where id = $5",
                    )
                    .bind(Status::Closed.as_str())
                    .bind(true)
                    .bind(by.name)
                    .bind(at)
                    .bind(case_id)
                    .execute(&mut **tx)
                    .await?;
                    let before = serde_json::json!({"status": status});
                    let after = serde_json::json!({"status": Status::Closed, "consultation": true});
                    insert_event(tx, case_id, at, by, EventKind::AnsweredByCallback, &before, &after, Some(answer)).await?;
                }
                CaseStepWrite::Continue { matter: new_matter, summary, deadline: new_deadline, provisional } => {
                    sqlx::query(
                        "update cases set status = $1, owner = $2, matter = $3, description = $4, deadline = $5, \
                         deadline_provisional = $6, updated_at = $7, version = version + 1 where id = $8",
                    )
                    .bind(Status::InProgress.as_str())
                    .bind(by.name)
                    .bind(new_matter.as_deref().unwrap_or(&matter))
                    .bind(summary.as_deref().unwrap_or(&description))
                    .bind(new_deadline)
                    .bind(provisional)
                    .bind(at)
                    .bind(case_id)
                    .execute(&mut **tx)
                    .await?;
                    if summary.is_some() {
                        // The words changed: the search index takes the new ones.
                        sqlx::query("insert into search_backlog (case_id) values ($1) on conflict do nothing")
                            .bind(case_id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let before = serde_json::json!({
                        "status": status, "owner": owner, "matter": matter, "deadline": deadline, "tier": tier,
                    });
                    let after = serde_json::json!({
                        "status": Status::InProgress, "owner": by.name,
                        "matter": new_matter.as_deref().unwrap_or(&matter), "deadline": new_deadline, "tier": tier,
                    });
                    insert_event(tx, case_id, at, by, EventKind::CallbackContinues, &before, &after, summary.as_deref()).await?;
                }
                CaseStepWrite::Unreachable => {
                    sqlx::query("update cases set status = $1, updated_at = $2, version = version + 1 where id = $3")
                        .bind(Status::Closed.as_str())
                        .bind(at)
                        .bind(case_id)
                        .execute(&mut **tx)
                        .await?;
                    let before = serde_json::json!({"status": status});
                    let after = serde_json::json!({"status": Status::Closed});
                    insert_event(tx, case_id, at, by, EventKind::ClosedUnreachable, &before, &after, None).await?;
                }
            }
            Ok(())
        }
    };
}

pub(crate) use impl_callback_work_store;
