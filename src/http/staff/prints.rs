//! The prints of a case, A4: the referral form (受理问题转办单), the walk-in's receipt with
//! a tracking code and its QR code, and the one-time notice (一次性告知书). Each print is on
//! the case's timeline; what the printer may not read is withheld, as on the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;

use crate::cases::TimelineEntry;
use crate::domain::{ActionKind, Case, Event, EventKind, Status};
use crate::http::AppState;
use crate::web::error::ApiError;
use crate::web::html::when;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

/// A form field an action needs.
use super::cases::{timeline_row, ActForm, TimelineRow};

/// The referral form (受理问题转办单), A4.
#[derive(Template)]
#[template(path = "staff/referral.html", config = "src/templates/askama.toml")]
struct ReferralPage<'a> {
    case: &'a Case,
    received: String,
    deadline: String,
    matter: String,
    handler: String,
    process: Vec<TimelineRow>,
    outcome: String,
    /// The department it was referred to, and what was asked of it (the latest referral).
    referred_to: String,
    referred_for: String,
    /// How the hand-off ended.
    hand_off: String,
    closed_at: String,
    printed_by: String,
    printed_at: String,
}

/// The matter's Chinese name, for a print.
fn matter_zh(state: &AppState, case: &Case) -> String {
    state
        .rules
        .matter(&case.matter)
        .map_or(case.matter.clone(), |m| m.zh.clone())
}

/// The latest event of `kind` on a timeline.
fn latest(entries: &[TimelineEntry], kind: EventKind) -> Option<&Event> {
    entries
        .iter()
        .map(|e| &e.event)
        .rev()
        .find(|e| e.action == kind)
}

pub async fn referral(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        let tz = state.calendar.current().timezone();
        let now = crate::clock::now();
        let entries = state.cases.timeline(&case, &user.actor()).await?;
        let zh = Tr { en: false };
        let note_of = |action: EventKind| {
            latest(&entries, action)
                .and_then(|e| e.note.clone())
                .unwrap_or_default()
        };
        let outcome = match case.status {
            Status::Refused => note_of(EventKind::Refuse),
            _ => note_of(EventKind::Resolve),
        };
        let referral = entries
            .iter()
            .rev()
            .find(|e| e.event.action == EventKind::Refer);
        let referred_to = referral
            .and_then(|e| {
                e.event.after["referred_to_name"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let referred_for = referral
            .and_then(|e| e.event.note.as_deref())
            .map(|n| n.split_once('\n').map_or("", |(_, rest)| rest).to_owned())
            .unwrap_or_default();
        // The answer to the latest referral: a hand-off recorded after it.
        let hand_off = entries
            .iter()
            .rev()
            .take_while(|e| e.event.action != EventKind::Refer)
            .find(|e| e.event.action == EventKind::RecordHandOff)
            .and_then(|e| e.event.note.clone())
            .unwrap_or_default();
        let closed_at = entries
            .iter()
            .rev()
            .find(|e| e.event.action == EventKind::Close)
            .map(|e| when(e.event.at, tz))
            .unwrap_or_default();
        let process = entries
            .iter()
            .filter(|e| e.event.action != EventKind::Register && !e.event.action.is_access())
            .map(|e| timeline_row(e.clone(), tz, zh))
            .collect();
        state
            .cases
            .record_access(
                case.id,
                user.actor().by(),
                EventKind::PrintReferral,
                "转办单",
            )
            .await?;
        let html = ReferralPage {
            received: when(case.received_at, tz),
            deadline: when(case.deadline, tz),
            matter: matter_zh(&state, &case),
            handler: case.owner.clone().unwrap_or_default(),
            process,
            outcome,
            referred_to,
            referred_for,
            hand_off,
            closed_at,
            printed_by: user.actor().name,
            printed_at: when(now, tz),
            case: &case,
        };
        Ok::<_, ApiError>(page(StatusCode::OK, &html))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// Whether the case has a tracking code already: a printed receipt's, or the one a website
/// visitor was given (and perhaps mailed).
pub(super) async fn has_tracking_code(state: &AppState, case_id: i64) -> Result<bool, ApiError> {
    Ok(state.store.tracking_code(case_id).await?.is_some()
        || state.store.website_record(case_id).await?.is_some())
}

/// The walk-in receipt: case number, a fresh tracking code and a QR code to the tracking page.
#[derive(Template)]
#[template(path = "staff/receipt.html", config = "src/templates/askama.toml")]
struct ReceiptPage<'a> {
    case: &'a Case,
    received: String,
    promise: String,
    code: String,
    track_url: String,
    qr_svg: String,
}

pub async fn receipt(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Register))
    {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        let calendar = state.calendar.current();
        let tz = calendar.timezone();
        let now = crate::clock::now();
        // A new code each print (only its digest is kept, so the old one cannot be printed
        // again): the old one stops working. Where there is one, it may be in a visitor's
        // e-mail, so the clerk must say so.
        let had_code = has_tracking_code(&state, case.id).await?;
        if had_code && form.reissue != "yes" {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tracking_code_exists",
                crate::web::error::Text::new(
                    "此案件已有查询码。打印新回执会生成新的查询码，旧查询码（包括已发给群众的邮件中的链接）随即失效；请勾选确认后再打印。",
                    "This case has a tracking code already. A new receipt issues a new code and the old one (in any e-mail already sent) stops working: confirm to print.",
                ),
            ));
        }
        let code = crate::domain::website::new_tracking_code(&mut rand::thread_rng());
        let issued = state
            .store
            .set_tracking_code(
                case.id,
                &crate::domain::website::tracking_digest(&code),
                had_code,
                now,
            )
            .await?;
        if !issued {
            // Someone printed the first receipt a moment ago: theirs is the code that works.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tracking_code_exists",
                crate::web::error::Text::new(
                    "另一位工作人员刚刚打印了这个案件的回执，请刷新页面后再操作。",
                    "Someone printed this case's receipt a moment ago: reload the page first.",
                ),
            ));
        }
        state
            .cases
            .record_access(
                case.id,
                user.actor().by(),
                EventKind::PrintReceipt,
                match had_code {
                    true => "回执（新查询码，原查询码作废）",
                    false => "回执（新查询码）",
                },
            )
            .await?;
        let base = state.site.settings.public_base_url.trim_end_matches('/');
        let track_url = crate::domain::website::tracking_link(
            &format!("{base}/track"),
            &case.number.to_string(),
            &code,
        );
        let qr_svg = qrcode::QrCode::new(track_url.as_bytes())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("QR code: {e}")))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(160, 160)
            .build();
        // Inline in HTML: the XML declaration is not wanted.
        let qr_svg = qr_svg[qr_svg.find("<svg").unwrap_or(0)..].to_owned();
        let promise = format!(
            "{}前办结（{}个工作日）",
            when(case.deadline, tz),
            case.tier.working_days()
        );
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &ReceiptPage {
                received: when(case.received_at, tz),
                promise,
                code,
                track_url,
                qr_svg,
                case: &case,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The one-time notice (一次性告知书): the latest one issued, as a printable checklist.
#[derive(Template)]
#[template(path = "staff/notice.html", config = "src/templates/askama.toml")]
struct NoticePage<'a> {
    case: &'a Case,
    matter: String,
    items: Vec<String>,
    issued_by: String,
    issued_at: String,
}

