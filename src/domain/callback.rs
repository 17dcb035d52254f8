//! The callback list (非工作时间……次日上班第一时间回复): which arrivals make one entry, in
//! which order they are called, what an attempt changes (on the entry and on its cases), when
//! another try is allowed, and when "first thing" ends. Pure: the storage layer feeds arrivals
//! in and stores what comes out.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::calendar::{CalendarError, WorkingCalendar};
use super::vocab::{CallbackKind, Channel, EntryStatus, Outcome};

/// What waits for a call back: a case (a voicemail, a website message), or a missed call
/// that is no case yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arrived {
    Case(i64),
    Call(i64),
}

/// One arrival waiting for a callback.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingArrival {
    pub arrived: Arrived,
    /// E.164; None when the caller could not be identified (no callback number).
    pub phone: Option<String>,
    pub channel: Channel,
    pub kind: CallbackKind,
    pub urgent: bool,
    pub received_at: DateTime<Utc>,
}

/// One person to call: everything from one phone number in the stretch.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryDraft {
    /// Unique within one generation: the phone, or `case:<id>` for an unknown number.
    pub key: String,
    pub phone: Option<String>,
    pub urgent: bool,
    /// `message` if any arrival left a message; `missed_call` if none did.
    pub kind: CallbackKind,
    pub first_arrival_at: DateTime<Utc>,
    pub case_ids: Vec<i64>,
    /// Missed calls (no case yet).
    pub call_ids: Vec<i64>,
}

/// Groups arrivals by phone number, so that nobody is called twice for two voicemails.
/// Arrivals without a number stay one entry each. The result is in calling order.
pub fn group(arrivals: &[PendingArrival]) -> Vec<EntryDraft> {
    let mut by_key: HashMap<String, EntryDraft> = HashMap::new();
    for a in arrivals {
        let key = match (&a.phone, a.arrived) {
            (Some(p), _) => p.clone(),
            (None, Arrived::Case(id)) => format!("case:{id}"),
            (None, Arrived::Call(id)) => format!("call:{id}"),
        };
        let entry = by_key.entry(key.clone()).or_insert_with(|| EntryDraft {
            key,
            phone: a.phone.clone(),
            urgent: false,
            kind: CallbackKind::MissedCall,
            first_arrival_at: a.received_at,
            case_ids: Vec::new(),
            call_ids: Vec::new(),
        });
        entry.urgent |= a.urgent;
        if a.kind == CallbackKind::Message {
            entry.kind = CallbackKind::Message;
        }
        entry.first_arrival_at = entry.first_arrival_at.min(a.received_at);
        match a.arrived {
            Arrived::Case(id) => entry.case_ids.push(id),
            Arrived::Call(id) => entry.call_ids.push(id),
        }
    }
    let mut entries: Vec<EntryDraft> = by_key.into_values().collect();
    for e in &mut entries {
        e.case_ids.sort_unstable();
        e.call_ids.sort_unstable();
    }
    entries.sort_by(|a, b| {
        calling_order(a.kind, a.urgent, a.first_arrival_at, &a.key).cmp(&calling_order(
            b.kind,
            b.urgent,
            b.first_arrival_at,
            &b.key,
        ))
    });
    entries
}

/// The sort key of the list: urgent first, then oldest first; missed calls without a
/// message last (the key breaks ties so that the order is stable).
pub fn calling_order(
    kind: CallbackKind,
    urgent: bool,
    first_arrival_at: DateTime<Utc>,
    key: &str,
) -> (bool, bool, DateTime<Utc>, String) {
    (
        kind == CallbackKind::MissedCall,
        !urgent,
        first_arrival_at,
        key.to_owned(),
    )
}

impl EntryStatus {
    pub fn is_finished(self) -> bool {
        self != EntryStatus::Open
    }
}

/// How often and how long to keep trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub min_interval: Duration,
}

/// What an attempt does to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterAttempt {
    pub status: EntryStatus,
    /// For an entry still open: not before this.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The entry's new state after its `attempts`-th attempt (counting this one).
pub fn after_attempt(
    outcome: Outcome,
    attempts: u32,
    policy: RetryPolicy,
    now: DateTime<Utc>,
) -> AfterAttempt {
    let finished = |status| AfterAttempt {
        status,
        next_attempt_at: None,
    };
    match outcome {
        Outcome::ReachedResolved => finished(EntryStatus::Resolved),
        Outcome::ReachedContinues => finished(EntryStatus::Reached),
        Outcome::WrongNumber => finished(EntryStatus::Unreachable),
        Outcome::NoAnswer | Outcome::Busy if attempts >= policy.max_attempts => {
            finished(EntryStatus::Unreachable)
        }
        Outcome::NoAnswer | Outcome::Busy => AfterAttempt {
            status: EntryStatus::Open,
            next_attempt_at: Some(now + policy.min_interval),
        },
    }
}

