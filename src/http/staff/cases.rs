//! The case page: every detail, the timeline, the recordings, the same caller's other cases,
//! and the actions the user's roles allow, each asking only for what it needs and saying
//! why it is not available when it is not. Also the print views: the referral form
//! (受理问题转办单) and the walk-in receipt with its tracking QR code.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::actions::{specs, ActionSpec};
use crate::cases::TimelineEntry;
use crate::domain::{ActionKind, Case, Cause, EventKind, Tier};
use crate::http::cases::parse_action;
use crate::http::AppState;
use crate::storage::RecordingRecord;
use crate::web::error::ApiError;
use crate::web::html::when;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;
use crate::web::views::ActionRequest;

/// The correction form after a refused correction: what was typed, and each field's error.
#[derive(Debug, Default)]
pub(super) struct Correcting {
    pub(super) form: Option<super::correct::CorrectForm>,
    pub(super) errors: Vec<(String, String)>,
}

impl Correcting {
    pub(super) fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub struct TimelineRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/case.html", config = "src/templates/askama.toml")]
struct CasePage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    case: &'a Case,
    received: String,
    deadline: String,
    overdue: bool,
    matter: String,
    recordings: Vec<RecordingRecord>,
    /// The machine transcripts of the recordings.
    transcripts: Vec<crate::storage::transcripts::TranscriptRecord>,
    /// Whether a recognizer is configured.
    transcribing: bool,
    /// The common problems the case is linked to, and those open to link it to: (id, title).
    linked_problems: Vec<(i64, String)>,
    open_problems: Vec<(i64, String)>,
    /// The calls it was logged from: started, answered (by whom), ended, how long.
    calls: Vec<CallLine>,
    related: Vec<(String, String, String)>,
    timeline: Vec<TimelineRow>,
    actions: Vec<ActionSpec>,
    /// The enabled accounts a case may be given to: (username, display name).
    users: Vec<(String, String)>,
    /// A one-time notice was issued: it can be printed.
    has_notice: bool,
    /// The case has a tracking code already (a receipt or a website confirmation).
    has_code: bool,
    /// The correction form: what was typed and its errors, after a refused correction.
    correcting: Correcting,
    /// The action just refused, with what was typed.
    failed: Option<Failed>,
    /// The configured matters: (code, label).
    matters: Vec<(String, String)>,
    /// The departments in use (to refer to, to say where a matter failed).
    departments: Vec<crate::domain::directory::DirectoryEntry>,
    /// The counters in use.
    counters: Vec<crate::domain::directory::DirectoryEntry>,
    /// Where it failed, by name.
    failed_counter: String,
    failed_department: String,
    /// The case's rating, if it has one.
    rating: Option<crate::storage::RatingRecord>,
    /// Rating levels, for the form.
    levels: &'static [crate::domain::Rating],
    tz: chrono_tz::Tz,
    error: Option<String>,
    causes: &'static [Cause],
    /// The outcomes accountability may have.
    outcomes: &'static [crate::domain::action::AccountabilityOutcome],
    tiers: &'static [Tier],
}

impl CasePage<'_> {
    fn transcript(
        &self,
        recording_id: &i64,
    ) -> Option<&crate::storage::transcripts::TranscriptRecord> {
        self.transcripts
            .iter()
            .find(|t| t.recording_id == *recording_id)
    }

    /// What was typed into field `name` of action `code`, if that action was just refused.
    fn kept(&self, code: &str, name: &str) -> &str {
        match &self.failed {
            Some(f) if f.code == code => f
                .values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, v)| v.as_str()),
            _ => "",
        }
    }

    /// Why action `code` was just refused.
    fn refused(&self, code: &str) -> Option<&str> {
        self.failed
            .as_ref()
            .filter(|f| f.code == code)
            .map(|f| f.message.as_str())
    }
}

/// A logged call's times as the case page shows them.
pub(super) struct CallLine {
    started: String,
    answered: String,
    answered_by: String,
    ended: String,
    duration: String,
}

