//! The case state machine: which action is allowed from which state, by whom, and what it
//! changes. Pure: the caller loads the case, asks [`decide`], and stores the [`Transition`]
//! together with its timeline event.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::calendar::{CalendarError, WorkingCalendar};
use super::case::Case;
use super::vocab::{Cause, EventKind, Role, Status, Tier};

/// Someone acting on a case: a signed-in staff member or an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub roles: Vec<Role>,
    /// Who is behind the name: `user:<users.id>` or `token:<api_tokens.id>`; None for the
    /// system's own work.
    pub id: Option<String>,
}

impl Actor {
    /// The actor as events and claims store it.
    pub fn by(&self) -> super::audit::By<'_> {
        super::audit::By {
            name: &self.name,
            id: self.id.as_deref(),
        }
    }

    pub fn may(&self, kind: ActionKind) -> bool {
        self.roles.iter().any(|r| permitted(*r, kind))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Take the case: the actor becomes its owner (首问负责制).
    Accept,
    Classify {
        cause: Cause,
    },
    /// Correct the tier; the deadline is recounted from the day of receipt.
    SetTier {
        tier: Tier,
    },
    /// Move up one tier; the new tier's deadline is counted from today.
    Escalate {
        reason: String,
    },
    AddNote {
        text: String,
    },
    /// A reply the citizen sees on the tracking page (internal notes stay internal).
    PublishNote {
        text: String,
    },
    /// A department head (or anyone from the director down) summoned to the window: who
    /// was called, and what they said.
    Summon {
        who: String,
        said: String,
        /// The department whose head is summoned (a directory code), when picked from it.
        department: Option<String>,
        /// Where the summons is sent at once (the head's e-mail or `webhook:<name>`).
        contact: Option<String>,
    },
    /// The summoned person came (到场): how long after the summons is counted.
    RecordArrival {
        who: String,
        /// When they were summoned (the case desk finds the last summons).
        summoned_at: Option<DateTime<Utc>>,
    },
    /// A one-time notice (一次性告知): every material and step, one per line, printable.
    OneTimeNotice {
        items: String,
    },
    /// The duty leader approves acceptance with non-essential materials missing (容缺受理).
    ApproveMissingMaterials {
        missing: String,
    },
    /// A research-room meeting (研究室): who attended and the conclusion.
    Meeting {
        attendees: String,
        conclusion: String,
    },
    /// Ask the duty leader to approve: acceptance with missing materials, or a refusal.
    RequestApproval {
        what: String,
    },
    /// Referred to a department of the bureau (转办), with what is asked of it.
    Refer {
        department_code: String,
        department: String,
        request: String,
    },
    /// How the referral's hand-off ended (the department's answer).
    RecordHandOff {
        result: String,
    },
    /// The duty leader declines the pending approval request, saying why.
    DeclineApproval {
        reason: String,
    },
    /// The duty leader gives the case to another person (its owner from now on), saying why.
    /// `to` is the new owner's display name, an enabled user's (checked by the case desk).
    Reassign {
        to: String,
        reason: String,
    },
    /// The decision of the tier's body (the centre's party committee, the bureau's party group
    /// meeting) on an escalated case.
    RecordDecision {
        decision: String,
    },
    /// Accountability for a staff-side cause (问责): who, what went wrong, the decision.
    RecordAccountability {
        clerk: String,
        department_head: String,
        leader_in_charge: String,
        what_went_wrong: String,
        decision: String,
        /// The outcome, in the report's own terms.
        outcome: AccountabilityOutcome,
        /// For an admonishment talk (约谈谈话): when, by whom, who was spoken to.
        talk: Option<Talk>,
        /// For an exemption (容错免责): the grounds.
        grounds: Option<String>,
    },
    Resolve {
        outcome: String,
    },
    /// Record why the matter cannot be done under the law (否定备案).
    Refuse {
        reason: String,
    },
    /// Closure (销号) of a resolved or refused case.
    Close,
    Reopen {
        reason: String,
    },
}

