//! Calls logged by operators while they talk, through the API (`POST /api/v1/hotline/calls`)
//! or the operators' page (`/staff/calls`): each becomes a submission, answered on the phone
//! (registered closed, as a consultation) or opened for follow-up.

use crate::domain::directory::EntryKind;
use askama::Template;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use crate::web::html::{matter_options, page, MatterOption, Tr};
use crate::web::session::StaffUser;

use super::super::Hotline;
use crate::clock::now;
use crate::domain::citizen::plain_text;
use crate::domain::registration::{register, RegistrationForm};
use crate::domain::{ActionKind, Channel};
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, Staff};
use crate::web::time::optional_instant;
use crate::web::views::created;
use crate::web::views::{CaseView, ErrorBody, LogCallRequest};

pub(super) fn hotline_channel(raw: &str) -> Result<Channel, ApiError> {
    match raw.trim() {
        "complaint" | "complaint_hotline" | "3105883" => Ok(Channel::ComplaintHotline),
        "business" | "business_hotline" | "6912333" => Ok(Channel::BusinessHotline),
        other => Err(ApiError::invalid(
            "hotline",
            "unknown_hotline",
            Text::new(
                format!("热线 `{other}` 无效，可选：complaint（投诉热线）或 business（业务热线）"),
                format!("Unknown hotline `{other}`; use complaint or business"),
            ),
        )),
    }
}

/// Log a call on either hotline while talking.
#[utoipa::path(
    post, path = "/api/v1/hotline/calls", tag = "hotline",
    request_body = LogCallRequest,
    responses(
        (status = 201, description = "Registered (closed at once when answered)", body = CaseView),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn log_call(
    State(hotline): State<Hotline>,
    staff: Staff,
    ApiJson(body): ApiJson<LogCallRequest>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::LogCall)?;
    let call = match body.call_id {
        Some(id) => Some(hotline.store.call_by_id(id).await?.ok_or_else(|| {
            ApiError::invalid(
                "call_id",
                "unknown_call",
                Text::new(format!("没有编号为 {id} 的来电"), format!("No call {id}")),
            )
        })?),
        None => None,
    };
    let case = log_call_as(&hotline, staff.0.by(), body).await?;
    if let Some(call) = call {
        hotline.store.link_call_case(call.id, case.id).await?;
    }
    Ok(created(&case, hotline.calendar.current().timezone(), now()))
}

/// Logs a call for `actor`: the API and the operators' page alike.
pub(crate) async fn log_call_as(
    hotline: &Hotline,
    actor: crate::domain::By<'_>,
    body: LogCallRequest,
) -> Result<crate::domain::Case, ApiError> {
    let channel = hotline_channel(&body.hotline)?;
    let answered = match body.outcome.trim() {
        "answered" => true,
        "follow_up" => false,
        other => {
            return Err(ApiError::invalid(
                "outcome",
                "unknown_outcome",
                Text::new(
                    format!("处理结果 `{other}` 无效，可选：answered（电话中已解答）或 follow_up（需后续办理）"),
                    format!("Unknown outcome `{other}`; use answered or follow_up"),
                ),
            ))
        }
    };
    let answer = match body
        .answer
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        Some(a) => Some(
            plain_text(a, hotline.rules.description_max_chars).map_err(|e| {
                ApiError::invalid(
                    "answer",
                    "invalid_input",
                    Text::new("解答内容过长或含有无法显示的字符", format!("answer {e}")),
                )
            })?,
        ),
        None => None,
    };
    let calendar = hotline.calendar.current();
    let received_at = optional_instant(
        "received_at",
        body.received_at.as_deref(),
        calendar.timezone(),
        0,
    )?;
    let form = RegistrationForm {
        channel: channel.as_str().to_owned(),
        citizen_name: body.caller_name,
        phone: body.caller_number,
        id_card: None,
        matter: body.matter,
        description: body.summary,
        received_at,
    };
    let now = now();
    let failed = hotline
        .directory
        .check(
            body.failed_counter.as_deref().unwrap_or(""),
            body.failed_department.as_deref().unwrap_or(""),
            body.failed_clerk.as_deref().unwrap_or(""),
        )
        .await;
    let registered = crate::directory::combine(register(form, &hotline.rules, actor, now), failed);
    let mut submission = registered.map_err(|errors| {
        // The form's field names are the generic ones; say them as this request does.
        let renamed = errors
            .into_iter()
            .map(|mut e| {
                e.field = match e.field {
                    "phone" => "caller_number",
                    "citizen_name" => "caller_name",
                    "description" => "summary",
                    other => other,
                };
                e
            })
            .collect();
        ApiError::fields(renamed)
    })?;
    if answered {
        submission.answer = Some(answer.unwrap_or_else(|| "电话中已解答".to_owned()));
    }
    let case = crate::web::views::registered_case(hotline.intake.submit(submission, now).await?)?;
    tracing::info!(case = %case.number, channel = %case.channel, answered, "hotline call logged");
    Ok(case)
}

// ---- the operators' page -------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallForm {
    csrf: String,
    hotline: String,
    caller_number: String,
    caller_name: String,
    matter: String,
    summary: String,
    outcome: String,
    answer: String,
    failed_counter: String,
    failed_department: String,
    failed_clerk: String,
    /// The call the PBX reported, when the screen pop filled the form in.
    call_id: String,
    /// When the form was opened (RFC 3339): the call's times when no PBX reports them.
    opened_at: String,
}

