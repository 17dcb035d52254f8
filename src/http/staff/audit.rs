//! The audit page (`/staff/audit`, duty leaders and administrators): who signed in, played a
//! recording, printed, exported or changed the roster, accounts or tokens, filtered by
//! person, kind and date; the chains verified on request (as `youmen audit verify`); a CSV
//! export. Reading and exporting it are themselves on the trail.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use crate::domain::audit::{trail_actions, trail_label_zh, TRAIL_KINDS};
use crate::domain::ActionKind;
use crate::http::AppState;
use crate::storage::{TrailQuery, TrailRow};
use crate::web::error::{ApiError, Text};
use crate::web::html::{page, when, Tr};
use crate::web::session::StaffUser;

/// How many events a page (or an export) holds at most.
const LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct TrailFilter {
    /// A display name.
    pub person: String,
    /// A kind of `TRAIL_KINDS`.
    pub kind: String,
    /// Local dates, inclusive.
    pub from: String,
    pub to: String,
    /// `1`: verify the chains too.
    pub verify: String,
}

pub struct Line {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "staff/audit.html", config = "src/templates/askama.toml")]
struct AuditPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    filter: TrailFilter,
    people: Vec<String>,
    kinds: Vec<(&'static str, String)>,
    lines: Vec<Line>,
    /// The chains' verification, when asked: (what, verified, a problem).
    verified: Vec<(String, u64, Option<String>)>,
    full: bool,
    export: String,
}

fn date(field: &'static str, raw: &str) -> Result<Option<NaiveDate>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                ApiError::invalid(
                    field,
                    "invalid_date",
                    Text::new(
                        format!("日期格式应为 2026-12-05：{s}"),
                        format!("A date looks like 2026-12-05: {s}"),
                    ),
                )
            }),
    }
}

/// The store's query for the filter, and a line saying what was read (for the trail).
fn query(state: &AppState, f: &TrailFilter) -> Result<(TrailQuery, String), ApiError> {
    let tz = state.calendar.current().timezone();
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .map(|t| t.to_utc())
    };
    let actions = match f.kind.trim() {
        "" => Vec::new(),
        k => trail_actions(k)
            .ok_or_else(|| {
                ApiError::invalid(
                    "kind",
                    "unknown_kind",
                    Text::new(format!("类别无效：{k}"), format!("Unknown kind: {k}")),
                )
            })?
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
    };
    let from = date("from", &f.from)?;
    let to = date("to", &f.to)?;
    let q = TrailQuery {
        actor: Some(f.person.trim().to_owned()).filter(|p| !p.is_empty()),
        actions,
        from: from.and_then(start),
        to: to.and_then(|d| start(d + Duration::days(1))),
        limit: LIMIT,
    };
    let said = format!(
        "人员={} 类别={} 日期={}..{}",
        f.person.trim(),
        f.kind.trim(),
        f.from.trim(),
        f.to.trim()
    );
    Ok((q, said))
}

async fn read(
    state: &AppState,
    user: &StaffUser,
    f: &TrailFilter,
    what: &str,
) -> Result<Vec<TrailRow>, ApiError> {
    let (q, said) = query(state, f)?;
    let rows = state.store.audit_trail(&q).await?;
    state
        .store
        .audit(
            user.actor().by(),
            what,
            "audit_events",
            Some(&said),
            crate::clock::now(),
        )
        .await?;
    Ok(rows)
}

pub async fn show(
    State(state): State<AppState>,
    user: StaffUser,
    Query(filter): Query<TrailFilter>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    let t = user.tr();
    let result = async {
        let rows = read(&state, &user, &filter, "read_audit").await?;
        let tz = state.calendar.current().timezone();
        let mut verified = Vec::new();
        if filter.verify == "1" {
            for (chain, zh, en) in [
                ("case_events", "案件办理过程", "Case timelines"),
                ("audit_events", "审计记录", "Audit events"),
            ] {
                let report = state.store.verify_chain(chain).await?;
                verified.push((
                    t.t(zh, en).to_owned(),
                    report.checked,
                    report.broken.map(|b| b.to_string()),
                ));
            }
        }
        let mut people: Vec<String> = state
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|(u, _)| u.display_name)
            .collect();
        people.sort();
        people.dedup();
        let export = format!(
            "/staff/audit/export?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("person", filter.person.trim())
                .append_pair("kind", filter.kind.trim())
                .append_pair("from", filter.from.trim())
                .append_pair("to", filter.to.trim())
                .finish()
        );
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &AuditPage {
                t,
                user: &user,
                nav: "audit",
                back: "/staff/audit".into(),
                full: rows.len() as u32 >= LIMIT,
                lines: rows
                    .into_iter()
                    .map(|r| Line {
                        at: when(r.at, tz),
                        action: trail_label_zh(&r.action).to_owned(),
                        actor: r.actor,
                        subject: r.subject,
                        note: r.note.unwrap_or_default(),
                    })
                    .collect(),
                people,
                kinds: TRAIL_KINDS
                    .iter()
                    .map(|(code, zh, en, _)| (*code, t.t(zh, en).to_owned()))
                    .collect(),
                verified,
                export,
                filter,
            },
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn export(
    State(state): State<AppState>,
    user: StaffUser,
    Query(filter): Query<TrailFilter>,
) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    let result = async {
        let rows = read(&state, &user, &filter, "export_audit").await?;
        let tz = state.calendar.current().timezone();
        let mut out = b"\xEF\xBB\xBF".to_vec();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            let fail = |e: csv::Error| ApiError::internal(anyhow::Error::new(e));
            w.write_record(["时间", "人员", "操作", "对象", "说明"])
                .map_err(fail)?;
            for r in rows {
                w.write_record([
                    when(r.at, tz),
                    r.actor,
                    trail_label_zh(&r.action).to_owned(),
                    r.subject,
                    r.note.unwrap_or_default(),
                ])
                .map_err(fail)?;
            }
            w.flush()
                .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
        }
        Ok::<_, ApiError>(
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"audit.csv\"",
                    ),
                ],
                out,
            )
                .into_response(),
        )
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