pub use super::permission::{permitted, AccountabilityOutcome, ActionKind, Talk};

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Accept => ActionKind::Accept,
            Action::Classify { .. } => ActionKind::Classify,
            Action::SetTier { .. } => ActionKind::SetTier,
            Action::Escalate { .. } => ActionKind::Escalate,
            Action::AddNote { .. } => ActionKind::AddNote,
            Action::PublishNote { .. } => ActionKind::PublishNote,
            Action::Summon { .. } | Action::RecordArrival { .. } => ActionKind::Summon,
            Action::OneTimeNotice { .. } => ActionKind::OneTimeNotice,
            Action::ApproveMissingMaterials { .. } => ActionKind::ApproveMissingMaterials,
            Action::Meeting { .. } => ActionKind::Meeting,
            Action::RequestApproval { .. } => ActionKind::RequestApproval,
            Action::Refer { .. } => ActionKind::Refer,
            Action::RecordHandOff { .. } => ActionKind::RecordHandOff,
            Action::DeclineApproval { .. } => ActionKind::DeclineApproval,
            Action::Reassign { .. } => ActionKind::Reassign,
            Action::RecordDecision { .. } => ActionKind::RecordDecision,
            Action::RecordAccountability { .. } => ActionKind::RecordAccountability,
            Action::Resolve { .. } => ActionKind::Resolve,
            Action::Refuse { .. } => ActionKind::Refuse,
            Action::Close => ActionKind::Close,
            Action::Reopen { .. } => ActionKind::Reopen,
        }
    }

    /// What the timeline records of this action.
    pub fn event_kind(&self) -> EventKind {
        match self {
            Action::Accept => EventKind::Accept,
            Action::Classify { .. } => EventKind::Classify,
            Action::SetTier { .. } => EventKind::SetTier,
            Action::Escalate { .. } => EventKind::Escalate,
            Action::AddNote { .. } => EventKind::AddNote,
            Action::PublishNote { .. } => EventKind::PublishNote,
            Action::Summon { .. } => EventKind::Summon,
            Action::RecordArrival { .. } => EventKind::SummonArrived,
            Action::OneTimeNotice { .. } => EventKind::OneTimeNotice,
            Action::ApproveMissingMaterials { .. } => EventKind::ApproveMissingMaterials,
            Action::Meeting { .. } => EventKind::Meeting,
            Action::RequestApproval { .. } => EventKind::RequestApproval,
            Action::Refer { .. } => EventKind::Refer,
            Action::RecordHandOff { .. } => EventKind::RecordHandOff,
            Action::DeclineApproval { .. } => EventKind::DeclineApproval,
            Action::Reassign { .. } => EventKind::Reassign,
            Action::RecordDecision { .. } => EventKind::RecordDecision,
            Action::RecordAccountability { .. } => EventKind::RecordAccountability,
            Action::Resolve { .. } => EventKind::Resolve,
            Action::Refuse { .. } => EventKind::Refuse,
            Action::Close => EventKind::Close,
            Action::Reopen { .. } => EventKind::Reopen,
        }
    }

    /// The states from which the action makes sense.
    pub fn allowed_from(&self) -> &'static [Status] {
        use Status::*;
        match self {
            Action::Accept => &[New],
            Action::Classify { .. } | Action::SetTier { .. } | Action::Escalate { .. } => {
                &[New, InProgress]
            }
            Action::Refuse { .. }
            | Action::Summon { .. }
            | Action::RecordArrival { .. }
            | Action::OneTimeNotice { .. }
            | Action::ApproveMissingMaterials { .. }
            | Action::Meeting { .. }
            | Action::RequestApproval { .. }
            | Action::DeclineApproval { .. }
            | Action::Refer { .. }
            | Action::Reassign { .. }
            | Action::RecordDecision { .. } => &[New, InProgress],
            Action::RecordAccountability { .. } => &[InProgress, Resolved, Closed],
            Action::AddNote { .. } | Action::PublishNote { .. } => {
                &[New, InProgress, Resolved, Closed, Refused]
            }
            Action::Resolve { .. } => &[InProgress],
            Action::RecordHandOff { .. } => &[New, InProgress, Resolved],
            Action::Close => &[Resolved, Refused],
            Action::Reopen { .. } => &[Resolved, Closed, Refused],
        }
    }
}