fn call_lines(calls: Vec<crate::storage::calls::CallRecord>, tz: chrono_tz::Tz) -> Vec<CallLine> {
    let clock = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    calls
        .into_iter()
        .map(|r| CallLine {
            started: when(r.call.started_at, tz),
            answered: clock(r.call.answered_at),
            answered_by: r.call.answered_by.clone().unwrap_or_default(),
            ended: clock(r.call.ended_at),
            duration: r
                .call
                .handling()
                .map(|d| format!("{}:{:02}", d.num_minutes(), d.num_seconds() % 60))
                .unwrap_or_default(),
        })
        .collect()
}

/// A timeline entry as a row of the page or a print: what is withheld from the viewer says
/// so, and nothing more.
pub(super) fn timeline_row(entry: TimelineEntry, tz: chrono_tz::Tz, t: Tr) -> TimelineRow {
    let e = entry.event;
    TimelineRow {
        at: when(e.at, tz),
        actor: e.actor,
        action: t.t(e.action.label_zh(), e.action.label_en()).to_owned(),
        note: match entry.withheld {
            true => Some(
                t.t(
                    "（仅值班领导和管理员可见）",
                    "(visible to duty leaders and administrators only)",
                )
                .to_owned(),
            ),
            false => e.note,
        },
    }
}

pub(super) async fn render(
    state: &AppState,
    user: &StaffUser,
    case: &Case,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    render_with(
        state,
        user,
        case,
        error,
        status,
        Correcting::default(),
        None,
    )
    .await
}

/// A case action the page refused: which, why, and what was typed (shown in its form again).
#[derive(Debug, Default)]
pub(super) struct Failed {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) values: Vec<(&'static str, String)>,
}

