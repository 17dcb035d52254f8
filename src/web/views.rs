//! What the API sends and receives: plain data with their OpenAPI schemas.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use crate::domain::{CallbackKind, Case, Cause, Channel, Event, Status, Tier};
use crate::storage::Registered;

/// Instants are stored in UTC and shown in the window's time zone.
pub fn local(t: DateTime<Utc>, tz: Tz) -> DateTime<FixedOffset> {
    t.with_timezone(&tz).fixed_offset()
}

/// A case registration by staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCaseRequest {
    /// counter, complaint_hotline, business_hotline or website
    #[schema(example = "counter")]
    pub channel: String,
    #[schema(example = "张三")]
    pub citizen_name: Option<String>,
    /// Any common shape: 13800138000, +86 138 0013 8000, 0415-3105883, or a bare local number.
    #[schema(example = "138 0013 8000")]
    pub phone: Option<String>,
    /// 18-character resident ID card number; stored masked.
    pub id_card: Option<String>,
    /// A code from the configured matter list.
    #[schema(example = "pensions")]
    pub matter: String,
    /// What could not be done, and where.
    #[schema(example = "在社保窗口办理养老金资格认证未办成")]
    pub description: String,
    /// RFC 3339, for back-dated entries; defaults to now.
    #[schema(example = "2026-11-27T19:30:00+08:00")]
    pub received_at: Option<String>,
    /// Where the matter could not be done: a counter's code (from `/staff/directory`;
    /// it brings its department)…
    #[schema(example = "pension-benefits")]
    pub failed_counter: Option<String>,
    /// …or a department's code…
    pub failed_department: Option<String>,
    /// …and the clerk, when known.
    pub failed_clerk: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CitizenView {
    pub name: Option<String>,
    /// E.164, for calling back.
    pub phone: Option<String>,
    /// As it was typed or received.
    pub phone_original: Option<String>,
    pub id_card_masked: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[schema(example = "YM-20261128-0007")]
    pub number: String,
    pub channel: Channel,
    pub received_at: DateTime<FixedOffset>,
    pub citizen: CitizenView,
    pub matter: String,
    pub description: String,
    pub cause: Cause,
    pub tier: Tier,
    pub status: Status,
    /// The staff member who accepted the case and follows it to the end.
    pub owner: Option<String>,
    /// The close of the tier's last working day.
    pub deadline: DateTime<FixedOffset>,
    /// True when the deadline depends on a year without an official calendar yet.
    pub deadline_provisional: bool,
    pub overdue: bool,
    /// Received outside working hours.
    pub off_hours: bool,
    /// Answered on the phone and closed at once.
    pub consultation: bool,
    /// From the PBX's Urgent folder.
    pub urgent: bool,
    /// The callback owed to the citizen, if any.
    pub callback: Option<CallbackView>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    /// Send back as `expected_version` to act only on the state you saw.
    pub version: i64,
    /// Where the matter could not be done: a counter's code, a department's code, the
    /// clerk (null when not known).
    pub failed_counter: Option<String>,
    pub failed_department: Option<String>,
    pub failed_clerk: Option<String>,
}

