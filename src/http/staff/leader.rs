//! The duty leader's page: what awaits a decision today (escalated cases, overdue cases,
//! unreachable callers, bad ratings to follow up) and the duty roster, with its gaps.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::ActionKind;
use crate::http::AppState;
use crate::storage::{CaseQuery, Sort};
use crate::web::error::ApiError;
use crate::web::html::when;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

pub struct Line {
    pub number: String,
    pub what: String,
    pub when: String,
}

#[derive(Template)]
#[template(path = "staff/leader.html", config = "src/templates/askama.toml")]
struct LeaderPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    today: String,
    on_duty: Option<String>,
    escalated: Vec<Line>,
    approvals: Vec<Line>,
    overdue: Vec<Line>,
    unreachable: Vec<Line>,
    ratings: Vec<Line>,
    roster: Vec<(String, String)>,
    gaps: Vec<String>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    user: &StaffUser,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let t = user.tr();
    let now = crate::clock::now();
    let calendar = state.calendar.current();
    let tz = calendar.timezone();
    let today = calendar.local_date(now);
    let escalated = state
        .store
        .awaiting_decision(100)
        .await?
        .into_iter()
        .map(|c| Line {
            what: format!(
                "{} · {}",
                if t.en {
                    c.tier.label_en()
                } else {
                    c.tier.label_zh()
                },
                c.owner.clone().unwrap_or_default()
            ),
            when: when(c.deadline, tz),
            number: c.number.to_string(),
        })
        .collect();
    let approvals = state
        .store
        .awaiting_approval()
        .await?
        .into_iter()
        .map(|(c, request)| Line {
            number: c.number.to_string(),
            what: request,
            when: when(c.deadline, tz),
        })
        .collect();
    let overdue = state
        .store
        .list_cases(&CaseQuery {
            overdue: Some(true),
            sort: Sort::Deadline,
            limit: 100,
            now: Some(now),
            ..CaseQuery::default()
        })
        .await?
        .cases
        .into_iter()
        .map(|c| Line {
            what: c
                .owner
                .clone()
                .unwrap_or_else(|| t.t("无人受理", "nobody").to_owned()),
            when: when(c.deadline, tz),
            number: c.number.to_string(),
        })
        .collect();
    let unreachable = state
        .store
        .unreachable_callbacks(now - chrono::Duration::days(14))
        .await?
        .into_iter()
        .map(|e| Line {
            number: e
                .cases
                .first()
                .map(|c| c.number.clone())
                .unwrap_or_default(),
            what: e.phone.unwrap_or_default(),
            when: e.finished_at.map(|f| when(f, tz)).unwrap_or_default(),
        })
        .collect();
    let ratings = state
        .store
        .open_bad_ratings()
        .await?
        .into_iter()
        .map(|r| Line {
            number: r.case_number,
            what: format!(
                "{}{}",
                if t.en {
                    r.level.label_en()
                } else {
                    r.level.label_zh()
                },
                r.comment.map(|c| format!("：{c}")).unwrap_or_default()
            ),
            when: format!(
                "{}{} · {}{}",
                t.t("核实时限 ", "verify by "),
                r.verify_due.map(|d| when(d, tz)).unwrap_or_default(),
                t.t("整改时限 ", "rectify by "),
                r.rectify_due.map(|d| when(d, tz)).unwrap_or_default()
            ),
        })
        .collect();
    let roster = state
        .store
        .roster(today, today + chrono::Days::new(14))
        .await?
        .into_iter()
        .map(|(d, u, n)| (d.to_string(), n.unwrap_or(u)))
        .collect::<Vec<_>>();
    let on_duty = state
        .store
        .duty_leader_on(today)
        .await?
        .map(|u| u.display_name);
    let gaps = crate::oversight::roster_gaps(state.store.as_ref(), &calendar, today, 14)
        .await?
        .into_iter()
        .map(|d| d.to_string())
        .collect();
    Ok(page(
        status,
        &LeaderPage {
            t,
            user,
            nav: "leader",
            back: "/staff/leader".into(),
            today: today.to_string(),
            on_duty,
            escalated,
            approvals,
            overdue,
            unreachable,
            ratings,
            roster,
            gaps,
            error,
        },
    ))
}

pub async fn show(State(state): State<AppState>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::Oversee) {
        return r;
    }
    render(&state, &user, None, StatusCode::OK)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RosterForm {
    csrf: String,
    date: String,
    username: String,
    csv: String,
}

pub async fn roster(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<RosterForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::Oversee))
    {
        return r;
    }
    let actor = user.actor();
    let result = match form.csv.trim().is_empty() {
        true => match NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d") {
            Ok(day) => {
                crate::http::roster::set_checked(&state, actor.by(), day, form.username.trim())
                    .await
            }
            Err(_) => Err(ApiError::invalid(
                "date",
                "invalid_date",
                crate::web::error::Text::new("请选择日期", "Choose a date"),
            )),
        },
        false => crate::http::roster::import_checked(&state, actor.by(), &form.csv)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Redirect::to("/staff/leader#roster").into_response(),
        Err(e) => {
            let (status, message) = (e.status(), e.message(user.tr().en));
            render(&state, &user, Some(message), status)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
    }
}
