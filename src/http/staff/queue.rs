//! The shared queue: every channel in one list, filtered, searched, sorted by deadline or
//! arrival, refreshed in place every few seconds without losing the filters.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::domain::{ActionKind, Case, Cause, Channel, Status, Tier};
use crate::http::cases::{build_query, encode_cursor};
use crate::http::AppState;
use crate::web::html::{page, Tr};
use crate::web::session::StaffUser;
use crate::web::views::ListCasesParams;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct QueueParams {
    pub status: String,
    pub channel: String,
    pub cause: String,
    pub tier: String,
    pub overdue: String,
    pub q: String,
    pub sort: String,
    pub cursor: String,
    pub mine: String,
    pub today: String,
    pub off_hours: String,
    /// `1`: only the rows, for the refresh.
    pub partial: String,
    /// Posted searches carry the session's CSRF token.
    pub csrf: String,
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub struct Row {
    pub number: String,
    pub channel: Channel,
    pub status: Status,
    pub cause: Cause,
    pub tier: Tier,
    pub owner: String,
    pub name: String,
    pub received: String,
    pub deadline: String,
    pub overdue: bool,
    /// Open and due within the reminder window.
    pub due_soon: bool,
    pub urgent: bool,
    pub off_hours: bool,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "staff/queue.html", config = "src/templates/askama.toml")]
struct QueuePage<'a> {
    t: Tr,
    user: &'a StaffUser,
    nav: &'static str,
    back: String,
    p: QueueParams,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    statuses: &'static [Status],
    channels: &'static [Channel],
    causes: &'static [Cause],
    tiers: &'static [Tier],
}

#[derive(Template)]
#[template(path = "staff/queue_rows.html", config = "src/templates/askama.toml")]
struct QueueRows<'a> {
    t: Tr,
    rows: &'a [Row],
}

fn row(
    c: &Case,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
    soon: chrono::Duration,
) -> Row {
    let summary: String = c.description.chars().take(60).collect();
    Row {
        number: c.number.to_string(),
        channel: c.channel,
        status: c.status,
        cause: c.cause,
        tier: c.tier,
        owner: c.owner.clone().unwrap_or_default(),
        name: c.citizen.name.clone().unwrap_or_default(),
        received: crate::web::html::when(c.received_at, tz),
        deadline: crate::web::html::when(c.deadline, tz),
        overdue: c.is_overdue(now),
        due_soon: c.status.is_open() && c.deadline > now && c.deadline - now <= soon,
        urgent: c.urgent,
        off_hours: c.off_hours,
        summary,
    }
}

/// The queue by the filters in the address. Search words are not among them: they can be a
/// phone, ID or name, which has no place in an address that proxies and browsers record.
pub async fn show(
    State(state): State<AppState>,
    user: StaffUser,
    Query(mut p): Query<QueueParams>,
) -> Response {
    p.q.clear();
    render(state, user, p).await
}

/// The queue searched: the filters and the search words posted (with the CSRF token), so
/// the words stay out of addresses. Paging and the refresh post them again.
pub async fn search(
    State(state): State<AppState>,
    user: StaffUser,
    Form(p): Form<QueueParams>,
) -> Response {
    if let Err(r) = user.check_csrf(&p.csrf) {
        return r;
    }
    render(state, user, p).await
}

async fn render(state: AppState, user: StaffUser, p: QueueParams) -> Response {
    if let Err(r) = user.require(ActionKind::Read) {
        return r;
    }
    let t = user.tr();
    let now = crate::clock::now();
    let calendar = state.calendar.current();
    let tz = calendar.timezone();
    let today = calendar.local_date(now).to_string();
    let params = ListCasesParams {
        status: opt(&p.status),
        channel: opt(&p.channel),
        cause: opt(&p.cause),
        tier: opt(&p.tier),
        overdue: opt(&p.overdue),
        received_from: (p.today == "1").then(|| today.clone()),
        received_to: None,
        q: opt(&p.q),
        sort: opt(&p.sort),
        limit: Some("50".into()),
        cursor: opt(&p.cursor),
        owner: (p.mine == "1").then(|| user.actor().name),
        off_hours: opt(&p.off_hours),
    };
    let result = async {
        let query = build_query(&params, &state, now)?;
        let found = state.store.list_cases(&query).await?;
        Ok::<_, crate::web::error::ApiError>((query.sort, found))
    };
    let (rows, next, error, status) = match result.await {
        Ok((sort, found)) => (
            found
                .cases
                .iter()
                .map(|c| {
                    row(
                        c,
                        tz,
                        now,
                        chrono::Duration::minutes(state.oversight.remind_before_minutes),
                    )
                })
                .collect(),
            found.next.map(|c| encode_cursor(sort, &c)),
            None,
            StatusCode::OK,
        ),
        Err(e) => (Vec::new(), None, Some(e.message(t.en)), e.status()),
    };
    if p.partial == "1" {
        return page(status, &QueueRows { t, rows: &rows });
    }
    page(
        status,
        &QueuePage {
            t,
            user: &user,
            nav: "queue",
            back: "/staff/queue".into(),
            p,
            rows,
            next,
            error,
            statuses: Status::ALL,
            channels: Channel::ALL,
            causes: Cause::ALL,
            tiers: Tier::ALL,
        },
    )
    .into_response()
}