pub(super) async fn render_with(
    state: &AppState,
    user: &StaffUser,
    case: &Case,
    error: Option<String>,
    status: StatusCode,
    correcting: Correcting,
    failed: Option<Failed>,
) -> Result<Response, ApiError> {
    let t = user.tr();
    let tz = state.calendar.current().timezone();
    let file = state.cases.file(case.clone(), &user.actor()).await?;
    let recordings = file.recordings;
    let related = state
        .cases
        .related(case, 20)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.number.to_string(),
                when(c.received_at, tz),
                if t.en {
                    c.status.label_en()
                } else {
                    c.status.label_zh()
                }
                .to_owned(),
            )
        })
        .collect();
    let has_notice = file
        .timeline
        .iter()
        .any(|e| e.event.action == EventKind::OneTimeNotice);
    // An approval request waits until it is approved, declined or the matter refused.
    let pending_approval = file
        .timeline
        .iter()
        .fold(false, |pending, e| match e.event.action {
            EventKind::RequestApproval => true,
            k if EventKind::ANSWERS_APPROVAL.contains(&k) => false,
            _ => pending,
        });
    // What can be done now first; the rest below, each saying why not.
    let mut actions = specs(case, user, pending_approval, t);
    actions.sort_by_key(|a| a.unavailable.is_some());
    let users = match user.may(ActionKind::Reassign) {
        true => state
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .filter(|u| !u.disabled)
            .map(|u| (u.username, u.display_name))
            .collect(),
        false => Vec::new(),
    };
    let timeline = file
        .timeline
        .into_iter()
        .map(|entry| timeline_row(entry, tz, t))
        .collect();
    let matter = state
        .rules
        .matter(&case.matter)
        .map_or(case.matter.clone(), |m| t.t(&m.zh, &m.en).to_owned());
    Ok(page(
        status,
        &CasePage {
            t,
            user,
            nav: "queue",
            back: format!("/staff/cases/{}", case.number),
            case,
            received: when(case.received_at, tz),
            deadline: when(case.deadline, tz),
            overdue: case.is_overdue(crate::clock::now()),
            matter,
            recordings,
            calls: call_lines(state.store.calls_of_case(case.id).await?, tz),
            transcripts: state.store.transcripts_of_case(case.id).await?,
            transcribing: state.hotline.transcribing,
            linked_problems: state.store.problems_of_case(case.id).await?,
            open_problems: state
                .store
                .problems()
                .await?
                .into_iter()
                .filter(|p| p.status.open())
                .map(|p| (p.id, p.title))
                .collect(),
            related,
            timeline,
            actions,
            users,
            has_notice,
            has_code: super::prints::has_tracking_code(state, case.id).await?,
            correcting,
            failed,
            rating: state.store.rating_of(case.id).await?,
            levels: crate::domain::Rating::ALL,
            departments: state
                .directory
                .active(crate::domain::directory::EntryKind::Department)
                .await?,
            counters: state
                .directory
                .active(crate::domain::directory::EntryKind::Counter)
                .await?,
            failed_counter: match &case.failed_at.counter {
                Some(code) => {
                    state
                        .directory
                        .name_of(crate::domain::directory::EntryKind::Counter, code)
                        .await
                }
                None => String::new(),
            },
            failed_department: match &case.failed_at.department {
                Some(code) => {
                    state
                        .directory
                        .name_of(crate::domain::directory::EntryKind::Department, code)
                        .await
                }
                None => String::new(),
            },
            tz,
            matters: state
                .rules
                .matters
                .iter()
                .map(|m| (m.code.clone(), t.t(&m.zh, &m.en).to_owned()))
                .collect(),
            error,
            causes: &Cause::ALL[1..],
            outcomes: &crate::domain::action::AccountabilityOutcome::ALL,
            tiers: Tier::ALL,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        render(&state, &user, &case, None, StatusCode::OK).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActForm {
    pub(super) csrf: String,
    action: String,
    version: Option<i64>,
    cause: String,
    tier: String,
    reason: String,
    text: String,
    outcome: String,
    who: String,
    clerk: String,
    department_head: String,
    leader_in_charge: String,
    accountability_outcome: String,
    talk_at: String,
    talk_by: String,
    talked_to: String,
    grounds: String,
    to: String,
    department: String,
    /// On a receipt for a case that already has a tracking code: `yes` to issue a new one.
    pub(super) reissue: String,
}

fn some(s: String) -> Option<String> {
    Some(s).filter(|s| !s.trim().is_empty())
}

pub async fn act(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    if let Err(r) = user.check_csrf(&form.csrf) {
        return r;
    }
    let values = vec![
        ("cause", form.cause.clone()),
        ("tier", form.tier.clone()),
        ("reason", form.reason.clone()),
        ("text", form.text.clone()),
        ("outcome", form.outcome.clone()),
        ("who", form.who.clone()),
        ("clerk", form.clerk.clone()),
        ("department_head", form.department_head.clone()),
        ("leader_in_charge", form.leader_in_charge.clone()),
        (
            "accountability_outcome",
            form.accountability_outcome.clone(),
        ),
        ("talk_at", form.talk_at.clone()),
        ("talk_by", form.talk_by.clone()),
        ("talked_to", form.talked_to.clone()),
        ("grounds", form.grounds.clone()),
        ("to", form.to.clone()),
        ("department", form.department.clone()),
    ];
    let code = form.action.clone();
    let request = ActionRequest {
        action: form.action,
        cause: some(form.cause),
        tier: some(form.tier),
        reason: some(form.reason),
        text: some(form.text),
        outcome: some(form.outcome),
        who: some(form.who),
        clerk: some(form.clerk),
        department_head: some(form.department_head),
        leader_in_charge: some(form.leader_in_charge),
        accountability_outcome: some(form.accountability_outcome),
        talk_at: some(form.talk_at),
        talk_by: some(form.talk_by),
        talked_to: some(form.talked_to),
        grounds: some(form.grounds),
        to: some(form.to),
        department: some(form.department),
        expected_version: form.version,
    };
    let outcome = async {
        let departments = state
            .directory
            .active(crate::domain::directory::EntryKind::Department)
            .await?;
        let action = parse_action(request, &departments)?;
        if !user.may(action.kind()) {
            return Err(crate::web::extract::forbidden(action.kind()));
        }
        Ok(state
            .cases
            .act(&user.actor(), &number, &action, None)
            .await?)
    };
    match outcome.await {
        Ok((case, _)) => {
            Redirect::to(&format!("/staff/cases/{}#timeline", case.number)).into_response()
        }
        Err(e) => {
            // The page again, with the reason in the user's language.
            let status = e.status();
            let message = e.message(user.tr().en);
            match state.cases.load(&number).await {
                Ok(case) => render_with(
                    &state,
                    &user,
                    &case,
                    Some(message.clone()),
                    status,
                    Correcting::default(),
                    Some(Failed {
                        code,
                        message,
                        values,
                    }),
                )
                .await
                .unwrap_or_else(IntoResponse::into_response),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
    }
}