/// Why an action was not carried out. Each is a conflict with the case's state or a
/// missing permission, never a malformed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("your role may not {}", .0.code())]
    Forbidden(ActionKind),
    #[error("cannot {} a case that is {}", .action.code(), .status)]
    WrongStatus { action: ActionKind, status: Status },
    #[error("the case is already at the highest tier (difficult, 5 working days)")]
    HighestTier,
    #[error("classify the cause before resolving the case")]
    CauseNotClassified,
    #[error("a staff-side case needs its accountability record before it is closed")]
    AccountabilityMissing,
    #[error("the case already has that value")]
    Unchanged,
    #[error("nobody was summoned on this case")]
    NoSummons,
    #[error("record the department where the matter could not be done (a correction) before classifying it as staff-side")]
    DepartmentMissing,
    #[error("no approval request is waiting on this case")]
    NoPendingRequest,
    #[error("the working calendar cannot compute the deadline: {0}")]
    Calendar(#[from] CalendarError),
}

/// What an allowed action does to a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub kind: ActionKind,
    /// What the timeline records of it.
    pub event: EventKind,
    pub status: Status,
    pub owner: Option<String>,
    pub cause: Cause,
    pub tier: Tier,
    pub deadline: DateTime<Utc>,
    pub deadline_provisional: bool,
    pub accountability: bool,
    /// Only the fields that changed, before and after.
    pub before: Value,
    pub after: Value,
    pub note: Option<String>,
}