impl CaseView {
    pub fn new(case: &Case, tz: Tz, now: DateTime<Utc>) -> Self {
        Self {
            number: case.number.to_string(),
            channel: case.channel,
            received_at: local(case.received_at, tz),
            citizen: CitizenView {
                name: case.citizen.name.clone(),
                phone: case.citizen.phone.as_ref().map(|p| p.e164().to_owned()),
                phone_original: case.citizen.phone.as_ref().map(|p| p.original().to_owned()),
                id_card_masked: case.citizen.id_card_masked.clone(),
            },
            matter: case.matter.clone(),
            description: case.description.clone(),
            cause: case.cause,
            tier: case.tier,
            status: case.status,
            owner: case.owner.clone(),
            deadline: local(case.deadline, tz),
            deadline_provisional: case.deadline_provisional,
            overdue: case.is_overdue(now),
            off_hours: case.off_hours,
            consultation: case.consultation,
            urgent: case.urgent,
            callback: case.callback.map(|c| CallbackView {
                due_at: local(c.due_at, tz),
                kind: c.kind,
            }),
            created_at: local(case.created_at, tz),
            updated_at: local(case.updated_at, tz),
            version: case.version,
            failed_counter: case.failed_at.counter.clone(),
            failed_department: case.failed_at.department.clone(),
            failed_clerk: case.failed_at.clerk.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackView {
    /// The next opening after an off-hours arrival, or the arrival itself in working hours.
    pub due_at: DateTime<FixedOffset>,
    pub kind: CallbackKind,
}

/// A call logged by a hotline operator while talking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogCallRequest {
    /// `complaint` (3105883) or `business` (6912333); the channel codes are accepted too.
    #[schema(example = "complaint")]
    pub hotline: String,
    /// From caller ID or typed; empty or `Unknown` when withheld.
    #[schema(example = "13912345678")]
    pub caller_number: Option<String>,
    pub caller_name: Option<String>,
    #[schema(example = "wages")]
    pub matter: String,
    /// What the caller could not get done.
    pub summary: String,
    /// `answered`: solved on the phone, registered closed as a consultation (it still
    /// counts); `follow_up`: a case is opened for the queue.
    #[schema(example = "follow_up")]
    pub outcome: String,
    /// The answer given, for `answered` (defaults to a generic note).
    pub answer: Option<String>,
    /// RFC 3339, when logging a call after the fact; defaults to now.
    pub received_at: Option<String>,
    /// The call this logs (an `id` from `GET /api/v1/calls/active`): the case keeps its
    /// times.
    pub call_id: Option<i64>,
    /// Where the matter could not be done: a counter's code (it brings its department)…
    pub failed_counter: Option<String>,
    /// …or a department's code…
    pub failed_department: Option<String>,
    /// …and the clerk, when known.
    pub failed_clerk: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: DateTime<FixedOffset>,
    pub actor: String,
    /// register, accept, classify, set_tier, escalate, add_note, publish_note, resolve, refuse, close, reopen
    pub action: String,
    /// The fields the action changed, before.
    #[schema(value_type = Object)]
    pub before: serde_json::Value,
    /// The same fields, after.
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
    pub note: Option<String>,
}

impl EventView {
    pub fn new(event: Event, tz: Tz) -> Self {
        Self {
            id: event.id,
            at: local(event.at, tz),
            actor: event.actor,
            action: event.action.as_str().to_owned(),
            before: event.before,
            after: event.after,
            note: event.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    pub id: i64,
    /// Where staff play it (supports HTTP Range; every access is on the timeline).
    #[schema(example = "/api/v1/recordings/12")]
    pub url: String,
    /// asterisk, push or twilio
    pub source: String,
    pub duration_ms: i64,
    pub sample_rate: i64,
    pub channels: i64,
    /// Essentially silence: a hang-up, no message.
    pub silent: bool,
    pub received_at: DateTime<FixedOffset>,
    /// When the audio was deleted under the retention rules; `url` then answers 410.
    pub purged_at: Option<DateTime<FixedOffset>>,
}

impl RecordingView {
    pub fn new(r: &crate::storage::RecordingRecord, tz: Tz) -> Self {
        Self {
            id: r.id,
            url: format!("/api/v1/recordings/{}", r.id),
            source: r.source.clone(),
            duration_ms: r.duration_ms,
            sample_rate: r.sample_rate,
            channels: r.channels,
            silent: r.silent,
            received_at: local(r.received_at, tz),
            purged_at: r.purged_at.map(|at| local(at, tz)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineView {
    pub id: i64,
    /// The file as found, never moved or deleted.
    pub path: String,
    pub reason: String,
    pub source: String,
    pub attempts: i64,
    pub first_seen_at: DateTime<FixedOffset>,
    pub last_seen_at: DateTime<FixedOffset>,
    /// Set when a later pass ingested the fixed file.
    pub resolved_at: Option<DateTime<FixedOffset>>,
}

impl QuarantineView {
    pub fn new(q: crate::storage::QuarantineItem, tz: Tz) -> Self {
        Self {
            id: q.id,
            path: q.path,
            reason: q.reason,
            source: q.source,
            attempts: q.attempts,
            first_seen_at: local(q.first_seen_at, tz),
            last_seen_at: local(q.last_seen_at, tz),
            resolved_at: q.resolved_at.map(|t| local(t, tz)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseView,
    /// Voicemail recordings of this case, oldest first.
    pub recordings: Vec<RecordingView>,
    /// Every change, oldest first. Append-only.
    pub timeline: Vec<EventView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub cases: Vec<CaseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and paging of the shared queue. Lists are comma-separated codes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCasesParams {
    /// e.g. `new,in_progress`
    pub status: Option<String>,
    /// e.g. `complaint_hotline,business_hotline`
    pub channel: Option<String>,
    pub cause: Option<String>,
    pub tier: Option<String>,
    /// `true`: open cases past their deadline; `false`: the rest.
    pub overdue: Option<String>,
    /// RFC 3339 instant or a local date `2026-11-28` (inclusive).
    pub received_from: Option<String>,
    /// RFC 3339 instant or a local date `2026-11-28` (exclusive).
    pub received_to: Option<String>,
    /// A case number, a phone number, or words of the name or description.
    pub q: Option<String>,
    /// `deadline` (default, earliest first) or `received` (newest first).
    pub sort: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only the cases this staff member owns (by name).
    pub owner: Option<String>,
    /// `true`: received outside working hours; `false`: in working hours.
    pub off_hours: Option<String>,
}

/// An action on a case. Which other fields are needed depends on `action`:
/// `classify` needs `cause`; `set_tier` needs `tier`; `escalate`, `refuse` and `reopen`
/// need `reason`; `add_note` and `publish_note` (a reply shown on the public tracking page) need `text`; `resolve` needs `outcome`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// accept, classify, set_tier, escalate, add_note, publish_note, summon, one_time_notice,
    /// approve_missing_materials, meeting, request_approval, decline_approval, reassign, refer,
    /// record_hand_off,
    /// record_decision, record_accountability, resolve, refuse, close, reopen
    #[schema(example = "accept")]
    pub action: String,
    pub cause: Option<String>,
    pub tier: Option<String>,
    pub reason: Option<String>,
    /// The note, the reply, what a summoned person said, the notice's items (one per line),
    /// the missing materials.
    pub text: Option<String>,
    /// The outcome of a resolution, or a meeting's conclusion.
    pub outcome: Option<String>,
    /// Who was summoned, or who attended a meeting.
    pub who: Option<String>,
    /// For record_accountability: the clerk, the department head, the leader in charge
    /// (`reason` is what went wrong, `outcome` the decision).
    pub clerk: Option<String>,
    pub department_head: Option<String>,
    pub leader_in_charge: Option<String>,
    /// For record_accountability: criticism_education (批评教育), admonishment_talk
    /// (约谈谈话, with talk_at, talk_by, talked_to), circulated_criticism (通报批评),
    /// warning (诫勉), reassignment (调离岗位) or exemption (容错免责, with grounds).
    pub accountability_outcome: Option<String>,
    pub talk_at: Option<String>,
    pub talk_by: Option<String>,
    pub talked_to: Option<String>,
    pub grounds: Option<String>,
    /// For reassign: the new owner's username.
    pub to: Option<String>,
    /// For refer: a configured department's code (`text` says what is asked of it).
    pub department: Option<String>,
    /// If given, the action is refused with 409 when the case has changed since.
    pub expected_version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    pub case: CaseView,
    /// The timeline entry the action added.
    pub event: EventView,
}

/// The error body every 4xx and 5xx carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs.
    #[schema(example = "invalid_input")]
    pub code: String,
    /// For people, in the language of Accept-Language (Chinese by default).
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
    /// Every field problem, when a form had several.
    pub details: Option<Vec<ErrorField>>,
    /// On server errors: quote it to an administrator.
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorField {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The case a typed registration made (it is always a new one).
pub fn registered_case(registered: Registered) -> Result<Case, ApiError> {
    registered
        .into_case()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a typed registration made no case")))
}

/// 201 with the new case and where it lives.
pub fn created(case: &Case, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Response {
    let location = format!("/api/v1/cases/{}", case.number);
    let view = CaseView::new(case, tz, now);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response()
}
