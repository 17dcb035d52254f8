//! Cases: one case by its number, its timeline, a decided change with its event, an access
//! written on the timeline, and the cases of one person.

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::Notification;
use crate::domain::{By, Case, CaseNumber, Event, EventKind, Transition};

#[async_trait::async_trait]
pub trait CaseStore: Send + Sync {
    async fn case_by_number(&self, number: &CaseNumber) -> StoreResult<Option<Case>>;

    /// The timeline of a case, oldest first.
    async fn timeline(&self, case_id: i64) -> StoreResult<Vec<Event>>;

    /// Stores a decided transition and its event, if the case is still at the version it
    /// was decided on; otherwise `Conflict`. Returns the case and the event written.
    async fn apply_transition(
        &self,
        case: &Case,
        transition: &Transition,
        actor: By<'_>,
        now: DateTime<Utc>,
        notify: &[Notification],
    ) -> StoreResult<(Case, Event)>;

    /// Stores a correction of what was registered, its event and the case's re-indexing; a
    /// changed phone number takes the case off its unfinished callback entries (an entry
    /// left with nothing is finished as unreachable: its number was wrong), so the next
    /// list calls the new number. `Conflict` if the case changed since it was read.
    async fn correct_case(
        &self,
        case: &Case,
        correction: &crate::domain::correction::Correction,
        actor: By<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Case, Event)>;

    /// Appends an event that changes nothing (an access, for the audit trail).
    async fn record_access(
        &self,
        case_id: i64,
        actor: By<'_>,
        action: EventKind,
        note: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Like `record_access`, unless `actor` (name and id) already has the same access (kind
    /// and note) on the case's timeline since `since`: one entry per person, thing and time
    /// window, under a lock so that a burst of parallel requests writes one. True if it wrote
    /// one.
    async fn record_access_once(
        &self,
        case_id: i64,
        actor: By<'_>,
        action: EventKind,
        note: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Cases of the same person (the same phone number or ID card digest), newest first,
    /// without `exclude`.
    async fn cases_of_person(
        &self,
        phone_e164: Option<&str>,
        id_card_digest: Option<&str>,
        exclude: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Case>>;

    /// The cases of each of these phone numbers (E.164), newest first, in one query.
    async fn cases_of_phones(&self, phones: &[String]) -> StoreResult<Vec<Case>>;

    /// Re-keys up to `limit` ID-card digests made before digests were keyed (`rekey` turns
    /// one into its keyed form), and masks their stored numbers as masks are now; each row once
    /// (a second instance doing the same finds it done). Returns how many it did.
    async fn rekey_id_cards(
        &self,
        rekey: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        limit: u32,
    ) -> StoreResult<usize>;

    /// Open cases whose deadline is before `until` (the overdue ones included), oldest
    /// deadline first.
    async fn cases_due_before(&self, until: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Case>>;
}

/// Implements [`CaseStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_case_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::CaseStore for $store {
            async fn case_by_number(
                &self,
                number: &$crate::domain::CaseNumber,
            ) -> $crate::storage::StoreResult<Option<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let sql = format!("select {CASE_COLUMNS} from cases where number = $1");
                let row: Option<CaseRow> =
                    sqlx::query_as(&sql).bind(number.as_str()).fetch_optional(self.reader()).await?;
                Ok(row.map($crate::domain::Case::try_from).transpose()?)
            }

            async fn timeline(
                &self,
                case_id: i64,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::Event>> {
                let rows: Vec<$crate::storage::rows::EventRow> = sqlx::query_as(
                    "select id, at, actor, action, before_state, after_state, note \
                     from case_events where case_id = $1 order by id",
                )
                .bind(case_id)
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map($crate::domain::Event::try_from).collect::<anyhow::Result<_>>()?)
            }

            async fn apply_transition(
                &self,
                case: &$crate::domain::Case,
                t: &$crate::domain::Transition,
                actor: $crate::domain::By<'_>,
                now: chrono::DateTime<chrono::Utc>,
                notify: &[$crate::domain::Notification],
            ) -> $crate::storage::StoreResult<($crate::domain::Case, $crate::domain::Event)> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut tx = self.writer().begin().await?;
                let sql = format!(
                    "update cases set status = $1, owner = $2, cause = $3, tier = $4, deadline = $5, \
                     deadline_provisional = $6, updated_at = $7, version = version + 1, accountability = $10 \
                     where id = $8 and version = $9 returning {CASE_COLUMNS}"
                );
                let row: Option<CaseRow> = sqlx::query_as(&sql)
                    .bind(t.status.as_str())
                    .bind(t.owner.as_deref())
                    .bind(t.cause.as_str())
                    .bind(t.tier.as_str())
                    .bind(t.deadline)
                    .bind(t.deadline_provisional)
                    .bind(now)
                    .bind(case.id)
                    .bind(case.version)
                    .bind(t.accountability)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::storage::StoreError::Conflict);
                };
                let updated = $crate::domain::Case::try_from(row)?;
                let event_id =
                    insert_event(&mut tx, case.id, now, actor, t.event, &t.before, &t.after, t.note.as_deref())
                        .await?;
                // Who must hear of this change is told in the same transaction.
                for n in notify {
                    insert_outbox(&mut tx, Some(case.id), n.topic, &n.recipient, &n.payload, now).await?;
                }
                tx.commit().await?;
                let event = $crate::domain::Event {
                    id: event_id,
                    at: now,
                    actor: actor.name.to_owned(),
                    action: t.event,
                    before: t.before.clone(),
                    after: t.after.clone(),
                    note: t.note.clone(),
                };
                Ok((updated, event))
            }

