//! Call events pushed by a PBX (`POST /api/v1/cti/{token}`, the generic CTI push API),
//! the live calls for operators (`GET /api/v1/calls/active`), and the operators' screen
//! pop (`/staff/calls/stream` as server-sent events, `/staff/calls/live` for polling).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use serde::Serialize;

use super::super::cti::LiveCall;
use super::super::Hotline;
use crate::auth::hash_token;
use crate::domain::call::State as CallState;
use crate::domain::phone::for_staff;
use crate::domain::ActionKind;
use crate::web::error::{ApiError, Text};
use crate::web::extract::Staff;
use crate::web::html::{page, when, Tr};
use crate::web::session::{session_of, StaffUser};
use crate::web::views::ErrorBody;
use crate::web::Auth;

/// Who may push call events, and how fast: tokens looked up at most every few seconds, and
/// a bucket of events per token.
pub struct CtiGate {
    per_second: f64,
    burst: f64,
    /// Tokens found, by hash (a wrong token is never remembered: it costs its sender).
    tokens: Mutex<HashMap<String, (i64, Instant)>>,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
    /// Look-ups of unknown tokens, per address: a guesser is answered 404 without one.
    misses: Mutex<HashMap<std::net::IpAddr, (f64, Instant)>>,
}

impl CtiGate {
    /// How long a looked-up token (or its absence) is believed.
    const REMEMBER: Duration = Duration::from_secs(5);

    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            tokens: Mutex::default(),
            buckets: Mutex::default(),
            misses: Mutex::default(),
        }
    }

    /// The token's id if it may push call events. An address that keeps naming unknown
    /// tokens (ten, then one a second) is told 404 without a look-up.
    async fn token(
        &self,
        hotline: &Hotline,
        token: &str,
        from: std::net::IpAddr,
    ) -> Result<Option<i64>, ApiError> {
        let hash = hash_token(token);
        if let Some((id, at)) = self.tokens.lock().expect("cti tokens").get(&hash) {
            if at.elapsed() < Self::REMEMBER {
                return Ok(Some(*id));
            }
        }
        // Only an address with wrong tokens to its name waits (valid ones cost nothing).
        if !take(&self.misses, from, 10.0, 1.0, false) {
            return Ok(None);
        }
        let record = hotline
            .store
            .token_by_hash(&hash, crate::clock::now())
            .await?;
        let id = record
            .filter(|r| crate::domain::action::permitted(r.role, ActionKind::PushCallEvents))
            .map(|r| r.id);
        match id {
            Some(id) => {
                let mut tokens = self.tokens.lock().expect("cti tokens");
                if tokens.len() > 1000 {
                    tokens.retain(|_, (_, at)| at.elapsed() < Self::REMEMBER);
                }
                tokens.insert(hash, (id, Instant::now()));
            }
            None => {
                take(&self.misses, from, 10.0, 1.0, true);
                tracing::info!("a call event named an unknown token");
            }
        }
        Ok(id)
    }

    /// Takes one event from the token's bucket; false when it is empty.
    fn admit(&self, token_id: i64) -> bool {
        take(&self.buckets, token_id, self.burst, self.per_second, true)
    }
}

/// A token bucket per key: takes one (`spend`), or only looks whether one is left; false
/// when it is empty. The map is emptied of full buckets when it grows large.
fn take<K: std::hash::Hash + Eq>(
    buckets: &Mutex<HashMap<K, (f64, Instant)>>,
    key: K,
    burst: f64,
    per_second: f64,
    spend: bool,
) -> bool {
    let mut buckets = buckets.lock().expect("cti buckets");
    if buckets.len() > 10_000 {
        buckets
            .retain(|_, (level, last)| *level + last.elapsed().as_secs_f64() * per_second < burst);
    }
    let now = Instant::now();
    let (level, last) = buckets.entry(key).or_insert((burst, now));
    *level = (*level + last.elapsed().as_secs_f64() * per_second).min(burst);
    *last = now;
    if !spend {
        return *level >= 1.0;
    }
    if *level >= 1.0 {
        *level -= 1.0;
        true
    } else {
        false
    }
}

/// Takes a call event from a PBX: `newCall`, `answer` or `hangup`, as JSON or
/// form-encoded, authenticated by the `pbx` token in the path. Answered with `{}`.
#[utoipa::path(
    post, path = "/api/v1/cti/{token}", tag = "hotline",
    params(("token" = String, Path, description = "A pbx token (youmen token create --role pbx)")),
    request_body(content = String, description = "event, from, to, direction, callId, user[], queue, answeringNumber, cause (JSON or form-encoded)"),
    responses(
        (status = 200, description = "Taken: `{}`"),
        (status = 404, description = "No such endpoint (a wrong or revoked token)", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
pub async fn push_event(
    State(hotline): State<Hotline>,
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from = crate::web::client::client_ip(peer, &headers, auth.trust_forwarded_for);
    let Some(token_id) = hotline.cti.token(&hotline, token.trim(), from).await? else {
        return Err(crate::web::error::no_route().await);
    };
    if !hotline.cti.admit(token_id) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            Text::new(
                "呼叫事件过于频繁，请稍后重试",
                "Too many call events; try again shortly",
            ),
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let raw = match json {
        true => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| super::super::cti::RawEvent::from_json(&v))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    Text::new("请求体不是 JSON 对象", "The body is not a JSON object"),
                )
            })?,
        false => super::super::cti::RawEvent::from_form(&body),
    };
    let now = crate::clock::now();
    let (call_id, event) = hotline
        .calls
        .read(&raw, now)
        .map_err(|u| ApiError::invalid(u.field, "invalid_event", Text::new(u.zh, u.en)))?;
    let kind = event.kind;
    let recorded = hotline
        .calls
        .record(&format!("token{token_id}"), &call_id, event)
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(
        call = recorded.call.id,
        event = ?kind,
        state = recorded.call.call.state.as_str(),
        repeat = !recorded.changed,
        missed_call = recorded.missed_call,
        "call event"
    );
    Ok(Json(serde_json::json!({})).into_response())
}