/// The close of "first thing": `minutes` of working time after the opening `from`
/// (the lunch break, nights and days off do not count).
pub fn first_thing_deadline(
    calendar: &WorkingCalendar,
    from: DateTime<Utc>,
    minutes: u32,
) -> Result<DateTime<Utc>, CalendarError> {
    let tz = calendar.timezone();
    let mut left = Duration::minutes(i64::from(minutes));
    let mut t = from;
    // Bounded: a year of working days is far more than any deadline needs.
    for _ in 0..800 {
        // From `t` itself when it is working time, else from the next opening.
        let opening = match calendar.is_working_time(t) {
            true => t,
            false => calendar.next_opening(t)?.at,
        };
        let local = opening.with_timezone(&tz);
        let date = local.date_naive();
        let period_end = calendar
            .periods()
            .iter()
            .find(|p| p.start <= local.time() && local.time() < p.end)
            .map(|p| p.end)
            .expect("an opening lies in a working period");
        let end = date
            .and_time(period_end)
            .and_local_timezone(tz)
            .earliest()
            .map(|e| e.with_timezone(&Utc))
            .unwrap_or(opening);
        let available = end - opening;
        if left <= available {
            return Ok(opening + left);
        }
        left -= available;
        t = end;
    }
    Ok(t)
}

/// The opening a list belongs to and its working day: the date of the opening.
pub fn list_date(calendar: &WorkingCalendar, opening: DateTime<Utc>) -> NaiveDate {
    calendar.local_date(opening)
}

/// Progress on one day's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub total: u32,
    /// Not tried yet.
    pub untried: u32,
    /// Tried, not reached, to try again.
    pub to_retry: u32,
    pub reached: u32,
    pub resolved: u32,
    pub unreachable: u32,
    /// Not reached before the callback deadline (or still not reached after it).
    pub late: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::{at, calendar};

    fn arrival(
        id: i64,
        phone: Option<&str>,
        kind: CallbackKind,
        urgent: bool,
        t: &str,
    ) -> PendingArrival {
        PendingArrival {
            arrived: Arrived::Case(id),
            phone: phone.map(str::to_owned),
            channel: Channel::ComplaintHotline,
            kind,
            urgent,
            received_at: at(t),
        }
    }

    #[test]
    fn one_entry_per_number_urgent_first_then_oldest_missed_calls_last() {
        use CallbackKind::*;
        let entries = group(&[
            arrival(
                1,
                Some("+8613800000001"),
                Message,
                false,
                "2026-11-27T18:00:00+08:00",
            ),
            arrival(
                2,
                Some("+8613800000002"),
                MissedCall,
                false,
                "2026-11-27T17:30:00+08:00",
            ),
            arrival(
                3,
                Some("+8613800000001"),
                Message,
                false,
                "2026-11-27T21:00:00+08:00",
            ),
            arrival(
                4,
                Some("+8613800000003"),
                Message,
                true,
                "2026-11-27T23:00:00+08:00",
            ),
            arrival(5, None, Message, false, "2026-11-27T19:00:00+08:00"),
            arrival(
                6,
                Some("+8613800000001"),
                Message,
                false,
                "2026-11-27T22:00:00+08:00",
            ),
        ]);
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "+8613800000003",
                "+8613800000001",
                "case:5",
                "+8613800000002"
            ]
        );
        assert_eq!(entries[1].case_ids, [1, 3, 6]);
        assert_eq!(entries[1].first_arrival_at, at("2026-11-27T18:00:00+08:00"));
        assert_eq!(entries[3].kind, MissedCall);
    }

    #[test]
    fn a_message_makes_a_missed_callers_entry_a_message() {
        use CallbackKind::*;
        let entries = group(&[
            arrival(
                1,
                Some("+8613800000001"),
                MissedCall,
                false,
                "2026-11-27T18:00:00+08:00",
            ),
            arrival(
                2,
                Some("+8613800000001"),
                Message,
                false,
                "2026-11-27T18:05:00+08:00",
            ),
        ]);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, Message);
    }

    #[test]
    fn three_failed_attempts_make_an_entry_unreachable() {
        let policy = RetryPolicy {
            max_attempts: 3,
            min_interval: Duration::hours(1),
        };
        let now = at("2026-11-30T08:40:00+08:00");
        let first = after_attempt(Outcome::NoAnswer, 1, policy, now);
        assert_eq!(first.status, EntryStatus::Open);
        assert_eq!(first.next_attempt_at, Some(at("2026-11-30T09:40:00+08:00")));
        assert_eq!(
            after_attempt(Outcome::Busy, 3, policy, now).status,
            EntryStatus::Unreachable
        );
        assert_eq!(
            after_attempt(Outcome::WrongNumber, 1, policy, now).status,
            EntryStatus::Unreachable
        );
        assert_eq!(
            after_attempt(Outcome::ReachedContinues, 2, policy, now).status,
            EntryStatus::Reached
        );
    }

    #[test]
    fn first_thing_is_two_working_hours_and_skips_lunch() {
        let cal = calendar();
        let monday = at("2026-11-30T08:30:00+08:00");
        assert_eq!(
            first_thing_deadline(&cal, monday, 120).unwrap(),
            at("2026-11-30T10:30:00+08:00")
        );
        // 11:00 + 2 h: one hour before lunch, one after.
        let late_morning = at("2026-11-30T11:00:00+08:00");
        assert_eq!(
            first_thing_deadline(&cal, late_morning, 120).unwrap(),
            at("2026-11-30T14:00:00+08:00")
        );
        // The afternoon opening of a Friday, 5 h: over the weekend to Monday.
        let friday = at("2026-11-27T13:00:00+08:00");
        assert_eq!(
            first_thing_deadline(&cal, friday, 300).unwrap(),
            at("2026-11-30T09:30:00+08:00")
        );
    }
}
