//! What a call back finishes. The outcome of a call is the next step of its cases:
//!
//! - reached and **answered** on the phone: every case that is only a message (a voicemail or
//!   a missed call nobody has worked yet) closes as a consultation answered by callback, with
//!   the answer on its timeline; a missed call that is no case yet becomes one, answered;
//! - reached and it **continues**: those cases take the caller's matter and what they want,
//!   the caller-back owns them (首问负责) and their 1-3-5 deadline counts from today; a
//!   missed call becomes such a case;
//! - **unreachable** (a wrong number, or the last try failed): a missed call is closed as
//!   such and counted, a case registered as a missed call before missed calls waited as
//!   entries closes the same way, and anything else stays for the duty leader to see.
//!
//! A website message or a case already being worked is never closed by a callback unless the
//! caller-back says so for that case. Pure: the service reads the cases, asks here, and has
//! storage do what comes out, in the attempt's transaction.

use chrono::{DateTime, Utc};

use super::vocab::{CallbackKind, Channel, EntryStatus, Outcome, Status, Tier};

/// What the caller-back tells about the call, beside the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallDetails {
    /// What the caller was told (needed when the matter was settled on the phone).
    pub answer: Option<String>,
    /// The matter code and what the caller wants (needed when it continues).
    pub matter: Option<String>,
    pub summary: Option<String>,
    /// Cases of the entry that are not only a message (a website message, a case being
    /// worked) but which the caller-back says the answer settles too, by number.
    pub also_close: Vec<String>,
}

/// A detail an outcome needs that is missing: the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing(pub &'static str);

impl CallDetails {
    /// The details an outcome cannot do without.
    pub fn check(&self, outcome: Outcome) -> Result<(), Missing> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        match outcome {
            Outcome::ReachedResolved if !given(&self.answer) => Err(Missing("answer")),
            Outcome::ReachedContinues if !given(&self.matter) => Err(Missing("matter")),
            Outcome::ReachedContinues if !given(&self.summary) => Err(Missing("summary")),
            _ => Ok(()),
        }
    }
}

/// A case on an entry, as much as its next step depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCase {
    pub case_id: i64,
    pub number: String,
    pub channel: Channel,
    pub status: Status,
    pub tier: Tier,
    pub callback: Option<CallbackKind>,
}

impl LinkedCase {
    /// Only a message: a voicemail or missed call that nobody has worked yet. What it is
    /// about is known only once someone has spoken to the caller.
    pub fn only_a_message(&self) -> bool {
        self.status == Status::New
            && matches!(
                self.channel,
                Channel::ComplaintHotline | Channel::BusinessHotline
            )
            && self.callback.is_some()
    }
}

/// The next step of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStep {
    /// Closed as a consultation answered by callback.
    Answer,
    /// Owned by the caller-back, in progress, its deadline counted from today; `retell`:
    /// it takes the caller's matter and summary (a message whose content was unknown).
    Continue { retell: bool },
    /// Closed: the caller of a missed call could not be reached.
    Unreachable,
}

/// The next step of each case of an entry after an attempt with `outcome` left the entry
/// `status`. Cases left as they are do not appear.
pub fn case_steps(
    outcome: Outcome,
    status: EntryStatus,
    cases: &[LinkedCase],
    details: &CallDetails,
) -> Vec<(i64, CaseStep)> {
    cases
        .iter()
        .filter_map(|c| {
            let chosen = details.also_close.iter().any(|n| n == &c.number);
            let step = match outcome {
                Outcome::ReachedResolved
                    if c.status.is_open() && (c.only_a_message() || chosen) =>
                {
                    Some(CaseStep::Answer)
                }
                Outcome::ReachedContinues if c.status == Status::New => Some(CaseStep::Continue {
                    retell: c.only_a_message(),
                }),
                _ if status == EntryStatus::Unreachable
                    && c.only_a_message()
                    && c.callback == Some(CallbackKind::MissedCall) =>
                {
                    Some(CaseStep::Unreachable)
                }
                _ => None,
            };
            step.map(|s| (c.case_id, s))
        })
        .collect()
}

/// What becomes of a missed call (no case yet) on an entry after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStep {
    /// A case, closed as answered by callback.
    Answered,
    /// A case in the queue, owned by the caller-back.
    Continued,
    /// Closed as unreachable, and counted.
    Unreachable,
}

pub fn call_step(outcome: Outcome, status: EntryStatus) -> Option<CallStep> {
    match (outcome, status) {
        (Outcome::ReachedResolved, _) => Some(CallStep::Answered),
        (Outcome::ReachedContinues, _) => Some(CallStep::Continued),
        (_, EntryStatus::Unreachable) => Some(CallStep::Unreachable),
        _ => None,
    }
}

