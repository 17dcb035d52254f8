//! The case queue over HTTP: register, list, show, act.

use crate::domain::directory::EntryKind;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};

use super::AppState;
use crate::clock::now;
use crate::domain::citizen::plain_text;
use crate::domain::registration::{register, RegistrationForm};
use crate::domain::{ActionKind, CaseNumber, PhoneNumber};
use crate::storage::{CaseQuery, Cursor, Sort, TextQuery};
use crate::web::error::{ApiError, Text};
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::web::time::optional_instant;
use crate::web::views::{created, registered_case};
use crate::web::views::{
    ActionRequest, ActionResult, CaseDetail, CaseList, CaseView, ErrorBody, EventView,
    ListCasesParams, RecordingView, RegisterCaseRequest,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", post(register_case).get(list_cases))
        .route("/api/v1/cases/{number}", get(show_case))
        .route("/api/v1/cases/{number}/actions", post(act_on_case))
        .route("/api/v1/cases/{number}/correction", post(correct_case))
        .route(
            "/api/v1/cases/{number}/problem",
            post(super::staff::problems::link_api),
        )
}

/// Register a case (编号登记).
#[utoipa::path(
    post, path = "/api/v1/cases", tag = "cases",
    request_body = RegisterCaseRequest,
    responses(
        (status = 201, description = "Registered and durable", body = CaseView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, description = "Every invalid field", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn register_case(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<RegisterCaseRequest>,
) -> Result<Response, ApiError> {
    staff.require(ActionKind::Register)?;
    let calendar = state.calendar.current();
    let received_at = optional_instant(
        "received_at",
        body.received_at.as_deref(),
        calendar.timezone(),
        0,
    )?;
    let form = RegistrationForm {
        channel: body.channel,
        citizen_name: body.citizen_name,
        phone: body.phone,
        id_card: body.id_card,
        matter: body.matter,
        description: body.description,
        received_at,
    };
    let now = now();
    let failed = state
        .directory
        .check(
            body.failed_counter.as_deref().unwrap_or(""),
            body.failed_department.as_deref().unwrap_or(""),
            body.failed_clerk.as_deref().unwrap_or(""),
        )
        .await;
    let submission =
        crate::directory::combine(register(form, &state.rules, staff.0.by(), now), failed)
            .map_err(ApiError::fields)?;
    let case = registered_case(state.intake.submit(submission, now).await?)?;
    tracing::info!(case = %case.number, channel = %case.channel, off_hours = case.off_hours, "case registered");
    Ok(created(&case, calendar.timezone(), now))
}

fn parse_list<T: std::str::FromStr<Err = crate::domain::vocab::UnknownCode>>(
    field: &str,
    raw: &Option<String>,
) -> Result<Vec<T>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>().map_err(|e| {
                ApiError::invalid(
                    field,
                    "invalid_filter",
                    Text::new(
                        format!(
                            "筛选条件 {field} 的值 `{}` 无效，可选：{}",
                            e.code, e.accepted
                        ),
                        e.to_string(),
                    ),
                )
            })
        })
        .collect()
}

const CURSOR_ENGINE: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn encode_cursor(sort: Sort, cursor: &Cursor) -> String {
    let tag = match sort {
        Sort::Deadline => 'd',
        Sort::Received => 'r',
    };
    CURSOR_ENGINE.encode(format!("{tag}|{}|{}", cursor.key.to_rfc3339(), cursor.id))
}

