//! The next-morning callback list as a service: generating it at each opening (a job that
//! runs once across instances), reading a day's list (or, before it exists, a preview of
//! what the coming opening will hold), working entries, and the exports.

mod convert;
pub mod export;
pub mod mail;
mod work;

pub use work::{AttemptInput, CaseTerms};

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use crate::calendar_source::CalendarHandle;
use crate::config::CallbackSettings;
use crate::domain::callback::{calling_order, first_thing_deadline, group, Progress, RetryPolicy};
use crate::domain::{By, CallbackKind, EntryStatus, Outcome, WorkingCalendar};
use crate::storage::{
    CallbackEntryRecord, CallbackRun, ClaimResult, EntryCall, EntryCase, EntryRecording, ListTimes,
    Store, StoreError,
};

#[derive(Clone)]
pub struct CallbackService {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    settings: CallbackSettings,
    /// Who is told at opening: the morning shift's address, webhooks (`webhook:<name>`).
    notify: Vec<String>,
    /// The matters a caller-back may give, and case numbers for missed calls made cases.
    terms: CaseTerms,
    /// Woken by the intake when an arrival in working hours is owed a call back.
    daytime_wake: Arc<tokio::sync::Notify>,
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
    /// When it first fell due (the opening of the list it was first on, or its arrival
    /// during the working day).
    pub original_due_at: DateTime<FixedOffset>,
    /// How many days' lists it has been on, this one included.
    pub lists: u32,
    /// Listed during the working day (an arrival in working hours, every line busy).
    pub daytime: bool,
    pub first_arrival_at: DateTime<FixedOffset>,
    pub due_at: DateTime<FixedOffset>,
    pub deadline_at: DateTime<FixedOffset>,
    pub late: bool,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<FixedOffset>>,
    pub claimed_by: Option<String>,
    /// Who holds it, by id (`user:<id>`, `token:<id>`).
    pub claimed_by_id: Option<String>,
    pub claimed_until: Option<DateTime<FixedOffset>>,
    pub cases: Vec<ListCase>,
    /// Missed calls (no message, so no case yet).
    pub calls: Vec<ListCall>,
    pub recordings: Vec<ListRecording>,
    pub attempt_log: Vec<ListAttempt>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListCase {
    pub number: String,
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<FixedOffset>,
    pub description: String,
    pub status: crate::domain::Status,
    /// Only a message nobody has worked yet: an answer on the call back closes it.
    pub only_a_message: bool,
}

/// A missed call on an entry: a call without a message, not a case until someone has
/// spoken to the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListCall {
    pub channel: crate::domain::Channel,
    pub received_at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListRecording {
    pub id: i64,
    pub duration_seconds: f64,
    /// The first line of its machine transcript, once there is one that heard something.
    pub transcript: Option<String>,
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
    /// Arrivals during the working day (voicemail left while every line was busy, missed
    /// calls), in calling order.
    pub daytime: Vec<ListEntry>,
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
    /// Someone else is calling this person, until then (local time).
    #[error("{0} is calling this person (until {1})")]
    HeldBy(String, DateTime<FixedOffset>),
    /// Tried too recently: the next try is allowed from then (local time).
    #[error("the next try is allowed from {0}")]
    TooSoon(DateTime<FixedOffset>),
    /// A detail the outcome needs is missing: the field.
    #[error("`{0}` is needed for this outcome")]
    Missing(&'static str),
    #[error("`{0}` is not a configured matter")]
    UnknownMatter(String),
    /// A leader's override of the waiting time needs a reason.
    #[error("an override needs a reason")]
    OverrideNeedsReason,
    #[error("only a duty leader may override the waiting time")]
    OverrideNotAllowed,
}

impl CallbackService {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        settings: CallbackSettings,
        mail_enabled: bool,
        webhooks: &[crate::config::WebhookSettings],
        terms: CaseTerms,
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
            terms,
            daytime_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Lists the day's arrivals when `wake` is notified (by the intake).
    pub fn with_daytime_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.daytime_wake = wake;
        self
    }

    /// What the intake wakes when an arrival in working hours is owed a call back.
    pub fn daytime_wake(&self) -> Arc<tokio::sync::Notify> {
        self.daytime_wake.clone()
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
            notify: self.notify.clone(),
        };
        // Each entry falls due at the opening after its first arrival: this one, or (for an
        // arrival a list missed) an earlier one, which it then carries over from.
        let due_for = |first: DateTime<Utc>| {
            calendar
                .next_opening(first)
                .map_or(opening, |o| o.at.min(opening))
        };
        let deadline_for = |due| self.deadline_after(&calendar, due);
        let times = ListTimes {
            due_for: &due_for,
            deadline_for: &deadline_for,
            tz: calendar.timezone(),
        };
        let created = self.store.generate_callbacks(&run, &times, now).await?;
        if let Some(n) = created {
            tracing::info!(date = %run.list_date, opening = %opening, entries = n, "callback list generated");
        }
        Ok(created)
    }

    /// The end of "first thing" after `due`.
    fn deadline_after(&self, calendar: &WorkingCalendar, due: DateTime<Utc>) -> DateTime<Utc> {
        first_thing_deadline(calendar, due, self.settings.deadline_working_minutes)
            .unwrap_or(due + Duration::hours(2))
    }

