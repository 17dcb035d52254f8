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

use crate::cases::TimelineEntry;
use crate::domain::{Action, ActionKind, Case, Cause, EventKind, Status, Tier};
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

/// A form field an action needs.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `cause`, `tier`, `user` (a choice of the enabled accounts) or
    /// `department` (a choice of the configured departments).
    pub kind: &'static str,
}

/// One action as the page offers it.
pub struct ActionSpec {
    pub code: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    /// Why it cannot be done now, when it cannot.
    pub unavailable: Option<String>,
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
    /// The configured matters: (code, label).
    matters: Vec<(String, String)>,
    departments: &'a [crate::domain::Department],
    /// The case's rating, if it has one.
    rating: Option<crate::storage::RatingRecord>,
    /// Rating levels, for the form.
    levels: &'static [crate::domain::Rating],
    tz: chrono_tz::Tz,
    error: Option<String>,
    causes: &'static [Cause],
    tiers: &'static [Tier],
}

/// A sample of each action, to ask the domain where it is allowed.
fn sample(code: &str) -> Option<Action> {
    let s = String::new;
    Some(match code {
        "accept" => Action::Accept,
        "classify" => Action::Classify {
            cause: Cause::CitizenSide,
        },
        "set_tier" => Action::SetTier { tier: Tier::Simple },
        "escalate" => Action::Escalate { reason: s() },
        "summon" => Action::Summon {
            who: s(),
            said: s(),
        },
        "one_time_notice" => Action::OneTimeNotice { items: s() },
        "approve_missing_materials" => Action::ApproveMissingMaterials { missing: s() },
        "meeting" => Action::Meeting {
            attendees: s(),
            conclusion: s(),
        },
        "request_approval" => Action::RequestApproval { what: s() },
        "decline_approval" => Action::DeclineApproval { reason: s() },
        "refer" => Action::Refer {
            department_code: s(),
            department: s(),
            request: s(),
        },
        "record_hand_off" => Action::RecordHandOff { result: s() },
        "reassign" => Action::Reassign {
            to: s(),
            reason: s(),
        },
        "record_decision" => Action::RecordDecision { decision: s() },
        "record_accountability" => Action::RecordAccountability {
            clerk: s(),
            department_head: s(),
            leader_in_charge: s(),
            what_went_wrong: s(),
            decision: s(),
        },
        "publish_note" => Action::PublishNote { text: s() },
        "add_note" => Action::AddNote { text: s() },
        "resolve" => Action::Resolve { outcome: s() },
        "refuse" => Action::Refuse { reason: s() },
        "close" => Action::Close,
        "reopen" => Action::Reopen { reason: s() },
        _ => return None,
    })
}

