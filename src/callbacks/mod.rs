//! The next-morning callback list as a service: generating it at each opening (a job that
//! runs once across instances), reading a day's list (or, before it exists, a preview of
//! what the coming opening will hold), working entries, and the exports.

pub mod export;
pub mod mail;

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar_source::CalendarHandle;
use crate::config::CallbackSettings;
use crate::domain::callback::{
    after_attempt, calling_order, first_thing_deadline, group, Progress, RetryPolicy,
};
use crate::domain::{By, CallbackKind, EntryStatus, Outcome, WorkingCalendar};
use crate::storage::{
    AttemptWrite, CallbackEntryRecord, CallbackRun, ClaimResult, EntryCase, EntryRecording, Store,
    StoreError,
};

#[derive(Clone)]
pub struct CallbackService {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    settings: CallbackSettings,
    /// Who is told at opening: the morning shift's address, webhooks (`webhook:<name>`).
    notify: Vec<String>,
}

/// One entry as shown: stored, or (before the list exists) a preview without an id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListEntry {
    /// None in a preview.
    pub id: Option<i64>,
    /// E.164; None for a caller who could not be identified.
    pub phone: Option<String>,
    pub urgent: bool,
    pub kind: CallbackKind,
    pub status: EntryStatus,
    /// From an earlier day's list, not reached yet.
    pub carried_over: bool,
    pub first_arrival_at: DateTime<FixedOffset>,
    pub due_at: DateTime<FixedOffset>,
    pub deadline_at: DateTime<FixedOffset>,
    pub late: bool,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<FixedOffset>>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<FixedOffset>>,
    pub cases: Vec<ListCase>,
    pub recordings: Vec<ListRecording>,
    pub attempt_log: Vec<ListAttempt>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListCase {
    pub number: String,
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<FixedOffset>,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListRecording {
    pub id: i64,
    pub duration_seconds: f64,
    /// Where staff play it (with their token).
    pub url: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListAttempt {
    pub at: DateTime<FixedOffset>,
    pub actor: String,
    pub outcome: Outcome,
    pub note: Option<String>,
}

/// A day's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayList {
    pub date: NaiveDate,
    /// The day's first opening.
    pub opening_at: DateTime<FixedOffset>,
    /// False: the list is not generated yet and this is a preview of what is pending.
    pub generated: bool,
    pub progress: Progress,
    /// Numbers to call, in calling order.
    pub entries: Vec<ListEntry>,
    /// Callers without a number: they count, and they are visible.
    pub unknown_numbers: Vec<ListEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("{0} is not a working day")]
    NotWorkingDay(NaiveDate),
    #[error(transparent)]
    Calendar(#[from] crate::domain::calendar::CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such entry")]
    NotFound,
    #[error("the entry is finished")]
    Finished,
    #[error("{0} is calling this person (until {1})")]
    HeldBy(String, DateTime<Utc>),
}

impl CallbackService {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        settings: CallbackSettings,
        mail_enabled: bool,
        webhooks: &[crate::config::WebhookSettings],
    ) -> Self {
        let mut notify: Vec<String> = (mail_enabled
            && !settings.morning_shift_email.trim().is_empty())
        .then(|| settings.morning_shift_email.trim().to_owned())
        .into_iter()
        .collect();
        notify.extend(crate::notify::subscribers(
            webhooks,
            crate::domain::Topic::CallbackList,
        ));
        Self {
            store,
            calendar,
            settings,
            notify,
        }
    }

    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.settings.max_attempts.max(1),
            min_interval: Duration::minutes(i64::from(self.settings.retry_after_minutes)),
        }
    }

    /// The openings of a working day, in order.
    fn openings(calendar: &WorkingCalendar, date: NaiveDate) -> Vec<DateTime<Utc>> {
        if !calendar.is_working_day(date) {
            return Vec::new();
        }
        let tz = calendar.timezone();
        calendar
            .periods()
            .iter()
            .filter_map(|p| date.and_time(p.start).and_local_timezone(tz).earliest())
            .map(|t| t.with_timezone(&Utc))
            .collect()
    }

    fn first_opening(
        calendar: &WorkingCalendar,
        date: NaiveDate,
    ) -> Result<DateTime<Utc>, CallbackError> {
        Self::openings(calendar, date)
            .into_iter()
            .next()
            .ok_or(CallbackError::NotWorkingDay(date))
    }

    /// Generates the entries of one opening (idempotent: None if it was already done).
    pub async fn generate_at(
        &self,
        opening: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, CallbackError> {
        let calendar = self.calendar.current();
        let run = CallbackRun {
            opening_at: opening,
            list_date: calendar.local_date(opening),
            deadline_at: first_thing_deadline(
                &calendar,
                opening,
                self.settings.deadline_working_minutes,
            )?,
            notify: self.notify.clone(),
        };
        let created = self.store.generate_callbacks(&run, now).await?;
        if let Some(n) = created {
            tracing::info!(date = %run.list_date, opening = %opening, entries = n, "callback list generated");
        }
        Ok(created)
    }

    /// By hand: every opening of `date` that has come (the first one at least).
    pub async fn generate_day(
        &self,
        date: NaiveDate,
        actor: By<'_>,
        now: DateTime<Utc>,
    ) -> Result<usize, CallbackError> {
        let calendar = self.calendar.current();
        let openings = Self::openings(&calendar, date);
        let first = *openings.first().ok_or(CallbackError::NotWorkingDay(date))?;
        let mut created = 0;
        for opening in openings.into_iter().filter(|o| *o == first || *o <= now) {
            created += self.generate_at(opening, now).await?.unwrap_or(0);
        }
        self.store
            .audit(actor, "generate_callbacks", &date.to_string(), None, now)
            .await?;
        Ok(created)
    }

    /// The job's step: generate for the latest opening that has come today, if not yet.
    pub async fn generate_due(&self, now: DateTime<Utc>) -> Result<Option<usize>, CallbackError> {
        let calendar = self.calendar.current();
        let today = calendar.local_date(now);
        let Some(opening) = Self::openings(&calendar, today)
            .into_iter()
            .rfind(|o| *o <= now)
        else {
            return Ok(None);
        };
        self.generate_at(opening, now).await
    }

    /// A day's list; before it is generated, what is pending for that day's opening.
    pub async fn day(&self, date: NaiveDate, now: DateTime<Utc>) -> Result<DayList, CallbackError> {
        let calendar = self.calendar.current();
        let opening = Self::first_opening(&calendar, date)?;
        let generated = self.store.callback_runs_on(date).await? > 0;
        let mut entries = if generated {
            self.store
                .callback_entries(date, opening)
                .await?
                .into_iter()
                .map(|e| stored_entry(e, date, now, calendar.timezone()))
                .collect()
        } else {
            // What the coming opening will hold: the pending arrivals, and the entries of
            // earlier lists still open (they carry over).
            let mut entries = self.preview(&calendar, date, now).await?;
            entries.extend(
                self.store
                    .callback_entries(date, opening)
                    .await?
                    .into_iter()
                    .map(|e| stored_entry(e, date, now, calendar.timezone())),
            );
            entries
        };
        entries.sort_by(|a, b| {
            let key = |e: &ListEntry| {
                (
                    e.status.is_finished(),
                    calling_order(
                        e.kind,
                        e.urgent,
                        e.first_arrival_at.with_timezone(&Utc),
                        &e.id.map_or(String::new(), |i| format!("{i:012}")),
                    ),
                )
            };
            key(a).cmp(&key(b))
        });
        let progress = progress(&entries);
        let (entries, unknown_numbers) = entries.into_iter().partition(|e| e.phone.is_some());
        Ok(DayList {
            date,
            opening_at: local(opening, calendar.timezone()),
            generated,
            progress,
            entries,
            unknown_numbers,
        })
    }

    /// What the openings of `date` will list, from the arrivals pending now.
    async fn preview(
        &self,
        calendar: &WorkingCalendar,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<ListEntry>, CallbackError> {
        let tz = calendar.timezone();
        let openings = Self::openings(calendar, date);
        let (Some(&first), Some(&last)) = (openings.first(), openings.last()) else {
            return Err(CallbackError::NotWorkingDay(date));
        };
        let pending = self.store.callback_pending(last).await?;
        let arrivals: Vec<_> = pending.iter().map(|p| p.arrival.clone()).collect();
        let mut cases: std::collections::HashMap<i64, (&EntryCase, &Vec<EntryRecording>)> = pending
            .iter()
            .map(|p| (p.case.case_id, (&p.case, &p.recordings)))
            .collect();
        let mut entries = Vec::new();
        for d in group(&arrivals) {
            let mut listed_cases = Vec::new();
            let mut recordings = Vec::new();
            for id in &d.case_ids {
                if let Some((case, recs)) = cases.remove(id) {
                    listed_cases.push(list_case(case, tz));
                    recordings.extend(recs.iter().map(list_recording));
                }
            }
            // The opening it falls due at: the first of the day for anything older.
            let due = calendar.next_opening(d.first_arrival_at)?.at.max(first);
            let deadline =
                first_thing_deadline(calendar, due, self.settings.deadline_working_minutes)?;
            entries.push(ListEntry {
                id: None,
                phone: d.phone,
                urgent: d.urgent,
                kind: d.kind,
                status: EntryStatus::Open,
                carried_over: false,
                first_arrival_at: local(d.first_arrival_at, tz),
                due_at: local(due, tz),
                deadline_at: local(deadline, tz),
                late: now > deadline,
                attempts: 0,
                next_attempt_at: None,
                claimed_by: None,
                claimed_until: None,
                cases: listed_cases,
                recordings,
                attempt_log: Vec::new(),
            });
        }
        Ok(entries)
    }

    /// Claims an entry for `actor` for the configured time (again, to extend it).
    pub async fn claim(
        &self,
        id: i64,
        actor: By<'_>,
        now: DateTime<Utc>,
    ) -> Result<ListEntry, CallbackError> {
        let until = now + Duration::minutes(i64::from(self.settings.claim_minutes.max(1)));
        match self.store.claim_callback(id, actor, until, now).await? {
            ClaimResult::Claimed => self.entry(id, now).await,
            ClaimResult::NotFound => Err(CallbackError::NotFound),
            ClaimResult::Finished => Err(CallbackError::Finished),
            ClaimResult::HeldBy(by, until) => Err(CallbackError::HeldBy(by, until)),
        }
    }

    /// Records an attempt: the domain decides the entry's new state.
    pub async fn attempt(
        &self,
        id: i64,
        actor: By<'_>,
        outcome: Outcome,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<ListEntry, CallbackError> {
        let entry = self
            .store
            .callback_entry(id)
            .await?
            .ok_or(CallbackError::NotFound)?;
        if entry.status.is_finished() {
            return Err(CallbackError::Finished);
        }
        if let (Some(by), Some(until)) = (&entry.claimed_by, entry.claimed_until) {
            if by != actor.name && until >= now {
                return Err(CallbackError::HeldBy(by.clone(), until));
            }
        }
        let attempts = u32::try_from(entry.attempts + 1).unwrap_or(u32::MAX);
        let after = after_attempt(outcome, attempts, self.policy(), now);
        self.store
            .record_callback_attempt(&AttemptWrite {
                entry_id: id,
                expected_attempts: entry.attempts,
                actor: actor.name.to_owned(),
                actor_id: actor.id.map(str::to_owned),
                outcome,
                note,
                after,
                at: now,
            })
            .await?;
        tracing::info!(entry = id, outcome = %outcome, status = %after.status, "callback attempt recorded");
        self.entry(id, now).await
    }

    pub async fn entry(&self, id: i64, now: DateTime<Utc>) -> Result<ListEntry, CallbackError> {
        let e = self
            .store
            .callback_entry(id)
            .await?
            .ok_or(CallbackError::NotFound)?;
        let date = e.list_date;
        Ok(stored_entry(
            e,
            date,
            now,
            self.calendar.current().timezone(),
        ))
    }
}

fn list_case(c: &EntryCase, tz: Tz) -> ListCase {
    ListCase {
        number: c.number.clone(),
        channel: c.channel,
        received_at: local(c.received_at, tz),
        description: c.description.clone(),
    }
}

fn list_recording(r: &EntryRecording) -> ListRecording {
    ListRecording {
        id: r.id,
        duration_seconds: r.duration_ms as f64 / 1000.0,
        url: format!("/api/v1/recordings/{}", r.id),
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> DateTime<FixedOffset> {
    t.with_timezone(&tz).fixed_offset()
}

fn stored_entry(
    e: CallbackEntryRecord,
    viewed_date: NaiveDate,
    now: DateTime<Utc>,
    tz: Tz,
) -> ListEntry {
    // Late: not reached by the deadline (or, not reached yet and the deadline has passed).
    let late = match e.reached_at {
        Some(t) => t > e.deadline_at,
        None => e.status == EntryStatus::Open && now > e.deadline_at,
    };
    ListEntry {
        id: Some(e.id),
        phone: e.phone,
        urgent: e.urgent,
        kind: e.kind,
        status: e.status,
        carried_over: e.list_date < viewed_date,
        first_arrival_at: local(e.first_arrival_at, tz),
        due_at: local(e.opening_at, tz),
        deadline_at: local(e.deadline_at, tz),
        late,
        attempts: e.attempts,
        next_attempt_at: e.next_attempt_at.map(|t| local(t, tz)),
        claimed_by: e.claimed_by,
        claimed_until: e.claimed_until.map(|t| local(t, tz)),
        cases: e.cases.iter().map(|c| list_case(c, tz)).collect(),
        recordings: e.recordings.iter().map(list_recording).collect(),
        attempt_log: e
            .attempt_log
            .into_iter()
            .map(|a| ListAttempt {
                at: local(a.at, tz),
                actor: a.actor,
                outcome: a.outcome,
                note: a.note,
            })
            .collect(),
    }
}

fn progress(entries: &[ListEntry]) -> Progress {
    let mut p = Progress::default();
    for e in entries {
        p.total += 1;
        match e.status {
            EntryStatus::Open if e.attempts == 0 => p.untried += 1,
            EntryStatus::Open => p.to_retry += 1,
            EntryStatus::Reached => p.reached += 1,
            EntryStatus::Resolved => p.resolved += 1,
            EntryStatus::Unreachable => p.unreachable += 1,
        }
        if e.late {
            p.late += 1;
        }
    }
    p
}