    /// Lists the arrivals of the working day so far (voicemail left while every line was
    /// busy, missed calls) at once, each due at its arrival.
    pub async fn generate_daytime(&self, now: DateTime<Utc>) -> Result<usize, CallbackError> {
        let calendar = self.calendar.current();
        let due_for = |first: DateTime<Utc>| first;
        let deadline_for = |due| self.deadline_after(&calendar, due);
        let times = ListTimes {
            due_for: &due_for,
            deadline_for: &deadline_for,
            tz: calendar.timezone(),
        };
        let created = self.store.generate_daytime(now, &times, now).await?;
        if created > 0 {
            tracing::info!(entries = created, "arrivals of the working day listed");
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
                .map(|e| stored_entry(e, date, now, &calendar))
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
                    .map(|e| stored_entry(e, date, now, &calendar)),
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
        let (daytime, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.daytime);
        let (entries, unknown_numbers) = entries.into_iter().partition(|e| e.phone.is_some());
        Ok(DayList {
            date,
            opening_at: local(opening, calendar.timezone()),
            generated,
            progress,
            entries,
            daytime,
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
            .filter_map(|p| p.case.as_ref().map(|c| (c.case_id, (c, &p.recordings))))
            .collect();
        let mut calls: std::collections::HashMap<i64, &EntryCall> = pending
            .iter()
            .filter_map(|p| p.call.as_ref().map(|c| (c.id, c)))
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
            let listed_calls = d
                .call_ids
                .iter()
                .filter_map(|id| calls.remove(id))
                .map(|c| list_call(c, tz))
                .collect();
            // The opening it fell due at; anything older than the day's first opening was
            // not called back on its own day's list and carries over (the list a service
            // that was down would have made, and the generated list will say the same).
            let original = calendar.next_opening(d.first_arrival_at)?.at;
            let due = original.max(first);
            let deadline =
                first_thing_deadline(calendar, due, self.settings.deadline_working_minutes)?;
            entries.push(ListEntry {
                id: None,
                phone: d.phone,
                urgent: d.urgent,
                kind: d.kind,
                status: EntryStatus::Open,
                carried_over: original < first,
                original_due_at: local(original, tz),
                lists: lists_between(calendar, calendar.local_date(original), date),
                daytime: false,
                first_arrival_at: local(d.first_arrival_at, tz),
                due_at: local(due, tz),
                deadline_at: local(deadline, tz),
                late: now > deadline,
                attempts: 0,
                next_attempt_at: None,
                claimed_by: None,
                claimed_by_id: None,
                claimed_until: None,
                cases: listed_cases,
                calls: listed_calls,
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
            ClaimResult::HeldBy(by, until) => Err(CallbackError::HeldBy(
                by,
                local(until, self.calendar.current().timezone()),
            )),
        }
    }

    pub async fn entry(&self, id: i64, now: DateTime<Utc>) -> Result<ListEntry, CallbackError> {
        let e = self
            .store
            .callback_entry(id)
            .await?
            .ok_or(CallbackError::NotFound)?;
        let date = e.list_date;
        Ok(stored_entry(e, date, now, &self.calendar.current()))
    }
}

pub(crate) use convert::local;
use convert::{list_call, list_case, list_recording};

/// How many working days' lists an entry first due on `from` has been on by `to`, both
/// included (1: only its own).
fn lists_between(calendar: &WorkingCalendar, from: NaiveDate, to: NaiveDate) -> u32 {
    let mut day = from;
    let mut lists = 0;
    while day <= to && lists < 400 {
        if calendar.is_working_day(day) {
            lists += 1;
        }
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    lists.max(1)
}

fn stored_entry(
    e: CallbackEntryRecord,
    viewed_date: NaiveDate,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> ListEntry {
    let tz = calendar.timezone();
    // Late: not reached by the deadline (or, not reached yet and the deadline has passed).
    let late = match e.reached_at {
        Some(t) => t > e.deadline_at,
        None => e.status == EntryStatus::Open && now > e.deadline_at,
    };
    // On the lists of the days it stayed open, up to the one viewed.
    let last_day = match e.finished_at {
        Some(t) => calendar.local_date(t).min(viewed_date),
        None => viewed_date,
    };
    ListEntry {
        id: Some(e.id),
        phone: e.phone,
        urgent: e.urgent,
        kind: e.kind,
        status: e.status,
        carried_over: e.list_date < viewed_date,
        original_due_at: local(e.opening_at, tz),
        lists: lists_between(calendar, e.list_date, last_day),
        daytime: e.daytime && e.list_date == viewed_date,
        first_arrival_at: local(e.first_arrival_at, tz),
        due_at: local(e.opening_at, tz),
        deadline_at: local(e.deadline_at, tz),
        late,
        attempts: e.attempts,
        next_attempt_at: e.next_attempt_at.map(|t| local(t, tz)),
        claimed_by: e.claimed_by,
        claimed_by_id: e.claimed_by_id,
        claimed_until: e.claimed_until.map(|t| local(t, tz)),
        cases: e.cases.iter().map(|c| list_case(c, tz)).collect(),
        calls: e.calls.iter().map(|c| list_call(c, tz)).collect(),
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