/// Decides whether `actor` may do `action` to `case` now, and what changes.
pub fn decide(
    case: &Case,
    action: &Action,
    actor: &Actor,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<Transition, Refusal> {
    let kind = action.kind();
    if !actor.may(kind) {
        return Err(Refusal::Forbidden(kind));
    }
    if !action.allowed_from().contains(&case.status) {
        return Err(Refusal::WrongStatus {
            action: kind,
            status: case.status,
        });
    }
    let mut t = Transition {
        kind,
        event: action.event_kind(),
        status: case.status,
        owner: case.owner.clone(),
        cause: case.cause,
        tier: case.tier,
        deadline: case.deadline,
        deadline_provisional: case.deadline_provisional,
        accountability: case.accountability_recorded,
        before: Value::Null,
        after: Value::Null,
        note: None,
    };
    match action {
        Action::Accept => {
            t.status = Status::InProgress;
            t.owner = Some(actor.name.clone());
        }
        Action::Classify { cause } => {
            if *cause == case.cause {
                return Err(Refusal::Unchanged);
            }
            // A staff-side failure is counted against its place: the department is known.
            if *cause == Cause::StaffSide && case.failed_at.department.is_none() {
                return Err(Refusal::DepartmentMissing);
            }
            t.cause = *cause;
        }
        Action::SetTier { tier } => {
            if *tier == case.tier {
                return Err(Refusal::Unchanged);
            }
            let due = calendar.add_working_days(case.received_at, tier.working_days())?;
            (t.tier, t.deadline, t.deadline_provisional) = (*tier, due.at, due.provisional);
        }
        Action::Escalate { reason } => {
            let tier = case.tier.next_up().ok_or(Refusal::HighestTier)?;
            let due = calendar.add_working_days(now, tier.working_days())?;
            (t.tier, t.deadline, t.deadline_provisional) = (tier, due.at, due.provisional);
            t.note = Some(reason.clone());
        }
        Action::AddNote { text } | Action::PublishNote { text } => t.note = Some(text.clone()),
        Action::Summon {
            who,
            said,
            department,
            contact,
        } => {
            t.note = Some(format!("召见：{who}\n{said}"));
            t.after = json!({
                "summoned": who,
                "summoned_department": department,
                "summons_sent": contact.is_some(),
            });
        }
        Action::RecordArrival { who, summoned_at } => {
            let summoned_at = summoned_at.ok_or(Refusal::NoSummons)?;
            let minutes = (now - summoned_at).num_minutes().max(0);
            t.note = Some(format!("到场：{who}（召见后 {minutes} 分钟）"));
            t.after = json!({"arrived": who, "minutes_to_arrive": minutes});
        }
        Action::OneTimeNotice { items } => {
            t.note = Some(items.clone());
            t.after =
                json!({"notice_items": items.lines().filter(|l| !l.trim().is_empty()).count()});
        }
        Action::ApproveMissingMaterials { missing } => {
            // Approval is acceptance: the approver's case is taken if nobody has it yet.
            if case.status == Status::New {
                t.status = Status::InProgress;
                t.owner = Some(actor.name.clone());
            }
            t.note = Some(format!("容缺受理，缺：{missing}"));
        }
        Action::Meeting {
            attendees,
            conclusion,
        } => {
            t.note = Some(format!("参会：{attendees}\n结论：{conclusion}"));
            t.after = json!({"meeting": attendees});
        }
        Action::Resolve { outcome } => {
            if case.cause == Cause::Unclassified {
                return Err(Refusal::CauseNotClassified);
            }
            t.status = Status::Resolved;
            t.note = Some(outcome.clone());
        }
        Action::Refuse { reason } => {
            t.status = Status::Refused;
            t.note = Some(reason.clone());
        }
        Action::Close => {
            if case.cause == Cause::StaffSide && !case.accountability_recorded {
                return Err(Refusal::AccountabilityMissing);
            }
            t.status = Status::Closed;
        }
        Action::RequestApproval { what } => {
            t.note = Some(what.clone());
            t.after = json!({"awaiting_approval": true});
        }
        Action::Refer {
            department_code,
            department,
            request,
        } => {
            t.note = Some(format!("转往：{department}\n{request}"));
            t.after = json!({"referred_to": department_code, "referred_to_name": department});
        }
        Action::RecordHandOff { result } => t.note = Some(result.clone()),
        Action::DeclineApproval { reason } => {
            t.note = Some(reason.clone());
            t.after = json!({"awaiting_approval": false});
        }
        Action::Reassign { to, reason } => {
            if case.owner.as_deref() == Some(to.as_str()) {
                return Err(Refusal::Unchanged);
            }
            // Given to someone, the case is theirs to the end, as if they had accepted it.
            t.status = Status::InProgress;
            t.owner = Some(to.clone());
            t.note = Some(format!("改由 {to} 负责：{reason}"));
        }
        Action::RecordDecision { decision } => {
            t.note = Some(decision.clone());
            t.after = json!({"decision_tier": case.tier});
        }
        Action::RecordAccountability {
            clerk,
            department_head,
            leader_in_charge,
            what_went_wrong,
            decision,
            outcome,
            talk,
            grounds,
        } => {
            t.accountability = true;
            let mut note = format!(
                "结果：{}\n经办人：{clerk}\n科室负责人：{department_head}\n分管领导：{leader_in_charge}\n问题：{what_went_wrong}\n处理决定：{decision}",
                outcome.label_zh()
            );
            if let Some(talk) = talk {
                note.push_str(&format!(
                    "\n约谈：{}，由{}约谈{}",
                    talk.at, talk.by, talk.with
                ));
            }
            if let Some(grounds) = grounds {
                note.push_str(&format!("\n免责依据：{grounds}"));
            }
            t.note = Some(note);
            // Counted per outcome and department (the bulletins count, never name).
            t.after = json!({
                "accountability_outcome": outcome.code(),
                "accountability_department": case.failed_at.department,
            });
        }
        Action::Reopen { reason } => {
            // The old deadline has usually passed: the tier's days count again from today.
            let due = calendar.add_working_days(now, case.tier.working_days())?;
            (t.deadline, t.deadline_provisional) = (due.at, due.provisional);
            t.status = Status::InProgress;
            t.note = Some(reason.clone());
        }
    }
    // What an action records beyond the fields it changes (who was summoned, ...).
    let extra = std::mem::replace(&mut t.after, Value::Null);
    (t.before, t.after) = diff(case, &t);
    if let (Value::Object(extra), Value::Object(after)) = (extra, &mut t.after) {
        after.extend(extra);
    }
    Ok(t)
}

fn diff(case: &Case, t: &Transition) -> (Value, Value) {
    let mut before = Map::new();
    let mut after = Map::new();
    let mut field = |name: &str, old: Value, new: Value| {
        if old != new {
            before.insert(name.to_owned(), old);
            after.insert(name.to_owned(), new);
        }
    };
    field("status", json!(case.status), json!(t.status));
    field("owner", json!(case.owner), json!(t.owner));
    field("cause", json!(case.cause), json!(t.cause));
    field("tier", json!(case.tier), json!(t.tier));
    field("deadline", json!(case.deadline), json!(t.deadline));
    (Value::Object(before), Value::Object(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::{at, calendar};
    use crate::domain::case::{CaseNumber, Citizen};
    use crate::domain::vocab::Channel;

    fn case(status: Status) -> Case {
        let received = at("2026-09-18T15:00:00+08:00");
        Case {
            id: 1,
            number: "YM-20260918-0001".parse::<CaseNumber>().unwrap(),
            channel: Channel::Counter,
            received_at: received,
            citizen: Citizen {
                name: None,
                phone: None,
                id_card_masked: None,
                id_card_digest: None,
            },
            matter: "pensions".into(),
            description: "养老金待遇核定办不了".into(),
            cause: Cause::Unclassified,
            tier: Tier::Simple,
            status,
            owner: None,
            deadline: at("2026-09-20T17:00:00+08:00"),
            deadline_provisional: false,
            off_hours: false,
            consultation: false,
            urgent: false,
            callback: None,
            created_at: received,
            updated_at: received,
            version: 1,
            accountability_recorded: false,
            failed_at: Default::default(),
        }
    }

    fn staff(role: Role) -> Actor {
        Actor {
            name: "王芳".into(),
            roles: vec![role],
            id: None,
        }
    }

    fn run(c: &Case, a: Action, role: Role) -> Result<Transition, Refusal> {
        decide(
            c,
            &a,
            &staff(role),
            at("2026-09-21T09:00:00+08:00"),
            &calendar(),
        )
    }

    #[test]
    fn accepting_a_new_case_makes_the_actor_its_owner() {
        let t = run(&case(Status::New), Action::Accept, Role::Counter).unwrap();
        assert_eq!(t.status, Status::InProgress);
        assert_eq!(t.owner.as_deref(), Some("王芳"));
        assert_eq!(t.after["owner"], "王芳");
        assert_eq!(t.before["status"], "new");
    }

    #[test]
    fn a_case_cannot_be_accepted_twice() {
        let err = run(&case(Status::InProgress), Action::Accept, Role::Counter).unwrap_err();
        assert_eq!(
            err,
            Refusal::WrongStatus {
                action: ActionKind::Accept,
                status: Status::InProgress
            }
        );
    }

    #[test]
    fn resolving_needs_a_classified_cause() {
        let c = case(Status::InProgress);
        let resolve = || Action::Resolve {
            outcome: "已办理".into(),
        };
        assert_eq!(
            run(&c, resolve(), Role::Counter).unwrap_err(),
            Refusal::CauseNotClassified
        );
        let classified = Case {
            cause: Cause::CitizenSide,
            ..c
        };
        assert_eq!(
            run(&classified, resolve(), Role::Counter).unwrap().status,
            Status::Resolved
        );
    }

    #[test]
    fn escalation_climbs_one_tier_with_a_deadline_counted_from_today() {
        let t = run(
            &case(Status::InProgress),
            Action::Escalate {
                reason: "需中心党委研究".into(),
            },
            Role::Counter,
        )
        .unwrap();
        assert_eq!(t.tier, Tier::Complex);
        // From Mon 9-21: 9-22, 9-23, 9-24 are the three working days.
        assert_eq!(t.deadline, at("2026-09-24T17:00:00+08:00"));
        let top = Case {
            tier: Tier::Difficult,
            ..case(Status::InProgress)
        };
        assert_eq!(
            run(&top, Action::Escalate { reason: "x".into() }, Role::Counter).unwrap_err(),
            Refusal::HighestTier
        );
    }

    #[test]
    fn setting_the_tier_recounts_from_the_day_of_receipt_and_is_the_leaders_call() {
        let c = case(Status::New);
        let set = || Action::SetTier {
            tier: Tier::Difficult,
        };
        assert_eq!(
            run(&c, set(), Role::Counter).unwrap_err(),
            Refusal::Forbidden(ActionKind::SetTier)
        );
        let t = run(&c, set(), Role::DutyLeader).unwrap();
        // From Fri 9-18: 9-20 (make-up), 9-21, 9-22, 9-23, 9-24.
        assert_eq!(t.deadline, at("2026-09-24T17:00:00+08:00"));
    }

    #[test]
    fn closure_follows_resolution_or_refusal_only() {
        assert!(run(&case(Status::Resolved), Action::Close, Role::Counter).is_ok());
        assert!(run(&case(Status::Refused), Action::Close, Role::Counter).is_ok());
        assert!(run(&case(Status::InProgress), Action::Close, Role::Counter).is_err());
    }

    #[test]
    fn reopening_a_closed_case_is_for_the_duty_leader() {
        let reopen = || Action::Reopen {
            reason: "群众再次反映".into(),
        };
        assert!(run(&case(Status::Closed), reopen(), Role::Hotline).is_err());
        let t = run(&case(Status::Closed), reopen(), Role::DutyLeader).unwrap();
        assert_eq!(t.status, Status::InProgress);
        // Reopened on Mon 9-21: a simple case is due at the close of Tue 9-22.
        assert_eq!(t.deadline, at("2026-09-22T17:00:00+08:00"));
        assert_eq!(t.note.as_deref(), Some("群众再次反映"));
    }

    #[test]
    fn notes_are_allowed_in_every_state_and_change_nothing_else() {
        for s in Status::ALL {
            let t = run(
                &case(*s),
                Action::AddNote {
                    text: "已电话联系".into(),
                },
                Role::Callback,
            )
            .unwrap();
            assert_eq!(t.after, json!({}));
        }
    }

    #[test]
    fn classifying_to_the_same_cause_is_refused_as_unchanged() {
        let c = Case {
            cause: Cause::Objective,
            ..case(Status::New)
        };
        assert_eq!(
            run(
                &c,
                Action::Classify {
                    cause: Cause::Objective
                },
                Role::Counter
            )
            .unwrap_err(),
            Refusal::Unchanged
        );
    }

    #[test]
    fn the_matrix_gives_admins_everything_and_machines_only_their_door() {
        for kind in ActionKind::ALL {
            assert_eq!(
                permitted(Role::Admin, kind),
                kind != ActionKind::PushCallEvents
            );
            assert_eq!(
                permitted(Role::Pbx, kind),
                matches!(kind, ActionKind::PushVoicemail | ActionKind::PushCallEvents)
            );
            assert_eq!(
                permitted(Role::DutyLeader, kind),
                !matches!(
                    kind,
                    ActionKind::PushVoicemail | ActionKind::PushCallEvents | ActionKind::Administer
                )
            );
        }
    }

    #[test]
    fn only_a_duty_leader_approves_acceptance_with_missing_materials_and_takes_the_case() {
        let clerk = Actor {
            name: "王芳".into(),
            roles: vec![Role::Counter, Role::Callback, Role::Hotline],
            id: None,
        };
        let leader = Actor {
            name: "赵局".into(),
            roles: vec![Role::DutyLeader],
            id: None,
        };
        let approve = Action::ApproveMissingMaterials {
            missing: "户口本复印件".into(),
        };
        let now = at("2026-09-18T16:00:00+08:00");
        assert_eq!(
            decide(&case(Status::New), &approve, &clerk, now, &calendar()),
            Err(Refusal::Forbidden(ActionKind::ApproveMissingMaterials))
        );
        let t = decide(&case(Status::New), &approve, &leader, now, &calendar()).unwrap();
        assert_eq!(t.status, Status::InProgress);
        assert_eq!(t.owner.as_deref(), Some("赵局"));
        assert!(t.note.unwrap().contains("户口本复印件"));
    }

    #[test]
    fn a_summons_is_recorded_with_who_came() {
        let clerk = Actor {
            name: "王芳".into(),
            roles: vec![Role::Counter],
            id: None,
        };
        let summon = Action::Summon {
            who: "养老保险科 李科长".into(),
            said: "今天下午补办".into(),
            department: Some("pensions".into()),
            contact: None,
        };
        let t = decide(
            &case(Status::InProgress),
            &summon,
            &clerk,
            at("2026-09-18T16:00:00+08:00"),
            &calendar(),
        )
        .unwrap();
        assert_eq!(t.after["summoned"], "养老保险科 李科长");
        assert_eq!(t.status, Status::InProgress);
    }
}