            async fn correct_case(
                &self,
                case: &$crate::domain::Case,
                c: &$crate::domain::correction::Correction,
                actor: $crate::domain::By<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<($crate::domain::Case, $crate::domain::Event)> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut tx = self.writer().begin().await?;
                let sql = format!(
                    "update cases set citizen_name = $1, phone_e164 = $2, phone_original = $3, id_card_masked = $4, \
                     id_card_digest = $5, matter = $6, description = $7, updated_at = $8, version = version + 1, \
                     failed_counter = $11, failed_department = $12, failed_clerk = $13 \
                     where id = $9 and version = $10 and anonymized_at is null returning {CASE_COLUMNS}"
                );
                let row: Option<CaseRow> = sqlx::query_as(&sql)
                    .bind(c.citizen.name.as_deref())
                    .bind(c.citizen.phone.as_ref().map(|p| p.e164()))
                    .bind(c.citizen.phone.as_ref().map(|p| p.original()))
                    .bind(c.citizen.id_card_masked.as_deref())
                    .bind(c.citizen.id_card_digest.as_deref())
                    .bind(&c.matter)
                    .bind(&c.description)
                    .bind(now)
                    .bind(case.id)
                    .bind(case.version)
                    .bind(c.failed_at.counter.as_deref())
                    .bind(c.failed_at.department.as_deref())
                    .bind(c.failed_at.clerk.as_deref())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::storage::StoreError::Conflict);
                };
                let updated = $crate::domain::Case::try_from(row)?;
                let event = $crate::domain::EventKind::Correct;
                let event_id = insert_event(&mut tx, case.id, now, actor, event, &c.before, &c.after, Some(&c.note)).await?;
                sqlx::query("insert into search_backlog (case_id) values ($1) on conflict do nothing")
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
                if c.phone_changed {
                    // The entries first (an attempt on one updates it first too: the two take
                    // turns), then off every entry that did not reach the caller.
                    sqlx::query(
                        "update callback_entries set updated_at = $1 where id in \
                         (select entry_id from callback_entry_cases where case_id = $2)",
                    )
                    .bind(now)
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
                    let left: Vec<(i64,)> = sqlx::query_as(
                        "delete from callback_entry_cases where case_id = $1 and entry_id in \
                         (select id from callback_entries where finished_at is null or status = $2) returning entry_id",
                    )
                    .bind(case.id)
                    .bind($crate::domain::EntryStatus::Unreachable.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
                    for (entry,) in left {
                        sqlx::query(
                            "update callback_entries set status = $1, finished_at = $2, updated_at = $2, \
                             claimed_by = null, claimed_by_id = null, claimed_until = null \
                             where id = $3 and finished_at is null \
                             and not exists (select 1 from callback_entry_cases x where x.entry_id = $3) \
                             and not exists (select 1 from missed_calls m where m.entry_id = $3)",
                        )
                        .bind($crate::domain::EntryStatus::Unreachable.as_str())
                        .bind(now)
                        .bind(entry)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                let event = $crate::domain::Event {
                    id: event_id,
                    at: now,
                    actor: actor.name.to_owned(),
                    action: event,
                    before: c.before.clone(),
                    after: c.after.clone(),
                    note: Some(c.note.clone()),
                };
                Ok((updated, event))
            }

            async fn record_access(
                &self,
                case_id: i64,
                actor: $crate::domain::By<'_>,
                action: $crate::domain::EventKind,
                note: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                let empty = serde_json::json!({});
                insert_event(&mut tx, case_id, now, actor, action, &empty, &empty, Some(note)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn record_access_once(
                &self,
                case_id: i64,
                actor: $crate::domain::By<'_>,
                action: $crate::domain::EventKind,
                note: &str,
                since: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::storage::StoreResult<bool> {
                let mut tx = self.writer().begin().await?;
                // The same person: the same name and the same id behind it (two people may
                // share a name).
                let id = actor.id.unwrap_or("");
                let key = format!("access|{case_id}|{}|{id}|{}|{note}", actor.name, action.as_str());
                lock_keys_in(&mut tx, &[key.as_str()]).await?;
                let seen: Option<i64> = sqlx::query_scalar(
                    "select id from case_events where case_id = $1 and action = $2 and actor = $3 \
                     and note = $4 and at >= $5 and coalesce(actor_id, '') = $6 limit 1",
                )
                .bind(case_id)
                .bind(action.as_str())
                .bind(actor.name)
                .bind(note)
                .bind(since)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if seen.is_some() {
                    return Ok(false);
                }
                let empty = serde_json::json!({});
                insert_event(&mut tx, case_id, now, actor, action, &empty, &empty, Some(note)).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn cases_of_person(
                &self,
                phone_e164: Option<&str>,
                id_card_digest: Option<&str>,
                exclude: Option<i64>,
                limit: u32,
            ) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                if phone_e164.is_none() && id_card_digest.is_none() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "select {CASE_COLUMNS} from cases where id <> $1 and (phone_e164 = $2 or id_card_digest = $3) \
                     order by received_at desc, id desc limit $4"
                );
                let rows: Vec<CaseRow> = sqlx::query_as(&sql)
                    .bind(exclude.unwrap_or(0))
                    .bind(phone_e164)
                    .bind(id_card_digest)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows.into_iter().map($crate::domain::Case::try_from).collect::<anyhow::Result<_>>()?)
            }

            async fn cases_of_phones(&self, phones: &[String]) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let mut cases = Vec::new();
                for chunk in phones.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("select {CASE_COLUMNS} from cases where phone_e164 in ("));
                    let mut list = q.separated(", ");
                    for p in chunk {
                        list.push_bind(p.as_str());
                    }
                    list.push_unseparated(") order by received_at desc, id desc");
                    let rows: Vec<CaseRow> = q.build_query_as().fetch_all(self.reader()).await?;
                    for r in rows {
                        cases.push($crate::domain::Case::try_from(r)?);
                    }
                }
                Ok(cases)
            }

            async fn rekey_id_cards(
                &self,
                rekey: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
                limit: u32,
            ) -> $crate::storage::StoreResult<usize> {
                let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                    "select id, id_card_digest, id_card_masked from cases \
                     where id_card_digest is not null and id_card_keyed = $1 order by id limit $2",
                )
                .bind(false)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                let mut tx = self.writer().begin().await?;
                for (id, digest, masked) in &rows {
                    sqlx::query(
                        "update cases set id_card_digest = $1, id_card_masked = $2, id_card_keyed = $3 \
                         where id = $4 and id_card_keyed = $5",
                    )
                    .bind(rekey(digest))
                    .bind(masked.as_deref().map($crate::domain::citizen::remask))
                    .bind(true)
                    .bind(*id)
                    .bind(false)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(rows.len())
            }

            async fn cases_due_before(&self, until: chrono::DateTime<chrono::Utc>, limit: u32) -> $crate::storage::StoreResult<Vec<$crate::domain::Case>> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                let rows: Vec<CaseRow> = sqlx::query_as(&format!(
                    // A case registered as a missed call (before missed calls waited as callback
                    // entries) waits for its call back, not its deadline: never an alarm.
                    "select {CASE_COLUMNS} from cases where status in ('new', 'in_progress') and deadline < $1 \
                     and not (status = 'new' and callback_kind is not null and callback_kind = 'missed_call') \
                     order by deadline, id limit $2"
                ))
                .bind(until)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map($crate::domain::Case::try_from).collect::<anyhow::Result<_>>()?)
            }
        }
    };
}

pub(crate) use impl_case_store;
