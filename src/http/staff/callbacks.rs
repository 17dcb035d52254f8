//! The morning shift's page: the day's callback list, worked entry by entry, with the
//! arrivals of the working day in their own section (refreshed in place). Each entry the
//! user holds has one short form: how the call went, and what that outcome needs (the answer
//! given, or the caller's matter and what they want), kept with its error when it is short.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::callbacks::{AttemptInput, CallbackError, DayList, ListEntry};
use crate::domain::callback_result::CallDetails;
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
    /// The configured matters: code and label in the user's language.
    matters: Vec<(String, String)>,
    /// Each caller's earlier cases (not on this entry), by phone.
    earlier: std::collections::HashMap<String, Vec<(String, String, String)>>,
    /// An attempt that could not be recorded: what was typed, and why.
    kept: Option<Kept>,
    /// May override the waiting time between tries (a duty leader).
    may_override: bool,
}

/// An attempt form sent back with what was typed and the error, next to its field.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub entry_id: i64,
    pub outcome: String,
    pub answer: String,
    pub matter: String,
    pub summary: String,
    pub note: String,
    pub override_reason: String,
    pub close: Vec<String>,
    /// The field at fault, and the message.
    pub field: String,
    pub message: String,
}

impl CallbacksPage<'_> {
    fn mine(&self, e: &ListEntry) -> bool {
        match (&e.claimed_by_id, &self.user.actor().id) {
            (Some(holder), Some(me)) => holder == me,
            _ => e.claimed_by.as_deref() == Some(self.user.session.user.display_name.as_str()),
        }
    }

    /// What was typed into this entry's form, if it came back with an error.
    fn kept_for(&self, e: &ListEntry) -> Option<&Kept> {
        self.kept.as_ref().filter(|k| Some(k.entry_id) == e.id)
    }

    fn kept_value(&self, e: &ListEntry, field: &str) -> String {
        self.kept_for(e).map_or(String::new(), |k| match field {
            "outcome" => k.outcome.clone(),
            "answer" => k.answer.clone(),
            "matter" => k.matter.clone(),
            "summary" => k.summary.clone(),
            "note" => k.note.clone(),
            "override_reason" => k.override_reason.clone(),
            _ => String::new(),
        })
    }

    fn error_on(&self, e: &ListEntry, field: &str) -> Option<&str> {
        self.kept_for(e)
            .filter(|k| k.field == field)
            .map(|k| k.message.as_str())
    }

    fn kept_close(&self, e: &ListEntry, number: &str) -> bool {
        self.kept_for(e)
            .is_some_and(|k| k.close.iter().any(|n| n == number))
    }

    /// A try is not allowed yet (the waiting time after the last one).
    fn waiting(&self, e: &ListEntry) -> bool {
        e.next_attempt_at
            .is_some_and(|next| next.with_timezone(&chrono::Utc) > crate::clock::now())
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
    kept: Option<Kept>,
    status: StatusCode,
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
        .chain(&list.daytime)
        .filter_map(|e| e.phone.clone())
        .collect();
    let listed: std::collections::HashSet<&str> = list
        .entries
        .iter()
        .chain(&list.daytime)
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
    let matters = state
        .rules
        .matters
        .iter()
        .map(|m| (m.code.clone(), t.t(&m.zh, &m.en).to_owned()))
        .collect();
    Ok(page(
        status,
        &CallbacksPage {
            t,
            user,
            nav: "callbacks",
            back: format!("/staff/callbacks?date={date}"),
            list,
            notice: notice.map(str::to_owned),
            outcomes: Outcome::ALL,
            matters,
            earlier,
            kept,
            may_override: user.may(ActionKind::Oversee),
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    user: StaffUser,
    Query(q): Query<PageQuery>,
) -> Response {
    page_handler(&state, &user, q, None, StatusCode::OK)
        .await
        .unwrap_or_else(|r| r)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EntryForm {
    csrf: String,
    date: String,
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

/// One attempt, from the entry's form (read as pairs: the cases to close are repeated).
pub async fn attempt(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or(String::new(), |(_, v)| v.trim().to_owned())
    };
    if let Err(r) = user
        .check_csrf(&field("csrf"))
        .and(user.require(ActionKind::WorkCallbacks))
    {
        return r;
    }
    let date = field("date");
    let mut kept = Kept {
        entry_id: id,
        outcome: field("outcome"),
        answer: field("answer"),
        matter: field("matter"),
        summary: field("summary"),
        note: field("note"),
        override_reason: field("override_reason"),
        close: pairs
            .iter()
            .filter(|(k, _)| k == "close")
            .map(|(_, v)| v.trim().to_owned())
            .collect(),
        ..Default::default()
    };
    let t = user.tr();
    let Ok(outcome) = kept.outcome.parse::<Outcome>() else {
        kept.field = "outcome".into();
        kept.message = t.t("请选择回访结果", "Choose how the call went").to_owned();
        return again(&state, &user, &date, kept).await;
    };
    let text = |v: &str| {
        Some(v)
            .filter(|v| !v.is_empty())
            .and_then(|v| crate::domain::citizen::plain_text(v, 2000).ok())
    };
    let input = AttemptInput {
        outcome,
        note: text(&kept.note),
        details: CallDetails {
            answer: text(&kept.answer),
            matter: text(&kept.matter),
            summary: text(&kept.summary),
            also_close: kept.close.clone(),
        },
        override_reason: text(&kept.override_reason),
    };
    match state
        .callbacks
        .attempt(id, &user.actor(), input, crate::clock::now())
        .await
    {
        Ok(_) => back_to(&date, id, None),
        Err(e) => {
            let (field, message) = match &e {
                CallbackError::Missing(f) => (
                    *f,
                    match *f {
                        "answer" => t.t("请填写向来电人答复的内容", "Say what the caller was told"),
                        "matter" => t.t("请选择来电人反映的事项类别", "Choose the caller's matter"),
                        _ => t.t("请简要写明来电人的诉求", "Summarise what the caller wants"),
                    }
                    .to_owned(),
                ),
                CallbackError::UnknownMatter(_) => (
                    "matter",
                    t.t("请选择列表中的事项类别", "Choose a matter from the list")
                        .to_owned(),
                ),
                CallbackError::TooSoon(next) => (
                    "outcome",
                    match t.en {
                        true => format!(
                            "Too soon to call again: the next try is allowed from {}",
                            next.format("%H:%M")
                        ),
                        false => format!(
                            "两次回拨须间隔一段时间，{} 以后才能再拨",
                            next.format("%H:%M")
                        ),
                    },
                ),
                CallbackError::OverrideNotAllowed => (
                    "override_reason",
                    t.t(
                        "只有值班领导可以提前重拨",
                        "Only a duty leader may override the waiting time",
                    )
                    .to_owned(),
                ),
                other => match notice_for(other) {
                    Some(n) => return back_to(&date, id, Some(n)),
                    None => return ApiError::from(e).into_response(),
                },
            };
            kept.field = field.into();
            kept.message = message;
            again(&state, &user, &date, kept).await
        }
    }
}

/// The list again, with the entry's form as it was typed and its error beside the field.
async fn again(state: &AppState, user: &StaffUser, date: &str, kept: Kept) -> Response {
    let q = PageQuery {
        date: date.to_owned(),
        ..Default::default()
    };
    page_handler(state, user, q, Some(kept), StatusCode::UNPROCESSABLE_ENTITY)
        .await
        .unwrap_or_else(|r| r)
}
