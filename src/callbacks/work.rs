//! An attempt on an entry, and what it finishes: the outcome is the next step of the entry's
//! cases and missed calls (`domain::callback_result` decides; storage does it in the
//! attempt's transaction). Another try waits for its time unless a duty leader overrides it,
//! with a reason.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CallbackError, CallbackService, ListEntry};
use crate::domain::callback::after_attempt;
use crate::domain::callback_result::{
    call_step, case_steps, may_try, CallDetails, CallStep, CaseStep,
};
use crate::domain::{
    ActionKind, Actor, Channel, Citizen, IntakeRules, Outcome, PhoneNumber, Submission,
};
use crate::storage::{AttemptWrite, CallWrite, CaseStepWrite, EntryCall};

/// What a call back may register: the configured matters, and case numbers for the cases
/// missed calls become.
#[derive(Clone)]
pub struct CaseTerms {
    pub rules: Arc<IntakeRules>,
    pub prefix: String,
}

/// One attempt as the caller-back reports it.
#[derive(Debug, Clone)]
pub struct AttemptInput {
    pub outcome: Outcome,
    pub note: Option<String>,
    pub details: CallDetails,
    /// A duty leader's reason to try before the waiting time is up.
    pub override_reason: Option<String>,
}

impl CallbackService {
    /// Records an attempt by `actor`: the domain decides the entry's new state and the next
    /// step of each of its cases and missed calls.
    pub async fn attempt(
        &self,
        id: i64,
        actor: &Actor,
        input: AttemptInput,
        now: DateTime<Utc>,
    ) -> Result<ListEntry, CallbackError> {
        let AttemptInput {
            outcome,
            mut note,
            details,
            override_reason,
        } = input;
        details
            .check(outcome)
            .map_err(|missing| CallbackError::Missing(missing.0))?;
        if let Some(matter) = details.matter.as_deref().map(str::trim) {
            if outcome == Outcome::ReachedContinues && self.terms.rules.matter(matter).is_none() {
                return Err(CallbackError::UnknownMatter(matter.to_owned()));
            }
        }
        let entry = self
            .store
            .callback_entry(id)
            .await?
            .ok_or(CallbackError::NotFound)?;
        if entry.status.is_finished() {
            return Err(CallbackError::Finished);
        }
        if let (Some(by), Some(until)) = (&entry.claimed_by, entry.claimed_until) {
            let mine = match (&entry.claimed_by_id, &actor.id) {
                (Some(holder), Some(me)) => holder == me,
                _ => by == &actor.name,
            };
            if !mine && until >= now {
                let until = super::local(until, self.calendar.current().timezone());
                return Err(CallbackError::HeldBy(by.clone(), until));
            }
        }
        let overridden = match override_reason.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(reason) => {
                if !actor.may(ActionKind::Oversee) {
                    return Err(CallbackError::OverrideNotAllowed);
                }
                note = Some(match note {
                    Some(n) => format!("{n}（提前重拨：{reason}）"),
                    None => format!("提前重拨：{reason}"),
                });
                true
            }
        };
        may_try(entry.next_attempt_at, now, overridden).map_err(|next| {
            CallbackError::TooSoon(super::local(next, self.calendar.current().timezone()))
        })?;
        let attempts = u32::try_from(entry.attempts + 1).unwrap_or(u32::MAX);
        let after = after_attempt(outcome, attempts, self.policy(), now);
        let calendar = self.calendar.current();
        let cases = self.store.entry_cases(id).await?;
        let mut steps = Vec::new();
        for (case_id, step) in case_steps(outcome, after.status, &cases, &details) {
            let tier = cases
                .iter()
                .find(|c| c.case_id == case_id)
                .map_or(crate::domain::Tier::Simple, |c| c.tier);
            steps.push((
                case_id,
                self.step_write(step, tier, &details, &calendar, now)?,
            ));
        }
        let mut calls = Vec::new();
        if let Some(step) = call_step(outcome, after.status) {
            for call in self.store.entry_calls(id).await? {
                let case = match step {
                    CallStep::Unreachable => None,
                    _ => Some(self.case_of_call(&call, step, actor, &details, &calendar, now)?),
                };
                calls.push(CallWrite {
                    call_id: call.id,
                    step,
                    case,
                });
            }
        }
        let by = actor.by();
        self.store
            .record_callback_attempt(&AttemptWrite {
                entry_id: id,
                expected_attempts: entry.attempts,
                actor: by.name.to_owned(),
                actor_id: by.id.map(str::to_owned),
                outcome,
                note,
                after,
                at: now,
                steps,
                calls,
                prefix: self.terms.prefix.clone(),
                tz: calendar.timezone(),
            })
            .await?;
        tracing::info!(entry = id, outcome = %outcome, status = %after.status, "callback attempt recorded");
        self.entry(id, now).await
    }

    fn step_write(
        &self,
        step: CaseStep,
        tier: crate::domain::Tier,
        details: &CallDetails,
        calendar: &crate::domain::WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Result<CaseStepWrite, CallbackError> {
        Ok(match step {
            CaseStep::Answer => CaseStepWrite::Answer {
                answer: details.answer.clone().unwrap_or_default(),
            },
            CaseStep::Continue { retell } => {
                // The 1-3-5 working days count from today, when the matter became known.
                let due = calendar.add_working_days(now, tier.working_days())?;
                CaseStepWrite::Continue {
                    matter: retell.then(|| details.matter.clone()).flatten(),
                    summary: retell.then(|| details.summary.clone()).flatten(),
                    deadline: due.at,
                    provisional: due.provisional,
                }
            }
            CaseStep::Unreachable => CaseStepWrite::Unreachable,
        })
    }

    /// The case a missed call becomes once the caller was reached: answered (closed as a
    /// consultation) or continuing (due in one working day from now).
    fn case_of_call(
        &self,
        call: &EntryCall,
        step: CallStep,
        actor: &Actor,
        details: &CallDetails,
        calendar: &crate::domain::WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Result<crate::domain::NewCase, CallbackError> {
        let rules = &self.terms.rules;
        let matter = match (step, details.matter.as_deref()) {
            (CallStep::Continued, Some(m)) => m.trim().to_owned(),
            _ => rules
                .matter("other")
                .or_else(|| rules.matters.last())
                .map(|m| m.code.clone())
                .unwrap_or_else(|| "other".into()),
        };
        let description = match step {
            CallStep::Continued => details.summary.clone().unwrap_or_default(),
            _ => "来电未留言，回电时已解答".to_owned(),
        };
        let phone = call
            .phone
            .as_ref()
            .map(|e164| PhoneNumber::from_stored(e164.clone(), e164.clone()));
        let submission = Submission {
            channel: match call.channel {
                Channel::BusinessHotline => Channel::BusinessHotline,
                _ => Channel::ComplaintHotline,
            },
            received_at: call.received_at,
            citizen: Citizen {
                name: None,
                phone,
                id_card_masked: None,
                id_card_digest: None,
            },
            matter,
            description,
            urgent: call.urgent,
            callback: None,
            answer: match step {
                CallStep::Answered => details.answer.clone(),
                _ => None,
            },
            registered_by: actor.name.clone(),
            registered_by_id: actor.id.clone(),
            evidence: crate::domain::Evidence::Typed,
            notify: Vec::new(),
            failed_at: Default::default(),
        };
        let mut case = submission.admit(calendar)?.case;
        if step == CallStep::Continued {
            let due = calendar.add_working_days(now, case.tier.working_days())?;
            case.deadline = due.at;
            case.deadline_provisional = due.provisional;
        }
        Ok(case)
    }
}