/// A live call as the API gives it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActiveCallView {
    pub id: i64,
    /// ringing, answered, voicemail
    pub state: String,
    /// E.164; null when anonymous or not a number.
    pub caller: Option<String>,
    /// The way staff read it (`139 0415 1234`, `0415-2123456`).
    pub caller_display: Option<String>,
    pub anonymous: bool,
    /// complaint_hotline, business_hotline; null when the number called is no hotline.
    pub line: Option<String>,
    pub ringing_at: Vec<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub answered_by: Option<String>,
    pub earlier_cases: Vec<EarlierCaseView>,
    pub open_callbacks: Vec<OpenCallbackView>,
    /// The caller's last voicemail, to play at `/api/v1/recordings/{id}`.
    pub last_recording_id: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EarlierCaseView {
    pub number: String,
    pub status: String,
    pub deadline_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenCallbackView {
    pub entry_id: i64,
    pub list_date: chrono::NaiveDate,
    pub kind: String,
    pub deadline_at: chrono::DateTime<chrono::Utc>,
}

fn view(live: &LiveCall) -> ActiveCallView {
    let c = &live.call.call;
    ActiveCallView {
        id: live.call.id,
        state: c.state.as_str().to_owned(),
        caller: c.phone.clone(),
        caller_display: c.phone.as_deref().map(for_staff),
        anonymous: c.anonymous,
        line: c.channel.map(|ch| ch.as_str().to_owned()),
        ringing_at: c.users.clone(),
        started_at: c.started_at,
        answered_at: c.answered_at,
        answered_by: c.answered_by.clone(),
        earlier_cases: live
            .earlier
            .iter()
            .map(|e| EarlierCaseView {
                number: e.number.to_string(),
                status: e.status.as_str().to_owned(),
                deadline_at: Some(e.deadline),
            })
            .collect(),
        open_callbacks: live
            .entries
            .iter()
            .map(|e| OpenCallbackView {
                entry_id: e.id,
                list_date: e.list_date,
                kind: e.kind.clone(),
                deadline_at: e.deadline_at,
            })
            .collect(),
        last_recording_id: live.last_recording.as_ref().map(|r| r.id),
    }
}

/// The calls ringing or in progress, each with the caller's earlier cases and open
/// callback entries.
#[utoipa::path(
    get, path = "/api/v1/calls/active", tag = "hotline",
    responses((status = 200, body = [ActiveCallView]), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn active_calls(
    State(hotline): State<Hotline>,
    staff: Staff,
) -> Result<Json<Vec<ActiveCallView>>, ApiError> {
    staff.require(ActionKind::LogCall)?;
    let live = hotline.calls.live(None).await?;
    Ok(Json(live.iter().map(view).collect()))
}

// ---- the screen pop ------------------------------------------------------------------

pub struct Banner {
    pub id: i64,
    pub state: &'static str,
    pub ringing: bool,
    pub number: String,
    pub anonymous: bool,
    pub line: &'static str,
    pub line_label: String,
    pub started: String,
    pub answered_by: String,
    pub earlier: Vec<(String, String, String)>,
    pub entries: Vec<(String, String)>,
    pub recording: Option<(i64, String, i64)>,
}

#[derive(Template)]
#[template(path = "staff/call_banner.html", config = "src/templates/askama.toml")]
pub struct Banners {
    pub t: Tr,
    pub banners: Vec<Banner>,
}

/// The names a PBX may ring this user by.
async fn names_of(hotline: &Hotline, user: &StaffUser) -> Vec<String> {
    let u = &user.session.user;
    let mut names = vec![u.username.clone(), u.display_name.clone()];
    if let Ok(Some(ext)) = hotline.store.extension_of(u.id).await {
        names.push(ext);
    }
    names
}

async fn banners_for(
    hotline: &Hotline,
    user: &StaffUser,
    names: &[String],
) -> Result<Banners, ApiError> {
    let t = user.tr();
    let tz = hotline.calendar.current().timezone();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let live = hotline
        .calls
        .live(Some((user.session.user.id, &names)))
        .await?;
    let banners = live
        .into_iter()
        .map(|l| {
            let c = &l.call.call;
            let (line, line_label) = match c.channel {
                Some(crate::domain::Channel::ComplaintHotline) => (
                    "complaint",
                    t.t("投诉热线 3105883", "Complaint line 3105883").to_owned(),
                ),
                Some(crate::domain::Channel::BusinessHotline) => (
                    "business",
                    t.t("业务热线 6912333", "Business line 6912333").to_owned(),
                ),
                _ => ("", t.t("其他号码", "Another number").to_owned()),
            };
            Banner {
                id: l.call.id,
                state: c.state.as_str(),
                ringing: c.state == CallState::Ringing,
                number: c.phone.as_deref().map(for_staff).unwrap_or_default(),
                anonymous: c.anonymous || c.phone.is_none(),
                line,
                line_label,
                started: c
                    .started_at
                    .with_timezone(&tz)
                    .format("%H:%M:%S")
                    .to_string(),
                answered_by: c.answered_by.clone().unwrap_or_default(),
                earlier: l
                    .earlier
                    .iter()
                    .map(|e| {
                        (
                            e.number.to_string(),
                            if t.en {
                                e.status.label_en()
                            } else {
                                e.status.label_zh()
                            }
                            .to_owned(),
                            when(e.deadline, tz),
                        )
                    })
                    .collect(),
                entries: l
                    .entries
                    .iter()
                    .map(|e| {
                        (
                            e.list_date.format("%Y-%m-%d").to_string(),
                            when(e.deadline_at, tz),
                        )
                    })
                    .collect(),
                recording: l
                    .last_recording
                    .as_ref()
                    .map(|r| (r.id, when(r.received_at, tz), (r.duration_ms + 999) / 1000)),
            }
        })
        .collect();
    Ok(Banners { t, banners })
}

/// The banners for the call page as it is first served.
pub async fn banners_html(hotline: &Hotline, user: &StaffUser) -> String {
    let names = names_of(hotline, user).await;
    match banners_for(hotline, user, &names).await {
        Ok(b) => b.render().unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The banners of the calls ringing at this operator, as HTML (the polling fallback).
pub async fn live_banners(State(hotline): State<Hotline>, user: StaffUser) -> Response {
    if let Err(r) = user.require(ActionKind::LogCall) {
        return r;
    }
    let names = names_of(&hotline, &user).await;
    match banners_for(&hotline, &user, &names).await {
        Ok(b) => page(StatusCode::OK, &b),
        Err(e) => e.into_response(),
    }
}

/// The same banners pushed as server-sent events (`event: calls`, the HTML as data)
/// whenever a call changes; at least every few seconds the list is read again, so a
/// missed wake-up costs a moment, not the call. The stream ends when the session does (a
/// sign-out, an expiry, a disabled account or a changed role) and when the service stops.
pub async fn banner_stream(
    State(hotline): State<Hotline>,
    State(auth): State<Auth>,
    headers: HeaderMap,
    user: StaffUser,
) -> Response {
    if let Err(r) = user.require(ActionKind::LogCall) {
        return r;
    }
    let names = names_of(&hotline, &user).await;
    let changes = hotline.calls.changes();
    let watcher = Watcher {
        hotline,
        auth,
        headers,
        user,
        names,
        changes,
        last: None,
        first: true,
    };
    Sse::new(banner_events(watcher))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// One operator's stream of banners.
struct Watcher {
    hotline: Hotline,
    auth: Auth,
    headers: HeaderMap,
    user: StaffUser,
    names: Vec<String>,
    changes: tokio::sync::watch::Receiver<u64>,
    /// The banners last sent.
    last: Option<String>,
    first: bool,
}

impl Watcher {
    /// Waits for a change (or a few seconds); false when the stream should end.
    async fn wait(&mut self) -> bool {
        let stopping = self.hotline.calls.stopping().clone();
        tokio::select! {
            _ = stopping.cancelled() => return false,
            woken = tokio::time::timeout(Duration::from_secs(5), self.changes.changed()) => {
                if let Ok(Err(_)) = woken {
                    // No more changes will come (the service is going): read every 5 s.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
        // Still signed in, and still allowed?
        match session_of(&self.auth, &self.headers).await {
            Ok(Some(session)) if session.user.id == self.user.session.user.id => {
                self.user = StaffUser { session };
                self.user.may(ActionKind::LogCall)
            }
            Ok(_) => false,
            // The database is briefly away: try again on the next round.
            Err(_) => true,
        }
    }
}

fn banner_events(watcher: Watcher) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(watcher, |mut w| async move {
        loop {
            if !w.first && !w.wait().await {
                return None;
            }
            w.first = false;
            let html = match banners_for(&w.hotline, &w.user, &w.names).await {
                Ok(b) => b.render().unwrap_or_default(),
                Err(_) => continue,
            };
            if w.last.as_deref() == Some(html.as_str()) {
                // Nothing new: a comment keeps the connection alive.
                return Some((Ok(Event::default().comment("")), w));
            }
            let event = Event::default().event("calls").data(html.clone());
            w.last = Some(html);
            return Some((Ok(event), w));
        }
    })
}
