//! The case service: every change and every view of a case goes through here, from the API,
//! the staff pages and the channels alike. Changes are decided by the domain
//! (`domain::action::decide`) and stored with their event and the notifications they owe, in
//! one transaction, with optimistic concurrency; views apply the visibility rules of
//! [`visibility`] once, whoever asks.

pub mod visibility;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::calendar_source::CalendarHandle;
use crate::domain::{decide, Action, Actor, Case, CaseNumber, Event, EventKind, Refusal};
use crate::oversight::DecisionNotices;
use crate::storage::{CasePage, CaseQuery, RecordingRecord, Store, StoreError};
pub use visibility::TimelineEntry;

/// Re-keys the ID-card digests made before digests were keyed, and masks their numbers as
/// masks are now: all of them, a thousand at a time (done once; at start-up).
pub async fn rekey_old_id_cards(
    store: &dyn Store,
    rules: &crate::domain::IntakeRules,
) -> Result<usize, StoreError> {
    let key = rules.id_card_key;
    let rekey = move |unkeyed: &str| crate::domain::citizen::rekey_digest(&key, unkeyed);
    let mut done = 0;
    loop {
        let n = store.rekey_id_cards(&rekey, 1000).await?;
        done += n;
        if n == 0 {
            break;
        }
    }
    if done > 0 {
        tracing::info!(
            cases = done,
            "ID-card digests re-keyed under the secret key"
        );
    }
    Ok(done)
}

/// How often a change is decided again when someone else changed the case in between.
const RETRIES: usize = 3;

#[derive(Clone)]
pub struct CaseDesk {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    /// Who must hear of an escalation or an approval request.
    decisions: DecisionNotices,
    /// Woken after a change that queued notifications.
    outbox_wake: Arc<Notify>,
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// What was typed is not a case number (`YM-20261128-0007`).
    #[error("`{0}` is not a case number")]
    InvalidNumber(String),
    #[error("no such case")]
    NotFound,
    /// What was typed cannot be stored (a correction's fields).
    #[error("invalid fields")]
    Invalid(Vec<crate::domain::FieldError>),
    /// A reassignment to a user who does not exist or is disabled.
    #[error("`{0}` is not an enabled user")]
    UnknownUser(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A case with what a viewer may see of it.
#[derive(Debug, Clone)]
pub struct CaseFile {
    pub case: Case,
    pub timeline: Vec<TimelineEntry>,
    pub recordings: Vec<RecordingRecord>,
}

impl CaseDesk {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        decisions: DecisionNotices,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            calendar,
            decisions,
            outbox_wake,
        }
    }

    /// The case a typed number names.
    pub async fn load(&self, number: &str) -> Result<Case, CaseError> {
        let number = number
            .parse::<CaseNumber>()
            .map_err(|e| CaseError::InvalidNumber(e.0))?;
        self.store
            .case_by_number(&number)
            .await?
            .ok_or(CaseError::NotFound)
    }