fn decode_cursor(sort: Sort, raw: &str) -> Result<Cursor, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "cursor",
            "invalid_cursor",
            Text::new(
                "翻页标记无效：请使用上一页返回的 next_cursor，并保持相同的排序",
                "Invalid cursor: pass the previous page's next_cursor with the same sort",
            ),
        )
    };
    let text = CURSOR_ENGINE
        .decode(raw.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let mut parts = text.split('|');
    let (Some(tag), Some(key), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let expected = match sort {
        Sort::Deadline => "d",
        Sort::Received => "r",
    };
    if tag != expected {
        return Err(invalid());
    }
    let key = DateTime::parse_from_rfc3339(key)
        .map_err(|_| invalid())?
        .with_timezone(&Utc);
    let id = id.parse().map_err(|_| invalid())?;
    Ok(Cursor { key, id })
}

pub(crate) fn build_query(
    p: &ListCasesParams,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<CaseQuery, ApiError> {
    let tz = state.calendar.current().timezone();
    let sort = match p.sort.as_deref().map(str::trim) {
        None | Some("") | Some("deadline") => Sort::Deadline,
        Some("received") => Sort::Received,
        Some(other) => {
            return Err(ApiError::invalid(
                "sort",
                "invalid_sort",
                Text::new(
                    format!("排序方式 `{other}` 无效，可选：deadline, received"),
                    format!("Unknown sort `{other}`; use deadline or received"),
                ),
            ))
        }
    };
    let overdue = match p.overdue.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "overdue",
                "invalid_filter",
                Text::new(
                    "overdue 只能是 true 或 false",
                    "overdue must be true or false",
                ),
            ))
        }
    };
    let off_hours = match p.off_hours.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid(
                "off_hours",
                "invalid_filter",
                Text::new(
                    "off_hours 只能是 true 或 false",
                    "off_hours must be true or false",
                ),
            ))
        }
    };
    let limit = match p.limit.as_deref().map(str::trim) {
        None | Some("") => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    "invalid_limit",
                    Text::new(
                        "每页条数须在 1 到 200 之间",
                        "limit must be between 1 and 200",
                    ),
                )
            })?,
    };
    let text = match p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => {
            let q = plain_text(q, 200).map_err(|_| {
                ApiError::invalid(
                    "q",
                    "invalid_query",
                    Text::new(
                        "搜索内容最多200字，且不能含有无法显示的字符",
                        "The search text must be at most 200 visible characters",
                    ),
                )
            })?;
            Some(TextQuery {
                number: q.parse::<CaseNumber>().ok(),
                phone_e164: PhoneNumber::parse(&q, &state.rules.dialing)
                    .ok()
                    .flatten()
                    .map(|p| p.e164().to_owned()),
                words: q,
            })
        }
    };
    Ok(CaseQuery {
        statuses: parse_list("status", &p.status)?,
        channels: parse_list("channel", &p.channel)?,
        causes: parse_list("cause", &p.cause)?,
        tiers: parse_list("tier", &p.tier)?,
        overdue,
        received_from: optional_instant("received_from", p.received_from.as_deref(), tz, 0)?,
        // A date "to" includes its day: up to the start of the next.
        received_to: optional_instant("received_to", p.received_to.as_deref(), tz, 1)?,
        text,
        owner: p
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned),
        off_hours,
        sort,
        after: p
            .cursor
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| decode_cursor(sort, c))
            .transpose()?,
        limit,
        now: Some(now),
    })
}