fn specs(case: &Case, user: &StaffUser, pending_approval: bool, t: Tr) -> Vec<ActionSpec> {
    let field = |name, zh: &str, en: &str, kind| Field {
        name,
        label: t.t(zh, en).to_owned(),
        kind,
    };
    let all: Vec<(&'static str, &str, &str, Vec<Field>)> = vec![
        (
            "accept",
            "受理（由我负责到底）",
            "Accept (I own it to the end)",
            vec![],
        ),
        (
            "classify",
            "认定原因",
            "Classify the cause",
            vec![field("cause", "原因类别", "Cause", "cause")],
        ),
        (
            "set_tier",
            "调整层级",
            "Set the tier",
            vec![field("tier", "层级", "Tier", "tier")],
        ),
        (
            "escalate",
            "升级到上一层级",
            "Escalate one tier",
            vec![field("reason", "升级理由", "Reason", "textarea")],
        ),
        (
            "summon",
            "召见科室负责人",
            "Summon a department head",
            vec![
                field(
                    "who",
                    "召见谁（科室、姓名、职务）",
                    "Who (department, name, post)",
                    "text",
                ),
                field(
                    "text",
                    "何时到场、说了什么",
                    "When they came, what they said",
                    "textarea",
                ),
            ],
        ),
        (
            "one_time_notice",
            "一次性告知",
            "One-time notice",
            vec![field(
                "text",
                "所需材料和步骤（每行一项）",
                "Every material and step, one per line",
                "textarea",
            )],
        ),
        (
            "approve_missing_materials",
            "批准容缺受理",
            "Approve acceptance with missing materials",
            vec![field(
                "text",
                "所缺的非要件材料",
                "The non-essential materials missing",
                "textarea",
            )],
        ),
        (
            "meeting",
            "记录研究室会议",
            "Record a research-room meeting",
            vec![
                field("who", "参会人员", "Who attended", "text"),
                field("outcome", "会议结论", "Conclusion", "textarea"),
            ],
        ),
        (
            "refer",
            "转办（打印转办单前填写）",
            "Refer to a department",
            vec![
                field("department", "转往科室", "Department", "department"),
                field("text", "转办事项和要求", "What is asked of it", "textarea"),
            ],
        ),
        (
            "record_hand_off",
            "登记转办结果",
            "Record how the hand-off ended",
            vec![field(
                "outcome",
                "科室办理结果",
                "The department's answer",
                "textarea",
            )],
        ),
        (
            "request_approval",
            "请求值班领导批准（容缺受理、否定备案）",
            "Ask the duty leader to approve (missing materials, a refusal)",
            vec![field(
                "text",
                "请求批准的事项和理由",
                "What is to be approved, and why",
                "textarea",
            )],
        ),
        (
            "decline_approval",
            "不予批准",
            "Decline the request",
            vec![field("reason", "不予批准的理由", "Why not", "textarea")],
        ),
        (
            "reassign",
            "改派给他人负责",
            "Give the case to someone else",
            vec![
                field("to", "改由谁负责", "New owner", "user"),
                field("reason", "改派理由", "Reason", "textarea"),
            ],
        ),
        (
            "record_decision",
            "登记上级决定（中心党委会、局党组会）",
            "Record the decision of the tier's body",
            vec![field("text", "决定内容", "The decision", "textarea")],
        ),
        (
            "record_accountability",
            "登记问责记录",
            "Record accountability",
            vec![
                field("clerk", "经办人", "The clerk", "text"),
                field(
                    "department_head",
                    "科室负责人",
                    "The department head",
                    "text",
                ),
                field(
                    "leader_in_charge",
                    "分管领导",
                    "The leader in charge",
                    "text",
                ),
                field("reason", "存在的问题", "What went wrong", "textarea"),
                field("outcome", "处理决定", "The decision", "textarea"),
            ],
        ),
        (
            "publish_note",
            "公开答复（群众可在查询页看到）",
            "Publish a reply (shown on the tracking page)",
            vec![field("text", "答复内容", "Reply", "textarea")],
        ),
        (
            "add_note",
            "内部备注",
            "Internal note",
            vec![field("text", "备注", "Note", "textarea")],
        ),
        (
            "resolve",
            "办结",
            "Resolve",
            vec![field("outcome", "办理结果", "Outcome", "textarea")],
        ),
        (
            "refuse",
            "否定备案（依法不能办理）",
            "Record a refusal (not allowed by law)",
            vec![field(
                "reason",
                "不能办理的法律依据和理由",
                "The legal basis and reason",
                "textarea",
            )],
        ),
        ("close", "销号", "Close", vec![]),
        (
            "reopen",
            "重新办理",
            "Reopen",
            vec![field("reason", "理由", "Reason", "textarea")],
        ),
    ];
    let status_label = |s: Status| if t.en { s.label_en() } else { s.label_zh() };
    all.into_iter()
        .filter_map(|(code, zh, en, fields)| {
            let action = sample(code)?;
            let kind = action.kind();
            let unavailable = if !user.may(kind) {
                let leaders = matches!(
                    kind,
                    ActionKind::SetTier
                        | ActionKind::Reopen
                        | ActionKind::ApproveMissingMaterials
                        | ActionKind::DeclineApproval
                        | ActionKind::Reassign
                        | ActionKind::RecordDecision
                        | ActionKind::RecordAccountability
                );
                Some(match leaders {
                    true => t
                        .t("需由值班领导决定", "For the duty leader to decide")
                        .to_owned(),
                    false => t
                        .t("您的岗位无权执行", "Your role may not do this")
                        .to_owned(),
                })
            } else if !action.allowed_from().contains(&case.status) {
                Some(format!(
                    "{}{}",
                    t.t("案件当前状态：", "Not while the case is "),
                    status_label(case.status)
                ))
            } else if kind == ActionKind::Resolve && case.cause == Cause::Unclassified {
                Some(
                    t.t("请先认定原因类别", "Classify the cause first")
                        .to_owned(),
                )
            } else if kind == ActionKind::Close
                && case.cause == Cause::StaffSide
                && !case.accountability_recorded
            {
                Some(
                    t.t(
                        "窗口人员原因：须先登记问责记录",
                        "Staff-side cause: record accountability first",
                    )
                    .to_owned(),
                )
            } else if kind == ActionKind::DeclineApproval && !pending_approval {
                Some(t.t("没有待批准的请求", "No request is waiting").to_owned())
            } else if kind == ActionKind::Escalate && case.tier.next_up().is_none() {
                Some(
                    t.t("已是最高层级", "Already at the highest tier")
                        .to_owned(),
                )
            } else {
                None
            };
            Some(ActionSpec {
                code,
                label: t.t(zh, en).to_owned(),
                fields,
                unavailable,
            })
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
    render_with(state, user, case, error, status, Correcting::default()).await
}

pub(super) async fn render_with(
    state: &AppState,
    user: &StaffUser,
    case: &Case,
    error: Option<String>,
    status: StatusCode,
    correcting: Correcting,
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
            related,
            timeline,
            actions,
            users,
            has_notice,
            has_code: super::prints::has_tracking_code(state, case.id).await?,
            correcting,
            rating: state.store.rating_of(case.id).await?,
            levels: crate::domain::Rating::ALL,
            departments: &state.rules.departments,
            tz,
            matters: state
                .rules
                .matters
                .iter()
                .map(|m| (m.code.clone(), t.t(&m.zh, &m.en).to_owned()))
                .collect(),
            error,
            causes: &Cause::ALL[1..],
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
        to: some(form.to),
        department: some(form.department),
        expected_version: form.version,
    };
    let outcome = async {
        let action = parse_action(request, &state.rules)?;
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
                Ok(case) => render(&state, &user, &case, Some(message), status)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
    }
}
