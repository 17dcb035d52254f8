//! Tracking (`/track`): a visitor follows their case by its number and tracking code, sees the replies staff published and nothing else, and rates
//! the case once it is finished.

use std::sync::Arc;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::guard::{PublicSite, TRACK_SCOPE};
use crate::domain::{Case, CaseNumber, Status};
use crate::web::error::ApiError;
use crate::web::html::{page, Tr};

use super::pages::{refused, unreadable_form, ErrorLink};

pub struct StatusView {
    pub case_number: String,
    pub matter: String,
    pub status: String,
    pub received: String,
    pub deadline: String,
    pub replies: Vec<(String, String)>,
    /// The rating given, in words.
    pub rating: Option<String>,
    /// Finished and not rated: the rating form is shown (it posts the code back).
    pub can_rate: bool,
    pub code: String,
    pub levels: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "site/track.html", config = "src/templates/askama.toml")]
struct TrackPage {
    t: Tr,
    has_errors: bool,
    switch_path: &'static str,
    errors: Vec<ErrorLink>,
    field_errors: Vec<(&'static str, String)>,
    case: String,
    code: String,
    help_phone: String,
    status: Option<StatusView>,
}

impl TrackPage {
    fn field_error(&self, field: &str) -> Option<&str> {
        self.field_errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// Wrong codes counted per case number, from every address together.
const CASE_SCOPE: &str = "website_track_case";

// ---- tracking -----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrackFields {
    case: String,
    /// The tracking code (`secret` in forms served before the field was renamed).
    #[serde(alias = "secret")]
    code: String,
    lang: String,
}

/// The tracking form. Links carry the case and code in the fragment (`/track#case=…&code=…`),
/// which browsers never send, so no log on the way records them; the page's script fills
/// the form from it and sends it. A link of the older kind (`?case=…&code=…`) fills the
/// form too, but looks nothing up until the visitor sends it.
pub(super) async fn track_page(
    State(site): State<Arc<PublicSite>>,
    headers: HeaderMap,
    Query(q): Query<TrackFields>,
) -> Response {
    let t = Tr::pick(Some(&q.lang), &headers);
    page(
        StatusCode::OK,
        &track_form_page(&site, t, &q.case, &q.code, Vec::new()),
    )
}

pub(super) async fn track_form(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TrackFields>, FormRejection>,
) -> Response {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => return unreadable_form(Tr::pick(None, &headers), rejection),
    };
    let t = Tr::pick(Some(&fields.lang), &headers);
    match prove(&site, peer, &headers, t, &fields.case, &fields.code).await {
        Ok(case) => status_page(&site, t, &case, &fields.code).await,
        Err(response) => response,
    }
}

fn track_form_page(
    site: &PublicSite,
    t: Tr,
    case: &str,
    code: &str,
    errors: Vec<(&'static str, String)>,
) -> TrackPage {
    TrackPage {
        t,
        has_errors: !errors.is_empty(),
        switch_path: "/track",
        errors: errors
            .iter()
            .map(|(f, m)| ErrorLink {
                anchor: (*f).to_owned(),
                message: m.clone(),
            })
            .collect(),
        field_errors: errors,
        case: case.to_owned(),
        code: code.to_owned(),
        help_phone: site.settings.help_phone.clone(),
        status: None,
    }
}

fn too_many(t: Tr, message: &str) -> Response {
    let mut response = refused(
        t,
        StatusCode::TOO_MANY_REQUESTS,
        t.t("查询次数太多", "Too many look-ups"),
        message,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    response
}

/// The case the visitor proved theirs by its number and tracking code, or the page that
/// answers them. Each try counts against the visitor's address; a wrong code also counts
/// against the case number, so that many addresses together cannot guess at one case.
async fn prove(
    site: &PublicSite,
    peer: SocketAddr,
    headers: &HeaderMap,
    t: Tr,
    case: &str,
    code: &str,
) -> Result<Case, Response> {
    let mut errors = Vec::new();
    if case.trim().is_empty() {
        errors.push((
            "case",
            t.t("请填写案件编号", "Enter the case number").to_owned(),
        ));
    }
    if code.trim().is_empty() {
        errors.push((
            "code",
            t.t("请填写查询码", "Enter the tracking code").to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &track_form_page(site, t, case, code, errors),
        ));
    }
    let ip = site.client_ip(peer, headers);
    match site.allow(TRACK_SCOPE, ip, &site.track_limits()).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(too_many(
                t,
                t.t(
                    "从您这里查询的次数太多了，请一小时后再试。",
                    "Too many look-ups from your connection. Please try again in an hour.",
                ),
            ))
        }
        Err(e) => return Err(e.into_response()),
    }
    let now = crate::clock::now();
    // An unreadable number matches no case and is counted against the address alone.
    let case_key = case.parse::<CaseNumber>().ok().map(|n| n.to_string());
    if let Some(key) = &case_key {
        let limits = [(
            chrono::Duration::hours(1),
            site.settings.track_failures_per_case_per_hour,
        )];
        match site.desk.limit_hit(CASE_SCOPE, key, &limits, now).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(too_many(
                    t,
                    t.t(
                        "这个案件编号近一小时内查询码输错的次数太多，为保护留言人的信息，暂停查询一小时。如急需了解进度，请拨打热线。",
                        "Wrong tracking codes have been entered for this case number too many times in the last hour. To protect the person who wrote, look-ups of it are paused for an hour. If you need to know now, please call us.",
                    ),
                ))
            }
            Err(e) => return Err(ApiError::from(e).into_response()),
        }
    }
    match site.desk.case_if_matches(case, code).await {
        Ok(Some(found)) => {
            if let Some(key) = &case_key {
                // A right code is no failure: its count is taken back.
                if let Err(e) = site.desk.limit_forgive(CASE_SCOPE, key, now).await {
                    return Err(ApiError::from(e).into_response());
                }
            }
            Ok(found)
        }
        Ok(None) => {
            // The same words whether the case does not exist or the code is wrong.
            let message = t
                .t(
                    "没有找到与您填写的案件编号和查询码相符的案件，请核对后再试",
                    "No case matches that case number and tracking code. Please check them and try again",
                )
                .to_owned();
            Err(page(
                StatusCode::NOT_FOUND,
                &track_form_page(site, t, case, code, vec![("case", message)]),
            ))
        }
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

async fn status_page(site: &PublicSite, t: Tr, case: &Case, code: &str) -> Response {
    let s = match site.desk.status_of(case, crate::clock::now()).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let tz = site.desk.timezone();
    let matter = site
        .desk
        .rules()
        .matter(&s.matter)
        .map_or(s.matter.clone(), |m| t.t(&m.zh, &m.en).to_owned());
    let view = StatusView {
        case_number: s.case_number.to_string(),
        matter,
        status: public_status(s.status, t).to_owned(),
        received: t.time(s.received_at, tz),
        deadline: t.time(s.deadline, tz),
        replies: s
            .replies
            .into_iter()
            .map(|(at, text)| (t.time(at, tz), text))
            .collect(),
        rating: s.rating.map(|r| t.t(r.label_zh(), r.label_en()).to_owned()),
        can_rate: s.can_rate,
        code: code.to_owned(),
        levels: crate::domain::Rating::ALL
            .iter()
            .map(|r| (r.as_str(), t.t(r.label_zh(), r.label_en())))
            .collect(),
    };
    let mut page_data = track_form_page(site, t, "", "", Vec::new());
    page_data.status = Some(view);
    page(StatusCode::OK, &page_data)
}

/// The status in the citizen's words.
fn public_status(status: Status, t: Tr) -> &'static str {
    match status {
        Status::New => t.t("已收到，等待受理", "Received, waiting to be taken up"),
        Status::InProgress => t.t("正在办理", "Being handled"),
        Status::Resolved => t.t("已办结", "Done"),
        Status::Closed => t.t("已办结", "Done"),
        Status::Refused => t.t(
            "已答复：依法不能办理",
            "Answered: cannot be done under the law",
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RateFields {
    case: String,
    #[serde(alias = "secret")]
    code: String,
    level: String,
    comment: String,
    lang: String,
}

/// The citizen rates a finished case from the tracking page (with the same proof as tracking).
pub(super) async fn rate(
    State(site): State<Arc<PublicSite>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<RateFields>, FormRejection>,
) -> Response {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => return unreadable_form(Tr::pick(None, &headers), rejection),
    };
    let t = Tr::pick(Some(&fields.lang), &headers);
    let case = match prove(&site, peer, &headers, t, &fields.case, &fields.code).await {
        Ok(case) => case,
        Err(response) => return response,
    };
    if let Ok(level) = fields.level.parse::<crate::domain::Rating>() {
        let comment = Some(fields.comment.trim().to_owned())
            .filter(|c| !c.is_empty())
            .and_then(|c| crate::domain::citizen::plain_text(&c, 500).ok());
        match site
            .desk
            .rate(&case, level, comment, crate::clock::now())
            .await
        {
            Ok(()) | Err(crate::ratings::RatingError::AlreadyRated) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    // Rated, or no level chosen: the status page again (with the rating, or the form).
    let case = match site.desk.case_if_matches(&fields.case, &fields.code).await {
        Ok(Some(case)) => case,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    status_page(&site, t, &case, &fields.code).await
}