#[derive(Template)]
#[template(path = "staff/call.html", config = "src/templates/askama.toml")]
struct CallPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    form: CallForm,
    errors: Vec<(String, String)>,
    matters: Vec<MatterOption>,
    logged: Option<String>,
    /// The calls ringing at this operator now (the screen pop, before any script runs).
    banners: String,
    /// When the call started, as the operator reads it.
    opened: String,
    counters: Vec<crate::domain::directory::DirectoryEntry>,
    departments: Vec<crate::domain::directory::DirectoryEntry>,
}

impl CallPage<'_> {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoggedQuery {
    logged: String,
}

pub async fn call_page(
    State(hotline): State<Hotline>,
    user: StaffUser,
    Query(q): Query<LoggedQuery>,
) -> Response {
    if let Err(r) = user.require(ActionKind::LogCall) {
        return r;
    }
    let t = user.tr();
    let now = now();
    page(
        StatusCode::OK,
        &CallPage {
            counters: hotline
                .directory
                .active(EntryKind::Counter)
                .await
                .unwrap_or_default(),
            departments: hotline
                .directory
                .active(EntryKind::Department)
                .await
                .unwrap_or_default(),
            t,
            user: &user,
            nav: "calls",
            back: "/staff/calls".into(),
            form: CallForm {
                hotline: "complaint".into(),
                outcome: "answered".into(),
                opened_at: now.to_rfc3339(),
                ..CallForm::default()
            },
            errors: Vec::new(),
            matters: matter_options(&hotline.rules, t),
            logged: Some(q.logged).filter(|l| !l.is_empty()),
            banners: super::cti::banners_html(&hotline, &user).await,
            opened: opened(&hotline, now),
        },
    )
}

fn opened(hotline: &Hotline, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&hotline.calendar.current().timezone())
        .format("%H:%M:%S")
        .to_string()
}

/// The call a logged case came from: the PBX's (when the screen pop filled the form in),
/// or one timed from the form, opened to submitted, answered by the operator.
async fn keep_call(
    hotline: &Hotline,
    user: &StaffUser,
    form: &CallForm,
    case: &crate::domain::Case,
) -> anyhow::Result<()> {
    use crate::domain::call::{CallEvent, Cause, EventKind};
    if let Ok(id) = form.call_id.trim().parse::<i64>() {
        if hotline.store.call_by_id(id).await?.is_some() {
            hotline.store.link_call_case(id, case.id).await?;
            return Ok(());
        }
    }
    let now = now();
    let opened = chrono::DateTime::parse_from_rfc3339(form.opened_at.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .filter(|t| *t <= now && now - *t < chrono::Duration::hours(4))
        .unwrap_or(now);
    let event = |kind, at| CallEvent {
        kind,
        at,
        inbound: true,
        phone: case.citizen.phone.as_ref().map(|p| p.e164().to_owned()),
        anonymous: case.citizen.phone.is_none(),
        channel: Some(case.channel),
        users: Vec::new(),
        queue: None,
        answered_by: (kind == EventKind::Answer).then(|| user.session.user.username.clone()),
        cause: (kind == EventKind::Hangup).then_some(Cause::NormalClearing),
    };
    let events = vec![
        event(EventKind::NewCall, opened),
        event(EventKind::Answer, opened),
        event(EventKind::Hangup, now),
    ];
    let call = hotline
        .calls
        .record_whole("form", &format!("case-{}", case.id), events)
        .await?;
    hotline.store.link_call_case(call.id, case.id).await?;
    Ok(())
}

pub async fn call_submit(
    State(hotline): State<Hotline>,
    user: StaffUser,
    Form(form): Form<CallForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::LogCall))
    {
        return r;
    }
    let t = user.tr();
    let request = LogCallRequest {
        hotline: form.hotline.clone(),
        caller_number: Some(form.caller_number.clone()),
        caller_name: Some(form.caller_name.clone()),
        matter: form.matter.clone(),
        summary: form.summary.clone(),
        outcome: form.outcome.clone(),
        answer: Some(form.answer.clone()),
        received_at: None,
        call_id: None,
        failed_counter: Some(form.failed_counter.clone()),
        failed_department: Some(form.failed_department.clone()),
        failed_clerk: Some(form.failed_clerk.clone()),
    };
    match log_call_as(&hotline, user.actor().by(), request).await {
        // A fresh form for the next call, with the last one's number to click.
        Ok(case) => {
            if let Err(e) = keep_call(&hotline, &user, &form, &case).await {
                // The case is registered; only its call's times are missing.
                tracing::warn!(case = %case.number, error = %e, "the call's times were not kept");
            }
            Redirect::to(&format!("/staff/calls?logged={}", case.number)).into_response()
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &CallPage {
                counters: hotline
                    .directory
                    .active(EntryKind::Counter)
                    .await
                    .unwrap_or_default(),
                departments: hotline
                    .directory
                    .active(EntryKind::Department)
                    .await
                    .unwrap_or_default(),
                t,
                user: &user,
                nav: "calls",
                back: "/staff/calls".into(),
                errors: e.field_messages(t.en),
                opened: chrono::DateTime::parse_from_rfc3339(form.opened_at.trim())
                    .map(|at| opened(&hotline, at.with_timezone(&chrono::Utc)))
                    .unwrap_or_default(),
                banners: super::cti::banners_html(&hotline, &user).await,
                form,
                matters: matter_options(&hotline.rules, t),
                logged: None,
            },
        ),
        Err(e) => e.into_response(),
    }
}