impl CallStep {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStep::Answered => "answered",
            CallStep::Continued => "continued",
            CallStep::Unreachable => "unreachable",
        }
    }
}

/// Whether another try may be made now: not before the entry's `next_attempt_at`, unless a
/// duty leader overrides it (with a reason, recorded). `Err` says from when.
pub fn may_try(
    next_attempt_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    overridden: bool,
) -> Result<(), DateTime<Utc>> {
    match next_attempt_at {
        Some(next) if now < next && !overridden => Err(next),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::at;

    fn case(
        id: i64,
        channel: Channel,
        status: Status,
        callback: Option<CallbackKind>,
    ) -> LinkedCase {
        LinkedCase {
            case_id: id,
            number: format!("YM-20261130-{id:04}"),
            channel,
            status,
            tier: Tier::Simple,
            callback,
        }
    }

    #[test]
    fn an_answer_closes_the_messages_and_what_the_clerk_chose_and_nothing_else() {
        use CallbackKind::*;
        let cases = [
            case(1, Channel::ComplaintHotline, Status::New, Some(Message)),
            case(2, Channel::ComplaintHotline, Status::New, Some(Message)),
            case(3, Channel::Website, Status::New, Some(Message)),
            case(
                4,
                Channel::BusinessHotline,
                Status::InProgress,
                Some(Message),
            ),
            case(5, Channel::Website, Status::New, Some(Message)),
        ];
        let details = CallDetails {
            answer: Some("已告知可在手机上认证".into()),
            also_close: vec!["YM-20261130-0005".into()],
            ..Default::default()
        };
        let steps = case_steps(
            Outcome::ReachedResolved,
            EntryStatus::Resolved,
            &cases,
            &details,
        );
        assert_eq!(
            steps,
            [
                (1, CaseStep::Answer),
                (2, CaseStep::Answer),
                (5, CaseStep::Answer)
            ]
        );
    }

    #[test]
    fn a_continuing_call_retells_the_messages_and_takes_on_new_cases_only() {
        use CallbackKind::*;
        let cases = [
            case(1, Channel::ComplaintHotline, Status::New, Some(Message)),
            case(3, Channel::Website, Status::New, Some(Message)),
            case(
                4,
                Channel::BusinessHotline,
                Status::InProgress,
                Some(Message),
            ),
        ];
        let steps = case_steps(
            Outcome::ReachedContinues,
            EntryStatus::Reached,
            &cases,
            &CallDetails::default(),
        );
        assert_eq!(
            steps,
            [
                (1, CaseStep::Continue { retell: true }),
                (3, CaseStep::Continue { retell: false })
            ]
        );
    }

    #[test]
    fn unreachable_closes_old_missed_call_cases_only() {
        use CallbackKind::*;
        let cases = [
            case(1, Channel::ComplaintHotline, Status::New, Some(MissedCall)),
            case(2, Channel::ComplaintHotline, Status::New, Some(Message)),
        ];
        let none = CallDetails::default();
        assert_eq!(
            case_steps(Outcome::NoAnswer, EntryStatus::Unreachable, &cases, &none),
            [(1, CaseStep::Unreachable)]
        );
        assert!(case_steps(Outcome::NoAnswer, EntryStatus::Open, &cases, &none).is_empty());
        assert_eq!(
            call_step(Outcome::WrongNumber, EntryStatus::Unreachable),
            Some(CallStep::Unreachable)
        );
        assert_eq!(call_step(Outcome::Busy, EntryStatus::Open), None);
    }

    #[test]
    fn each_outcome_asks_for_what_it_needs() {
        let empty = CallDetails::default();
        assert_eq!(
            empty.check(Outcome::ReachedResolved),
            Err(Missing("answer"))
        );
        assert_eq!(
            empty.check(Outcome::ReachedContinues),
            Err(Missing("matter"))
        );
        let matter_only = CallDetails {
            matter: Some("pensions".into()),
            summary: Some("  ".into()),
            ..Default::default()
        };
        assert_eq!(
            matter_only.check(Outcome::ReachedContinues),
            Err(Missing("summary"))
        );
        assert_eq!(empty.check(Outcome::NoAnswer), Ok(()));
    }

    #[test]
    fn another_try_waits_for_its_time_unless_a_leader_overrides() {
        let next = at("2026-11-30T09:40:00+08:00");
        let early = at("2026-11-30T09:00:00+08:00");
        assert_eq!(may_try(Some(next), early, false), Err(next));
        assert_eq!(may_try(Some(next), early, true), Ok(()));
        assert_eq!(may_try(Some(next), next, false), Ok(()));
        assert_eq!(may_try(None, early, false), Ok(()));
    }
}