/// The shared queue: every channel in one list.
#[utoipa::path(
    get, path = "/api/v1/cases", tag = "cases",
    params(ListCasesParams),
    responses((status = 200, body = CaseList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_cases(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(params): ApiQuery<ListCasesParams>,
) -> Result<Json<CaseList>, ApiError> {
    staff.require(ActionKind::Read)?;
    let now = now();
    let query = build_query(&params, &state, now)?;
    let page = state.cases.list(&query).await?;
    let tz = state.calendar.current().timezone();
    Ok(Json(CaseList {
        cases: page
            .cases
            .iter()
            .map(|c| CaseView::new(c, tz, now))
            .collect(),
        next_cursor: page.next.map(|c| encode_cursor(query.sort, &c)),
    }))
}

/// One case with its whole timeline.
#[utoipa::path(
    get, path = "/api/v1/cases/{number}", tag = "cases",
    params(("number" = String, Path, description = "Case number, e.g. YM-20261128-0007")),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn show_case(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    staff.require(ActionKind::Read)?;
    let file = state.cases.show(&number, &staff.0).await?;
    let tz = state.calendar.current().timezone();
    Ok(Json(CaseDetail {
        case: CaseView::new(&file.case, tz, now()),
        recordings: file
            .recordings
            .iter()
            .map(|r| RecordingView::new(r, tz))
            .collect(),
        timeline: file
            .timeline
            .into_iter()
            .map(|entry| EventView::new(entry.event, tz))
            .collect(),
    }))
}

pub(crate) use super::action_request::parse_action;

/// Act on a case: accept, classify, set_tier, escalate, add_note, publish_note, summon, one_time_notice, approve_missing_materials, meeting, request_approval, decline_approval (reason), reassign (to: a username, reason), refer (department: a configured code, text), record_hand_off (outcome), record_decision, record_accountability, resolve, refuse, close, reopen.
#[utoipa::path(
    post, path = "/api/v1/cases/{number}/actions", tag = "cases",
    params(("number" = String, Path, description = "Case number")),
    request_body = ActionRequest,
    responses(
        (status = 200, body = ActionResult),
        (status = 403, description = "The role may not do this", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not allowed in the case's state, or changed meanwhile", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn act_on_case(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ActionRequest>,
) -> Result<Json<ActionResult>, ApiError> {
    let expected_version = body.expected_version;
    let departments = state.directory.active(EntryKind::Department).await?;
    let action = parse_action(body, &departments)?;
    staff.require(action.kind())?;
    let (updated, event) = state
        .cases
        .act(&staff.0, &number, &action, expected_version)
        .await?;
    let tz = state.calendar.current().timezone();
    let now = now();
    Ok(Json(ActionResult {
        case: CaseView::new(&updated, tz, now),
        event: EventView::new(event, tz),
    }))
}

/// A correction of what was registered: give only the fields to change, and the reason.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CorrectionRequest {
    pub citizen_name: Option<String>,
    /// The right number, in any common shape; the callback goes to it.
    pub phone: Option<String>,
    pub id_card: Option<String>,
    /// A configured matter code.
    pub matter: Option<String>,
    pub description: Option<String>,
    /// Where the matter could not be done: a counter's code (`/staff/directory`), which
    /// brings its department…
    pub failed_counter: Option<String>,
    /// …or a department's code…
    pub failed_department: Option<String>,
    /// …and the clerk, when known.
    pub failed_clerk: Option<String>,
    /// Why (required); on the timeline with each change, before and after.
    pub reason: Option<String>,
    /// If given, refused with 409 when the case has changed since.
    pub expected_version: Option<i64>,
}

impl From<CorrectionRequest> for crate::domain::correction::CorrectionForm {
    fn from(r: CorrectionRequest) -> Self {
        Self {
            citizen_name: r.citizen_name,
            phone: r.phone,
            id_card: r.id_card,
            matter: r.matter,
            description: r.description,
            failed_counter: r.failed_counter,
            failed_department: r.failed_department,
            failed_clerk: r.failed_clerk,
            reason: r.reason,
        }
    }
}

/// Correct what was registered (更正): name, phone, ID card, matter, description, with a reason.
#[utoipa::path(
    post, path = "/api/v1/cases/{number}/correction", tag = "cases",
    params(("number" = String, Path, description = "Case number")),
    request_body = CorrectionRequest,
    responses(
        (status = 200, body = ActionResult),
        (status = 403, description = "The role may not correct", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Changed meanwhile", body = ErrorBody),
        (status = 422, description = "Every invalid field; or nothing to correct", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn correct_case(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<CorrectionRequest>,
) -> Result<Json<ActionResult>, ApiError> {
    staff.require(crate::domain::ActionKind::Correct)?;
    let expected_version = body.expected_version;
    let directory = state.directory.entries().await?;
    let (updated, event) = state
        .cases
        .correct(
            &staff.0,
            &number,
            &body.into(),
            &state.rules,
            &directory,
            expected_version,
        )
        .await?;
    let tz = state.calendar.current().timezone();
    Ok(Json(ActionResult {
        case: CaseView::new(&updated, tz, now()),
        event: EventView::new(event, tz),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_another_sort() {
        let c = Cursor {
            key: "2026-11-28T01:00:00Z".parse().unwrap(),
            id: 42,
        };
        let s = encode_cursor(Sort::Deadline, &c);
        assert_eq!(decode_cursor(Sort::Deadline, &s).unwrap(), c);
        assert!(decode_cursor(Sort::Received, &s).is_err());
        assert!(decode_cursor(Sort::Deadline, "!!").is_err());
    }
}
