//! The morning shift's page: the day's callback list, worked entry by entry.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::callbacks::{CallbackError, DayList, ListEntry};
use crate::domain::{ActionKind, Outcome};
use crate::http::AppState;
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;

#[derive(Template)]
#[template(path = "staff/callbacks.html", config = "src/templates/askama.toml")]
struct CallbacksPage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    list: DayList,
    notice: Option<String>,
    outcomes: &'static [Outcome],
    /// Each caller's earlier cases (not on this entry), by phone.
    earlier: std::collections::HashMap<String, Vec<(String, String, String)>>,
}

impl CallbacksPage<'_> {
    fn mine(&self, e: &ListEntry) -> bool {
        e.claimed_by.as_deref() == Some(self.user.session.user.display_name.as_str())
    }

    fn held_by_other(&self, e: &ListEntry) -> bool {
        e.claimed_by.is_some() && !self.mine(e)
    }

    fn earlier_of(&self, e: &ListEntry) -> &[(String, String, String)] {
        e.phone
            .as_ref()
            .and_then(|p| self.earlier.get(p))
            .map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    date: String,
    notice: String,
}

fn parse_date(raw: &str, state: &AppState) -> Option<NaiveDate> {
    match raw.trim() {
        "" => Some(state.calendar.current().local_date(crate::clock::now())),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
    }
}

pub async fn page_handler(
    state: &AppState,
    user: &StaffUser,
    q: PageQuery,
) -> Result<Response, Response> {
    user.require(ActionKind::WorkCallbacks)?;
    let t = user.tr();
    let calendar = state.calendar.current();
    let mut date =
        parse_date(&q.date, state).unwrap_or_else(|| calendar.local_date(crate::clock::now()));
    // A day off has no list: show the next working day's.
    for _ in 0..30 {
        if calendar.is_working_day(date) {
            break;
        }
        date = date.succ_opt().unwrap_or(date);
    }
    let list = state
        .callbacks
        .day(date, crate::clock::now())
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let tz = calendar.timezone();
    // Every caller's earlier cases in one query, not one per entry.
    let phones: Vec<String> = list
        .entries
        .iter()
        .filter_map(|e| e.phone.clone())
        .collect();
    let listed: std::collections::HashSet<&str> = list
        .entries
        .iter()
        .flat_map(|e| e.cases.iter().map(|c| c.number.as_str()))
        .collect();
    let mut earlier: std::collections::HashMap<String, Vec<(String, String, String)>> =
        std::collections::HashMap::new();
    for c in state
        .store
        .cases_of_phones(&phones)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
    {
        let (Some(phone), false) = (&c.citizen.phone, listed.contains(c.number.as_str())) else {
            continue;
        };
        let rows = earlier.entry(phone.e164().to_owned()).or_default();
        if rows.len() < 5 {
            let status = if t.en {
                c.status.label_en()
            } else {
                c.status.label_zh()
            };
            rows.push((
                c.number.to_string(),
                crate::web::html::when(c.received_at, tz),
                status.to_owned(),
            ));
        }
    }
    let notice = match q.notice.as_str() {
        "claimed_by_other" => Some(t.t(
            "此人正由其他同事联系，请选下一位",
            "A colleague is calling this person: take the next one",
        )),
        "finished" => Some(t.t("该回访已经结束", "This callback is already finished")),
        "changed" => Some(t.t(
            "该条目刚被他人更新，请核对后再记录",
            "The entry was just updated by someone else: check it and record again",
        )),
        "bad_outcome" => Some(t.t("请选择回访结果", "Choose how the call went")),
        _ => None,
    };
    Ok(page(
        StatusCode::OK,
        &CallbacksPage {
            t,
            user,
            nav: "callbacks",
            back: format!("/staff/callbacks?date={date}"),
            list,
            notice: notice.map(str::to_owned),
            outcomes: Outcome::ALL,
            earlier,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    user: StaffUser,
    Query(q): Query<PageQuery>,
) -> Response {
    page_handler(&state, &user, q).await.unwrap_or_else(|r| r)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EntryForm {
    csrf: String,
    date: String,
    outcome: String,
    note: String,
}

fn back_to(date: &str, id: i64, notice: Option<&str>) -> Response {
    let date = crate::web::session::urlencode(date);
    let notice = notice.map(|n| format!("&notice={n}")).unwrap_or_default();
    Redirect::to(&format!("/staff/callbacks?date={date}{notice}#entry-{id}")).into_response()
}

fn notice_for(e: &CallbackError) -> Option<&'static str> {
    match e {
        CallbackError::HeldBy(..) => Some("claimed_by_other"),
        CallbackError::Finished => Some("finished"),
        CallbackError::Store(crate::storage::StoreError::Conflict) => Some("changed"),
        _ => None,
    }
}

pub async fn claim(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<i64>,
    Form(form): Form<EntryForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::WorkCallbacks))
    {
        return r;
    }
    match state
        .callbacks
        .claim(id, user.actor().by(), crate::clock::now())
        .await
    {
        Ok(_) => back_to(&form.date, id, None),
        Err(e) => match notice_for(&e) {
            Some(n) => back_to(&form.date, id, Some(n)),
            None => ApiError::from(e).into_response(),
        },
    }
}

pub async fn attempt(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<i64>,
    Form(form): Form<EntryForm>,
) -> Response {
    if let Err(r) = user
        .check_csrf(&form.csrf)
        .and(user.require(ActionKind::WorkCallbacks))
    {
        return r;
    }
    let Ok(outcome) = form.outcome.parse::<Outcome>() else {
        return back_to(&form.date, id, Some("bad_outcome"));
    };
    let note = Some(form.note.trim())
        .filter(|n| !n.is_empty())
        .and_then(|n| crate::domain::citizen::plain_text(n, 2000).ok());
    match state
        .callbacks
        .attempt(id, user.actor().by(), outcome, note, crate::clock::now())
        .await
    {
        Ok(_) => back_to(&form.date, id, None),
        Err(e) => match notice_for(&e) {
            Some(n) => back_to(&form.date, id, Some(n)),
            None => ApiError::from(e).into_response(),
        },
    }
}