pub async fn notice(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        let tz = state.calendar.current().timezone();
        let entries = state.cases.timeline(&case, &user.actor()).await?;
        let Some(notice) = latest(&entries, EventKind::OneTimeNotice) else {
            return Err(ApiError::not_found("一次性告知", "one-time notice"));
        };
        let items = notice
            .note
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(page(
            StatusCode::OK,
            &NoticePage {
                matter: matter_zh(&state, &case),
                items,
                issued_by: notice.actor.clone(),
                issued_at: when(notice.at, tz),
                case: &case,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The refusal notice (否定备案告知书) for a refused case: the legal basis and reason as
/// recorded, and what the citizen can do next. Printing it is on the timeline.
#[derive(Template)]
#[template(path = "staff/refusal.html", config = "src/templates/askama.toml")]
struct RefusalPage<'a> {
    case: &'a Case,
    matter: String,
    received: String,
    reason: String,
    refused_by: String,
    refused_at: String,
}

pub async fn refusal(
    State(state): State<AppState>,
    user: StaffUser,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let result = async {
        let case = state.cases.load(&number).await?;
        if case.status != crate::domain::Status::Refused {
            return Err(ApiError::not_found("否定备案告知书", "refusal notice"));
        }
        let tz = state.calendar.current().timezone();
        let entries = state.cases.timeline(&case, &user.actor()).await?;
        let Some(refused) = latest(&entries, EventKind::Refuse) else {
            return Err(ApiError::not_found("否定备案告知书", "refusal notice"));
        };
        state
            .cases
            .record_access(
                case.id,
                user.actor().by(),
                EventKind::PrintRefusal,
                "否定备案告知书",
            )
            .await?;
        Ok(page(
            StatusCode::OK,
            &RefusalPage {
                matter: matter_zh(&state, &case),
                received: when(case.received_at, tz),
                reason: refused.note.clone().unwrap_or_default(),
                refused_by: refused.actor.clone(),
                refused_at: when(refused.at, tz),
                case: &case,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