    /// Carries out `action` on the case as `actor`. If someone changed the case between our
    /// read and our write, the domain decides again on the fresh state (unless the caller
    /// pinned the version it saw).
    pub async fn act(
        &self,
        actor: &Actor,
        number: &str,
        action: &Action,
        expected_version: Option<i64>,
    ) -> Result<(Case, Event), CaseError> {
        if !actor.may(action.kind()) {
            return Err(Refusal::Forbidden(action.kind()).into());
        }
        let action = &self.resolve_user(action).await?;
        for _ in 0..RETRIES {
            let case = self.load(number).await?;
            // An arrival counts from the case's last summons.
            let arrival;
            let action = match action {
                Action::RecordArrival {
                    who,
                    summoned_at: None,
                } => {
                    // The last summons, unless its arrival is recorded already.
                    let last = self
                        .store
                        .timeline(case.id)
                        .await?
                        .into_iter()
                        .rev()
                        .find(|e| {
                            matches!(
                                e.action,
                                crate::domain::EventKind::Summon
                                    | crate::domain::EventKind::SummonArrived
                            )
                        })
                        .filter(|e| e.action == crate::domain::EventKind::Summon)
                        .map(|e| e.at);
                    arrival = Action::RecordArrival {
                        who: who.clone(),
                        summoned_at: last,
                    };
                    &arrival
                }
                other => other,
            };
            if expected_version.is_some_and(|v| v != case.version) {
                return Err(StoreError::Conflict.into());
            }
            let now = crate::clock::now();
            let calendar = self.calendar.current();
            let transition = decide(&case, action, actor, now, &calendar)?;
            if matches!(action, Action::DeclineApproval { .. })
                && !self
                    .store
                    .awaiting_approval()
                    .await?
                    .iter()
                    .any(|(c, _)| c.id == case.id)
            {
                return Err(Refusal::NoPendingRequest.into());
            }
            let mut notify = self.decisions.owed(&case, &transition, now).await?;
            // A summoned head is told at once, where the directory says they are reached.
            if let Action::Summon {
                who,
                said,
                contact: Some(contact),
                ..
            } = action
            {
                notify.push(crate::domain::Notification {
                    topic: crate::domain::Topic::Summons,
                    recipient: contact.clone(),
                    payload: serde_json::json!({
                        "case_number": case.number.as_str(),
                        "who": who,
                        "why": said,
                        "by": actor.name,
                        "summoned_at": now.with_timezone(&calendar.timezone()).format("%Y年%-m月%-d日 %H:%M").to_string(),
                    }),
                });
            }
            match self
                .store
                .apply_transition(&case, &transition, actor.by(), now, &notify)
                .await
            {
                Ok((updated, event)) => {
                    if !notify.is_empty() {
                        self.outbox_wake.notify_one();
                    }
                    tracing::info!(case = %updated.number, action = transition.kind.code(), "case action");
                    return Ok((updated, event));
                }
                Err(StoreError::Conflict) if expected_version.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Corrects what was registered on the case, as `actor`, with the intake's rules.
    pub async fn correct(
        &self,
        actor: &Actor,
        number: &str,
        form: &crate::domain::correction::CorrectionForm,
        rules: &crate::domain::IntakeRules,
        directory: &[crate::domain::directory::DirectoryEntry],
        expected_version: Option<i64>,
    ) -> Result<(Case, Event), CaseError> {
        if !actor.may(crate::domain::ActionKind::Correct) {
            return Err(Refusal::Forbidden(crate::domain::ActionKind::Correct).into());
        }
        for _ in 0..RETRIES {
            let case = self.load(number).await?;
            // A form filled from the case as it was: corrected against that, or not at all.
            if expected_version.is_some_and(|v| v != case.version) {
                return Err(StoreError::Conflict.into());
            }
            let correction = crate::domain::correction::correct(&case, form, rules, directory)
                .map_err(CaseError::Invalid)?;
            // Whether the callback moves (a flag: the numbers themselves are never logged).
            let moved = correction.phone_changed;
            match self
                .store
                .correct_case(&case, &correction, actor.by(), crate::clock::now())
                .await
            {
                Ok(done) => {
                    tracing::info!(case = %done.0.number, moved_callback = moved, "registration corrected");
                    return Ok(done);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// A reassignment names its new owner by username: the owner is that enabled user's
    /// display name.
    async fn resolve_user(&self, action: &Action) -> Result<Action, CaseError> {
        let Action::Reassign { to, reason } = action else {
            return Ok(action.clone());
        };
        match self.store.user_by_username(to.trim()).await? {
            Some(user) if !user.disabled => Ok(Action::Reassign {
                to: user.display_name,
                reason: reason.clone(),
            }),
            _ => Err(CaseError::UnknownUser(to.trim().to_owned())),
        }
    }

    /// A case's timeline as `viewer` may see it.
    pub async fn timeline(
        &self,
        case: &Case,
        viewer: &Actor,
    ) -> Result<Vec<TimelineEntry>, CaseError> {
        let events = self.store.timeline(case.id).await?;
        Ok(visibility::timeline_for(viewer, events))
    }

    /// A case, its timeline as `viewer` may see it, and its recordings.
    pub async fn show(&self, number: &str, viewer: &Actor) -> Result<CaseFile, CaseError> {
        let case = self.load(number).await?;
        self.file(case, viewer).await
    }

    /// The file of a case already loaded.
    pub async fn file(&self, case: Case, viewer: &Actor) -> Result<CaseFile, CaseError> {
        let timeline = self.timeline(&case, viewer).await?;
        let recordings = self.store.recordings_of(case.id).await?;
        Ok(CaseFile {
            case,
            timeline,
            recordings,
        })
    }

    /// The shared queue, filtered and paged.
    pub async fn list(&self, query: &CaseQuery) -> Result<CasePage, CaseError> {
        Ok(self.store.list_cases(query).await?)
    }

    /// Other cases of the same person (phone number or ID card), newest first.
    pub async fn related(&self, case: &Case, limit: u32) -> Result<Vec<Case>, CaseError> {
        Ok(self
            .store
            .cases_of_person(
                case.citizen.phone.as_ref().map(|p| p.e164()),
                case.citizen.id_card_digest.as_deref(),
                Some(case.id),
                limit,
            )
            .await?)
    }

    /// Writes an access on the case's timeline (a print, a recording played).
    pub async fn record_access(
        &self,
        case_id: i64,
        actor: crate::domain::By<'_>,
        kind: EventKind,
        note: &str,
    ) -> Result<(), CaseError> {
        Ok(self
            .store
            .record_access(case_id, actor, kind, note, crate::clock::now())
            .await?)
    }
}
